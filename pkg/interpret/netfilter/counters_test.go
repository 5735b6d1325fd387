package netfilter

import (
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParseCountersCaptured(t *testing.T) {
	raw, err := os.ReadFile("testdata/lab-node-both-iptables-save-c.md")
	if err != nil {
		t.Fatal(err)
	}
	after, err := ParseCounters(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// The same dump with every counter at zero: what it read before the
	// one connection it shows.
	zeroed := regexp.MustCompile(`(?m)^\[\d+:\d+\]`).ReplaceAllString(string(raw), "[0:0]")
	before, err := ParseCounters(strings.NewReader(zeroed))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range Moved(before, after, "kube-system/nm-nginx-ovs:http") {
		got = append(got, d.Table+"/"+d.Chain+" +"+strconv.FormatUint(d.Delta, 10))
	}
	want := []string{"nat/KUBE-EXT-RQZY2QHP2H77EKF3 +2", "nat/KUBE-SEP-HZ5H6OYISNJAW34X +2", "nat/KUBE-SVC-RQZY2QHP2H77EKF3 +1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("moved = %q, want %q", got, want)
	}
	if m := Moved(before, after, "kube-system/nm-nginx:http"); len(m) != 0 {
		t.Errorf("nm-nginx moved: %+v", m)
	}
	if m := Moved(after, after, ""); len(m) != 0 {
		t.Errorf("nothing moved between equal dumps: %+v", m)
	}
}

func TestParseCountersRejectsDumpsWithoutCounters(t *testing.T) {
	_, err := ParseCounters(strings.NewReader("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-X\nCOMMIT\n"))
	if err == nil || !strings.Contains(err.Error(), "iptables-save -c") {
		t.Errorf("err = %v", err)
	}
}

func TestMovedRewrittenChain(t *testing.T) {
	before := Counters{"nat/KUBE-SEP-A": {Table: "nat", Chain: "KUBE-SEP-A", Service: "ns/a:p", Packets: 9}}
	after := Counters{"nat/KUBE-SEP-A": {Table: "nat", Chain: "KUBE-SEP-A", Service: "ns/a:p", Packets: 1},
		"nat/KUBE-SEP-B": {Table: "nat", Chain: "KUBE-SEP-B", Service: "ns/a:p", Packets: 3}}
	got := Moved(before, after, "ns/a:p")
	if len(got) != 2 || got[0].Delta != 1 || got[1].Delta != 3 {
		t.Errorf("moved = %+v (a rewritten chain counts its new value, a new one whole)", got)
	}
}
