package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/collect"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// Outcomes of one probe.
const (
	OK          = "ok"
	Refused     = "refused"
	Timeout     = "timeout"
	Unreachable = "unreachable"
	Reset       = "reset"
	Error       = "error"
)

// Options tune the probes.
type Options struct {
	// HTTP makes each probe an HTTP GET (the status code is recorded);
	// otherwise a probe succeeds once the TCP connection is established.
	HTTP bool
	// Timeout bounds each probe's connect (and, with HTTP, its answer).
	Timeout time.Duration
	// Parallel bounds the probes running at once inside the pod.
	Parallel int
	// Counters runs the probes one at a time and reads the host's nat
	// rule counters around each (RunCounted).
	Counters bool
}

// DefaultTimeout is the per-probe timeout.
const DefaultTimeout = 2 * time.Second

// Result is one probe's outcome.
type Result struct {
	Target
	Outcome   string
	LatencyMs float64
	// HTTPStatus is the answer's status code (0 without an HTTP answer).
	HTTPStatus int
	// Detail is curl's error message, if any.
	Detail string
}

// Runner execs a command inside the probing node's debug pod.
type Runner interface {
	Exec(ctx context.Context, command []string) (collect.ExecResult, error)
}

// probeScript runs one curl per URL, up to $P at a time, each writing to
// its own file so that outputs never interleave, then prints them in
// order framed by "$B probe <i>". The -w format starts with a newline:
// it puts the line on its own, and a format starting with "@" (as the
// boundary does) would make curl read the format from a file. curl -v is kept for its
// "connect to ... failed: <strerror>" line: curl 7.8x and 8.x print only
// "Couldn't connect to server" for both a refused and an unreachable
// address, and the strerror text is what tells them apart. The image's
// curl is used, else the host's.
//
// With CNT=yes the probes run one at a time, and the host's nat rules with
// their counters (iptables-save -c, each backend the host has) are printed
// before every probe and after the last, framed by "$B nat <i>": dump i is
// before probe i and after probe i-1, so what kube-proxy's chains counted
// between them is that probe's connection (servedBy).
const probeScript = `B="$1"; CT="$2"; MT="$3"; P="$4"; CNT="$5"; shift 5
PATH="$PATH:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
` + findCurl + `D=$(mktemp -d 2>/dev/null) || { D=/tmp/kpr-probe.$$; mkdir -p "$D"; }
H=""
if [ "$CNT" = yes ]; then
  if [ -x /host/bin/sh ] && chroot /host /bin/sh -c true >/dev/null 2>&1; then H="chroot /host"
  elif nsenter -t 1 -m -n -- /bin/sh -c true >/dev/null 2>&1; then H="nsenter -t 1 -m -n --"; fi
fi
nat() { echo "$B nat $1"
  for s in iptables-legacy-save iptables-nft-save; do
    if $H /bin/sh -c "command -v $s" >/dev/null 2>&1; then $H $s -c 2>/dev/null; fi
  done; }
one() { $C -g -v -sS -o /dev/null --connect-timeout "$CT" --max-time "$MT" -w "\n$B w %{http_code} %{time_connect} %{time_total}\n" "$1" >"$D/$2" 2>&1; echo "$B rc $?" >>"$D/$2"; }
i=0; n=0
for u in "$@"; do
  if [ "$CNT" = yes ]; then nat "$i"; one "$u" "$i"
  else
    one "$u" "$i" &
    n=$((n+1))
    if [ "$n" -ge "$P" ]; then wait; n=0; fi
  fi
  i=$((i+1))
done
wait
[ "$CNT" = yes ] && nat "$i"
j=0
while [ "$j" -lt "$i" ]; do echo "$B probe $j"; cat "$D/$j"; j=$((j+1)); done
rm -rf "$D"
`

// findCurl sets $C to the image's curl, else the host's, else prints
// "$B nocurl" (errNoCurl) and ends the script.
const findCurl = `C=curl
if ! command -v curl >/dev/null 2>&1; then
  if [ -x /host/usr/bin/curl ]; then C="chroot /host curl"; else echo "$B nocurl"; exit 0; fi
fi
`

// errNoCurl: neither the debug image nor the host has curl.
var errNoCurl = errors.New("neither the debug image nor the host has curl: pass an --image that has it")

// Command returns the exec command probing targets.
func Command(boundary string, targets []Target, o Options) []string {
	o = o.withDefaults()
	connect := seconds(o.Timeout)
	// TCP mode only needs the connect; HTTP mode gives the answer as long
	// again as the connect.
	total := seconds(o.Timeout + time.Second)
	if o.HTTP {
		total = seconds(2 * o.Timeout)
	}
	cnt := "no"
	if o.Counters {
		cnt = "yes"
	}
	cmd := []string{"sh", "-c", probeScript, "kpr-probe", boundary, connect, total, strconv.Itoa(o.Parallel), cnt}
	for _, t := range targets {
		cmd = append(cmd, t.URL())
	}
	return cmd
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Parallel <= 0 {
		o.Parallel = 16
	}
	return o
}

// Budget is how long n probes may take in all: the batches of Parallel
// probes run one after another, each bounded by curl's --max-time, plus
// slack for the exec itself.
func (o Options) Budget(n int) time.Duration {
	o = o.withDefaults()
	if o.Counters {
		o.Parallel = 1
	}
	batches := (n + o.Parallel - 1) / o.Parallel
	perProbe := o.Timeout + time.Second
	if o.HTTP {
		perProbe = 2 * o.Timeout
	}
	return time.Duration(batches)*perProbe + 15*time.Second
}

func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// Run probes targets from the pod behind r, in one exec.
func Run(ctx context.Context, r Runner, targets []Target, o Options) ([]Result, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	boundary := fmt.Sprintf("@@kpr-probe-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(ctx, o.Budget(len(targets)))
	defer cancel()
	res, err := r.Exec(ctx, Command(boundary, targets, o))
	if err != nil {
		return nil, err
	}
	return Parse(res, boundary, targets, o.HTTP)
}

// RunCounted probes targets one at a time and returns, with the results,
// the host's nat rules with counters around them: dumps[i] was read just
// before targets[i], dumps[i+1] just after (len(targets)+1 dumps; an
// empty one when the host has no iptables-save).
func RunCounted(ctx context.Context, r Runner, targets []Target, o Options) ([]Result, []string, error) {
	if len(targets) == 0 {
		return nil, nil, nil
	}
	o.Counters = true
	boundary := fmt.Sprintf("@@kpr-probe-%d", time.Now().UnixNano())
	ctx, cancel := context.WithTimeout(ctx, o.Budget(len(targets))+time.Duration(len(targets)+1)*2*time.Second)
	defer cancel()
	res, err := r.Exec(ctx, Command(boundary, targets, o))
	if err != nil {
		return nil, nil, err
	}
	results, dumps, err := parse(res, boundary, targets, o.HTTP)
	return results, dumps, err
}

// raw is what the script printed for one probe.
type raw struct {
	seen      bool
	rc        int
	rcSeen    bool
	code      int
	tConnect  float64
	tTotal    float64
	verbose   []string
	curlError string
}

// Parse reads the script's output. Our own framing, so no library
// applies; foreign or truncated input gives "error" outcomes, never a
// panic.
func Parse(res collect.ExecResult, boundary string, targets []Target, http bool) ([]Result, error) {
	out, _, err := parse(res, boundary, targets, http)
	return out, err
}

// parse is Parse that also returns the "nat <i>" counter dumps (RunCounted).
func parse(res collect.ExecResult, boundary string, targets []Target, http bool) ([]Result, []string, error) {
	raws := make([]raw, len(targets))
	dumps := make([]strings.Builder, len(targets)+1)
	nat := -1
	sc := bufio.NewScanner(bytes.NewReader(res.Stdout))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	cur := -1
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, boundary+" "); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				continue
			}
			nat = -1
			switch f[0] {
			case "nocurl":
				return nil, nil, errNoCurl
			case "nat":
				cur = -1
				if len(f) > 1 {
					if i, err := strconv.Atoi(f[1]); err == nil && i >= 0 && i < len(dumps) {
						nat = i
					}
				}
			case "probe":
				cur = -1
				if len(f) > 1 {
					if i, err := strconv.Atoi(f[1]); err == nil && i >= 0 && i < len(raws) {
						cur = i
						raws[i].seen = true
					}
				}
			case "w":
				if cur >= 0 && len(f) >= 4 {
					raws[cur].code, _ = strconv.Atoi(f[1])
					raws[cur].tConnect, _ = strconv.ParseFloat(f[2], 64)
					raws[cur].tTotal, _ = strconv.ParseFloat(f[3], 64)
				}
			case "rc":
				if cur >= 0 && len(f) >= 2 {
					raws[cur].rc, _ = strconv.Atoi(f[1])
					raws[cur].rcSeen = true
				}
			}
			continue
		}
		if nat >= 0 {
			dumps[nat].WriteString(line)
			dumps[nat].WriteByte('\n')
			continue
		}
		if cur < 0 {
			continue
		}
		switch {
		case strings.HasPrefix(line, "curl: ("):
			raws[cur].curlError = line
		case strings.HasPrefix(line, "* ") && strings.Contains(line, "failed: "):
			raws[cur].verbose = append(raws[cur].verbose, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading probe output: %w", err)
	}
	out := make([]Result, len(targets))
	for i, t := range targets {
		out[i] = classify(t, raws[i], http)
	}
	texts := make([]string, len(dumps))
	for i := range dumps {
		texts[i] = dumps[i].String()
	}
	if len(targets) > 0 && !raws[0].seen && !raws[len(raws)-1].seen {
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d, no output", res.ExitCode)
		}
		return out, texts, fmt.Errorf("the probe script did not run: %s", textutil.FirstLine(msg))
	}
	return out, texts, nil
}

// classify maps curl's exit code and messages to an outcome. Exit codes
// are curl's (libcurl-errors(3)): 7 could not connect, 28 timed out,
// 52 empty reply, 56 receive failure.
func classify(t Target, r raw, http bool) Result {
	res := Result{Target: t}
	if http {
		res.HTTPStatus = r.code
	}
	res.Detail = strings.TrimPrefix(r.curlError, "curl: ")
	if !r.rcSeen {
		res.Outcome, res.Detail = Error, "no result from the probe script"
		return res
	}
	connected := r.tConnect > 0 || r.code != 0
	if !http && connected {
		// A TCP probe is done once connected, whatever the server says next.
		res.Outcome, res.LatencyMs, res.Detail = OK, ms(r.tConnect), ""
		return res
	}
	switch r.rc {
	case 0:
		res.Outcome, res.LatencyMs = OK, ms(r.tTotal)
	case 7:
		res.Outcome = connectFailure(r)
	case 28:
		res.Outcome = Timeout
	case 52, 56:
		res.Outcome = Reset
	default:
		res.Outcome = Error
	}
	if res.Outcome == Error && res.Detail == "" {
		res.Detail = fmt.Sprintf("curl exit code %d", r.rc)
	}
	return res
}

func connectFailure(r raw) string {
	text := strings.ToLower(strings.Join(append(r.verbose, r.curlError), " "))
	switch {
	case strings.Contains(text, "refused"):
		return Refused
	case strings.Contains(text, "no route to host"), strings.Contains(text, "unreachable"):
		return Unreachable
	case strings.Contains(text, "timed out"):
		return Timeout
	case strings.Contains(text, "reset"):
		return Reset
	}
	return Error
}

func ms(s float64) float64 {
	return float64(int64(s*1000*100+0.5)) / 100
}

// repeatScript sends N GETs, one after another (affinity is decided per
// connection, in order), to each URL, the URLs side by side, and prints
// "$B r <url#> <i> <curl exit code> <first line of the body>" per request.
// A URL whose first request gets no answer is not asked again: on a node
// whose ClusterIP hangs, N timeouts would say nothing more than one.
const repeatScript = `B="$1"; CT="$2"; MT="$3"; N="$4"; shift 4
PATH="$PATH:/usr/local/bin:/usr/bin:/bin"
` + findCurl + `D=$(mktemp -d 2>/dev/null) || { D=/tmp/kpr-repeat.$$; mkdir -p "$D"; }
t=0
for u in "$@"; do
  ( i=0
    while [ "$i" -lt "$N" ]; do
      body=$($C -g -sS --connect-timeout "$CT" --max-time "$MT" "$u" 2>/dev/null); rc=$?
      echo "$B r $t $i $rc $(printf '%s\n' "$body" | head -n 1)"
      if [ "$i" -eq 0 ] && [ "$rc" -ne 0 ]; then break; fi
      i=$((i+1))
    done >"$D/$t" ) &
  t=$((t+1))
done
wait
j=0
while [ "$j" -lt "$t" ]; do cat "$D/$j"; j=$((j+1)); done
rm -rf "$D"
`

// Answers are one URL's repeated requests: how many each answer (the
// backend's name, from /hostname) got, and how many got none.
type Answers struct {
	Requests int
	ByBody   map[string]int
	Failed   int
}

// Repeat GETs each URL n times in a row from the pod behind r, in one exec.
func Repeat(ctx context.Context, r Runner, urls []string, n int, o Options) ([]Answers, error) {
	if len(urls) == 0 || n <= 0 {
		return nil, nil
	}
	o = o.withDefaults()
	boundary := fmt.Sprintf("@@kpr-repeat-%d", time.Now().UnixNano())
	budget := time.Duration(n)*(2*o.Timeout) + 15*time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd := append([]string{"sh", "-c", repeatScript, "kpr-repeat", boundary, seconds(o.Timeout), seconds(2 * o.Timeout), strconv.Itoa(n)}, urls...)
	res, err := r.Exec(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return ParseRepeat(res, boundary, len(urls), n)
}

// ParseRepeat reads repeatScript's output; requests without a line count
// as failed.
func ParseRepeat(res collect.ExecResult, boundary string, urls, n int) ([]Answers, error) {
	out := make([]Answers, urls)
	seen := 0
	for i := range out {
		out[i] = Answers{Requests: n, ByBody: map[string]int{}}
	}
	for _, line := range strings.Split(string(res.Stdout), "\n") {
		rest, ok := strings.CutPrefix(line, boundary+" ")
		if !ok {
			continue
		}
		if rest == "nocurl" {
			return nil, errNoCurl
		}
		f := strings.SplitN(rest, " ", 5)
		if len(f) < 4 || f[0] != "r" {
			continue
		}
		t, err1 := strconv.Atoi(f[1])
		rc, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || t < 0 || t >= urls {
			continue
		}
		seen++
		body := ""
		if len(f) == 5 {
			body = strings.TrimSpace(f[4])
		}
		if rc != 0 || body == "" {
			out[t].Failed++
			continue
		}
		out[t].ByBody[body]++
	}
	if seen == 0 {
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d, no output", res.ExitCode)
		}
		return out, fmt.Errorf("the request script did not run: %s", textutil.FirstLine(msg))
	}
	for i := range out {
		got := out[i].Failed
		for _, c := range out[i].ByBody {
			got += c
		}
		out[i].Failed += n - got
	}
	return out, nil
}
