package probe

import (
	"bufio"
	"bytes"
	"context"
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
const probeScript = `B="$1"; CT="$2"; MT="$3"; P="$4"; shift 4
PATH="$PATH:/usr/local/bin:/usr/bin:/bin"
C=curl
if ! command -v curl >/dev/null 2>&1; then
  if [ -x /host/usr/bin/curl ]; then C="chroot /host curl"; else echo "$B nocurl"; exit 0; fi
fi
D=$(mktemp -d 2>/dev/null) || { D=/tmp/kpr-probe.$$; mkdir -p "$D"; }
i=0; n=0
for u in "$@"; do
  ( $C -g -v -sS -o /dev/null --connect-timeout "$CT" --max-time "$MT" -w "\n$B w %{http_code} %{time_connect} %{time_total}\n" "$u" >"$D/$i" 2>&1; echo "$B rc $?" >>"$D/$i" ) &
  i=$((i+1)); n=$((n+1))
  if [ "$n" -ge "$P" ]; then wait; n=0; fi
done
wait
j=0
while [ "$j" -lt "$i" ]; do echo "$B probe $j"; cat "$D/$j"; j=$((j+1)); done
rm -rf "$D"
`

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
	cmd := []string{"sh", "-c", probeScript, "kpr-probe", boundary, connect, total, strconv.Itoa(o.Parallel)}
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
	raws := make([]raw, len(targets))
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
			switch f[0] {
			case "nocurl":
				return nil, fmt.Errorf("neither the debug image nor the host has curl: pass an --image that has it")
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
		return nil, fmt.Errorf("reading probe output: %w", err)
	}
	out := make([]Result, len(targets))
	for i, t := range targets {
		out[i] = classify(t, raws[i], http)
	}
	if len(targets) > 0 && !raws[0].seen && !raws[len(raws)-1].seen {
		msg := strings.TrimSpace(string(res.Stderr))
		if msg == "" {
			msg = fmt.Sprintf("exit code %d, no output", res.ExitCode)
		}
		return out, fmt.Errorf("the probe script did not run: %s", textutil.FirstLine(msg))
	}
	return out, nil
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
