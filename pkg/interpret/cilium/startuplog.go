package cilium

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/go-logfmt/logfmt"
)

// StartupLog is what a Cilium agent's startup log says about its
// configuration: every option it registered ("  --key='value'" lines,
// printed at start by every release from 1.12 to 1.20: LogRegisteredOptions,
// LogRegisteredSlogOptions from 1.18), and from 1.18 the KPR settings it
// settled on ("kube-proxy replacement starting with the following config"
// kprConfiguration="{KubeProxyReplacement:true EnableNodePort:true ...}").
// docs/agent-sources.md has the sources per release.
type StartupLog struct {
	// Options are the registered options as configured (not effective).
	Options map[string]string
	// KPRConfig is kprConfiguration's fields; nil when the line is absent
	// (releases before 1.18, or a log cut before it).
	KPRConfig map[string]string
	// Lines is how many lines were read.
	Lines int
}

// ParseStartupLog reads an agent's log as `kubectl logs` prints it. Both
// of the agent's line formats are logfmt (logrus text before 1.18, slog
// text from 1.18), so go-logfmt, a maintained reader of exactly that
// format, decodes each line; the option dump and the kprConfiguration
// value are kpr's to split. Lines that are not logfmt (the flag-deprecation
// warnings cobra prints first) are skipped.
func ParseStartupLog(r io.Reader) (StartupLog, error) {
	out := StartupLog{Options: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		out.Lines++
		line := sc.Bytes()
		if !bytes.Contains(line, []byte("msg=")) {
			continue
		}
		var msg, kpr string
		d := logfmt.NewDecoder(bytes.NewReader(line))
		for d.ScanRecord() {
			for d.ScanKeyval() {
				switch string(d.Key()) {
				case "msg":
					msg = string(d.Value())
				case "kprConfiguration":
					kpr = string(d.Value())
				}
			}
		}
		if d.Err() != nil {
			continue
		}
		if k, v, ok := registeredOption(msg); ok {
			out.Options[k] = v
		}
		if kpr != "" {
			out.KPRConfig = structFields(kpr)
		}
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("reading the agent's log: %w", err)
	}
	return out, nil
}

// registeredOption splits "  --key='value'".
func registeredOption(msg string) (string, string, bool) {
	rest, ok := strings.CutPrefix(strings.TrimLeft(msg, " "), "--")
	if !ok || !strings.HasPrefix(msg, " ") {
		return "", "", false
	}
	k, v, ok := strings.Cut(rest, "='")
	if !ok || !strings.HasSuffix(v, "'") || k == "" || strings.ContainsAny(k, " \t") {
		return "", "", false
	}
	return k, strings.TrimSuffix(v, "'"), true
}

// structFields splits Go's %+v of a flat struct, "{A:true B:false}".
func structFields(s string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(strings.Trim(s, "{}")) {
		if k, v, ok := strings.Cut(f, ":"); ok {
			out[k] = v
		}
	}
	return out
}

// KPRFromLog is the KPR mode a startup log shows: the kprConfiguration
// line's KubeProxyReplacement when there is one (what the agent settled
// on), else the registered option (what it was configured with); "" when
// the log shows neither.
func (l StartupLog) KPRFromLog() (value, from string) {
	if v, ok := l.KPRConfig["KubeProxyReplacement"]; ok {
		return v, "kprConfiguration"
	}
	if v, ok := l.Options["kube-proxy-replacement"]; ok {
		return v, "option"
	}
	return "", ""
}
