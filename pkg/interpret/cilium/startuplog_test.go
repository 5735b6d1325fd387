package cilium

import (
	"os"
	"strings"
	"testing"
)

// The startup logs captured from the lab's real agents: the registered
// option and the kprConfiguration line, per release and KPR mode.
func TestParseStartupLogCaptured(t *testing.T) {
	for _, c := range []struct {
		dir, option, kpr, nodePort, socketLB string
	}{
		// 1.18.8 settles every feature; 1.20.2 only KPR and socket-LB
		// (the features follow KPR there).
		{"testdata/v1.18.8/captured/kpr-true", "true", "true", "true", "true"},
		{"testdata/v1.18.8/captured/kpr-false", "false", "false", "false", "false"},
		{"testdata/v1.20.2/captured/kpr-true", "true", "true", "", "true"},
	} {
		f, err := os.Open(c.dir + "/agent-startup-log.txt")
		if err != nil {
			t.Fatal(err)
		}
		l, err := ParseStartupLog(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if l.Options["kube-proxy-replacement"] != c.option || l.KPRConfig["KubeProxyReplacement"] != c.kpr ||
			l.KPRConfig["EnableNodePort"] != c.nodePort || l.KPRConfig["EnableSocketLB"] != c.socketLB {
			t.Errorf("%s: option %q, kprConfiguration %v", c.dir, l.Options["kube-proxy-replacement"], l.KPRConfig)
		}
		if v, from := l.KPRFromLog(); v != c.kpr || from != "kprConfiguration" {
			t.Errorf("%s: KPRFromLog %q from %q", c.dir, v, from)
		}
		// A quoted option value keeps its quotes unescaped.
		if !strings.Contains(l.Options["config-sources"], `"kind":"config-map"`) && c.option == "true" {
			t.Errorf("%s: config-sources %q", c.dir, l.Options["config-sources"])
		}
		if len(l.Options) < 100 {
			t.Errorf("%s: only %d options read", c.dir, len(l.Options))
		}
	}
}

// Before 1.18 the lines are logrus text (docs/agent-sources.md): the same
// option dump, no kprConfiguration line; a non-logfmt line is skipped.
func TestParseStartupLogLogrus(t *testing.T) {
	log := "Flag --enable-node-port has been deprecated\n" +
		`level=info msg="  --kube-proxy-replacement='partial'" subsys=daemon` + "\n" +
		`level=info msg="  --devices='eth0 eth1'" subsys=daemon` + "\n" +
		`level=info msg="Auto-enabling enable-node-port" subsys=daemon` + "\n"
	l, err := ParseStartupLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if v, from := l.KPRFromLog(); v != "partial" || from != "option" || l.Options["devices"] != "eth0 eth1" || l.KPRConfig != nil || l.Lines != 4 {
		t.Errorf("got %+v (%q from %q)", l, v, from)
	}
	if v, _ := (StartupLog{}).KPRFromLog(); v != "" {
		t.Errorf("empty log: %q", v)
	}
}
