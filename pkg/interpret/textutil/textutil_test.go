package textutil

import "testing"

func TestMajorMinor(t *testing.T) {
	for _, c := range []struct {
		in       string
		maj, min int
		ok       bool
	}{
		{"1.18.8", 1, 18, true}, {"v1.18", 1, 18, true}, {" 1.20.0-rc.1 ", 1, 20, true}, {"1.9", 1, 9, true},
		{"", 0, 0, false}, {"latest", 0, 0, false}, {"1", 0, 0, false}, {"x.1", 0, 0, false}, {"1.x", 0, 0, false},
	} {
		maj, min, ok := MajorMinor(c.in)
		if maj != c.maj || min != c.min || ok != c.ok {
			t.Errorf("MajorMinor(%q) = %d, %d, %v", c.in, maj, min, ok)
		}
	}
	if !VersionBefore("1.14.3", 1, 15) || VersionBefore("1.15.0", 1, 15) || VersionBefore("2.0", 1, 15) || VersionBefore("", 1, 15) || !VersionBefore("0.9", 1, 0) || !VersionBefore("1.16.5", 1, 17) || VersionBefore("1.20.2", 1, 17) {
		t.Error("VersionBefore")
	}
}

func TestFirstLineAndDidYouMean(t *testing.T) {
	if got := FirstLine("\n  error: boom\nmore\n"); got != "error: boom" {
		t.Errorf("FirstLine %q", got)
	}
	if got := DidYouMean("node-ciliun", []string{"node-cilium", "node-iptables", "x"}); got != "; did you mean node-cilium?" {
		t.Errorf("DidYouMean %q", got)
	}
	if got := DidYouMean("zzz", []string{"node-cilium"}); got != "" {
		t.Errorf("DidYouMean far %q", got)
	}
}
