// Package browser opens kpr's HTML reports in a real headless Chromium, for
// tests. It drives Chromium over the DevTools protocol with chromedp (the
// maintained Go client) rather than `chromium --dump-dom`, because only the
// protocol reports what "renders without errors" means: console errors,
// uncaught exceptions and every request the page makes.
package browser

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Find returns the Chromium binary: $KPR_CHROMIUM, or chromium /
// chromium-browser / google-chrome on PATH.
func Find() (string, error) {
	if p := os.Getenv("KPR_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium found (apt-get install chromium, or set KPR_CHROMIUM)")
}

// Page is a page as Chromium rendered it.
type Page struct {
	// Text is document.body.innerText: what a reader sees.
	Text string
	// DOM is the document's outer HTML after load.
	DOM string
	// Errors are console errors, uncaught exceptions, browser log errors
	// and failed loads.
	Errors []string
	// Requests are the URLs the page asked for besides itself: a
	// self-contained report makes none.
	Requests []string
	// Screenshot is a PNG of the first screen (1400×1600), what a reader
	// sees on opening the file (when asked for).
	Screenshot []byte
}

// Open renders a local HTML file. The network is cut off (every host name
// resolves to nothing, the proxy is a closed loopback port), so a page that
// needs an external asset shows up in Requests and Errors, never as traffic.
func Open(ctx context.Context, file string, screenshot bool) (*Page, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "kpr-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	pageURL := (&url.URL{Scheme: "file", Path: abs}).String()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1600),
		chromedp.ProxyServer("127.0.0.1:9"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost"),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()

	p := &Page{}
	var mu sync.Mutex
	add := func(dst *[]string, s string) {
		mu.Lock()
		*dst = append(*dst, s)
		mu.Unlock()
	}
	chromedp.ListenTarget(bctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError || e.Type == runtime.APITypeAssert {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value))
				}
				add(&p.Errors, "console."+string(e.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			add(&p.Errors, "exception: "+e.ExceptionDetails.Error())
		case *log.EventEntryAdded:
			if e.Entry.Level == log.LevelError {
				add(&p.Errors, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if e.Request.URL != pageURL {
				add(&p.Requests, e.Request.URL)
			}
		case *network.EventLoadingFailed:
			add(&p.Errors, "load failed: "+e.ErrorText)
		}
	})
	tctx, cancelT := context.WithTimeout(bctx, 60*time.Second)
	defer cancelT()
	actions := []chromedp.Action{
		network.Enable(), log.Enable(), runtime.Enable(),
		chromedp.Navigate(pageURL),
		chromedp.WaitReady("body"),
		chromedp.Evaluate(`document.body.innerText`, &p.Text),
		chromedp.OuterHTML("html", &p.DOM),
	}
	if screenshot {
		actions = append(actions, chromedp.CaptureScreenshot(&p.Screenshot))
	}
	if err := chromedp.Run(tctx, actions...); err != nil {
		return nil, fmt.Errorf("chromium (%s) on %s: %w", bin, file, err)
	}
	// Events arrive asynchronously; give the last ones a moment.
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	return p, nil
}
