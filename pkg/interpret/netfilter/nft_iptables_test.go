package netfilter

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// `nft list ruleset` of a node whose iptables is the nf_tables backend:
// kube-proxy's iptables-mode chains sit in iptables-nft's tables ("table
// ip nat { chain KUBE-SERVICES { … jump KUBE-SVC-… } }"), some rules as
// xt-compat statements ("xt match nfacct"). They are kube-proxy's iptables
// chains, counted as such, never kube-proxy's nftables mode (which has
// its own "table ip kube-proxy"). The fixtures are the real kube-proxy
// v1.37.2's rules loaded with the real iptables-nft-restore and listed
// with the real nft (testdata/nft-iptables-nft.sh).

func fixtureText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParseNFT(t *testing.T, in string) *Summary {
	t.Helper()
	s, err := ParseNFT(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNFTListingOfCapturedIPTablesNFT(t *testing.T) {
	nft := parseFixture(t, "nft-iptables-nft-captured-kube-proxy.txt")
	ipt := parseFixture(t, "iptables-captured-kube-proxy.txt")
	if !strings.Contains(fixtureText(t, "nft-iptables-nft-captured-kube-proxy.txt"), "xt match nfacct") {
		t.Fatal("the fixture should hold kube-proxy's xt-compat rules")
	}
	if !slices.Equal(nft.KubeServiceChains, ipt.KubeServiceChains) {
		t.Errorf("nft view %v\niptables view %v", nft.KubeServiceChains, ipt.KubeServiceChains)
	}
	if nft.Counts != ipt.Counts {
		t.Errorf("counts differ:\nnft      %+v\niptables %+v", nft.Counts, ipt.Counts)
	}
	if !slices.Equal(nft.KubeProxyChains, ipt.KubeProxyChains) || !slices.Equal(nft.KubeletChains, ipt.KubeletChains) {
		t.Errorf("fixed chains nft %v / %v, iptables %v / %v", nft.KubeProxyChains, nft.KubeletChains, ipt.KubeProxyChains, ipt.KubeletChains)
	}
	if !slices.Equal(nft.KubeProxyModes, []string{ModeIPTables}) || len(nft.KubeProxyNFTables) != 0 || nft.Fragment {
		t.Errorf("modes %v nft tables %+v fragment %v", nft.KubeProxyModes, nft.KubeProxyNFTables, nft.Fragment)
	}
	// Every rule of the listing is one of iptables-save's: the xt-compat
	// ones included.
	if nft.Dumps[0].Rules != ipt.Dumps[0].Rules+ipt.Dumps[1].Rules {
		t.Errorf("rules: nft %d, iptables %d+%d", nft.Dumps[0].Rules, ipt.Dumps[0].Rules, ipt.Dumps[1].Rules)
	}
	// inspect (pkg/interpret/inspect/node.go) keeps only the listing's
	// kube-proxy nftables tables when it read iptables-nft-save too: for
	// an iptables-nft listing that adds nothing, so nothing counts twice.
	m := Merge(ipt, &Summary{KubeProxyNFTables: nft.KubeProxyNFTables, Dumps: nft.Dumps})
	if m.Counts != ipt.Counts || !slices.Equal(m.KubeProxyModes, []string{ModeIPTables}) {
		t.Errorf("merged as inspect does: counts %+v modes %v", m.Counts, m.KubeProxyModes)
	}
}

// Chains copied without their table line: read as the same chains in
// their table, flagged as a fragment.
func TestNFTExcerptWithoutTable(t *testing.T) {
	excerpt := fixtureText(t, "nft-fragment-nat-chains.txt")
	s := mustParseNFT(t, excerpt)
	whole := mustParseNFT(t, "table ip nat {\n"+excerpt+"}\n")
	if !s.Fragment || whole.Fragment || !strings.Contains(strings.Join(s.Warnings, " "), "lower bounds") {
		t.Errorf("fragment: excerpt %v (%v), wrapped %v", s.Fragment, s.Warnings, whole.Fragment)
	}
	if s.Counts != whole.Counts || !slices.Equal(s.KubeServiceChains, whole.KubeServiceChains) || s.Dumps[0].Rules != whole.Dumps[0].Rules || s.Dumps[0].Chains != whole.Dumps[0].Chains {
		t.Errorf("excerpt %+v %d/%d\nin its table %+v %d/%d", s.Counts, s.Dumps[0].Chains, s.Dumps[0].Rules, whole.Counts, whole.Dumps[0].Chains, whole.Dumps[0].Rules)
	}
	if !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) || len(s.KubeProxyNFTables) != 0 {
		t.Errorf("modes %v nft tables %+v", s.KubeProxyModes, s.KubeProxyNFTables)
	}
	// The nat table holds every KUBE-SVC/SEP chain of the whole listing.
	full := parseFixture(t, "nft-iptables-nft-captured-kube-proxy.txt")
	if s.Counts.KubeSVC != full.Counts.KubeSVC || s.Counts.KubeSEP.Chains != full.Counts.KubeSEP.Chains || s.Counts.KubeServices.Rules == 0 {
		t.Errorf("excerpt %+v, whole listing %+v", s.Counts, full.Counts)
	}
}

// `nft list ruleset | grep KUBE-SVC`: chain headers without their "}" and
// jump lines without their chain.
func TestNFTFragmentGrepKubeSVC(t *testing.T) {
	s := parseFixture(t, "nft-fragment-grep-kube-svc.txt")
	full := parseFixture(t, "nft-iptables-nft-captured-kube-proxy.txt")
	if !s.Fragment || !slices.Equal(s.KubeProxyModes, []string{ModeIPTables}) || len(s.KubeProxyNFTables) != 0 {
		t.Fatalf("summary %+v", s)
	}
	// Every KUBE-SVC chain of the node is named, each counted once (the
	// grep leaves the KUBE-SVL chains out).
	svc := slices.DeleteFunc(slices.Clone(full.KubeServiceChains), func(c string) bool { return !strings.HasPrefix(c, PrefixSVC) })
	if !slices.Equal(s.KubeServiceChains, svc) || s.Counts.KubeSVC.Chains != full.Counts.KubeSVC.Chains {
		t.Errorf("chains %v (%d), whole listing %v (%d)", s.KubeServiceChains, s.Counts.KubeSVC.Chains, full.KubeServiceChains, full.Counts.KubeSVC.Chains)
	}
	// The grep kept the jump lines, not which chain held them: they are
	// rules, in no chain; the headers' chains show none.
	if s.Dumps[0].Rules != 9 || s.Counts.KubeSVC.Rules != 0 {
		t.Errorf("rules %d, KUBE-SVC rules %d", s.Dumps[0].Rules, s.Counts.KubeSVC.Rules)
	}
}

// Inputs of the other shapes, each built from a fixture line or from
// nft's printing code as named.
func TestNFTTablelessShapes(t *testing.T) {
	for _, tc := range []struct {
		name, in      string
		fragment      bool
		svcChains     int
		kubeServices  ChainRules
		modes         []string
		nftTables     int
		dumpRulesWant int
	}{
		{
			// nft ≥ 1.0.7 prints an untranslatable compat statement quoted
			// (src/xt.c xt_stmt_xlate: `xt %s "%s"`); built without
			// libxtables, it prints every one so. Lines from the fixture.
			name: "quoted xt statements",
			in: "table ip nat {\n\tchain KUBE-SERVICES {\n" +
				"\t\tmeta l4proto tcp ip daddr 10.96.0.1 xt match \"comment\" tcp dport 443 counter packets 0 bytes 0 jump KUBE-SVC-NPX46M4PTMTKRN6Y\n" +
				"\t}\n\tchain KUBE-SVC-NPX46M4PTMTKRN6Y {\n\t\txt match \"statistic\" counter packets 0 bytes 0 jump KUBE-SEP-VYSJHUAOKEEF46ND\n\t}\n" +
				"\tchain KUBE-POSTROUTING {\n\t\tcounter packets 0 bytes 0 xt target \"MASQUERADE\"\n\t}\n}\n",
			svcChains: 1, kubeServices: ChainRules{Chains: 1, Rules: 1}, modes: []string{ModeIPTables}, dumpRulesWant: 3,
		},
		{
			// nft -a: handles after every header and rule.
			name: "handles, no table line",
			in: "\tchain KUBE-SERVICES { # handle 12\n" +
				"\t\tmeta l4proto tcp ip daddr 10.96.0.1  tcp dport 443 counter packets 0 bytes 0 jump KUBE-SVC-NPX46M4PTMTKRN6Y # handle 40\n\t}\n",
			fragment: true, svcChains: 1, kubeServices: ChainRules{Chains: 1, Rules: 1}, modes: []string{ModeIPTables}, dumpRulesWant: 1,
		},
		{
			// An excerpt cut before its closing brace: its lines still
			// count, one by one.
			name: "excerpt cut short",
			in: "\tchain KUBE-SERVICES {\n" +
				"\t\tmeta l4proto tcp ip daddr 10.96.0.1  tcp dport 443 counter packets 0 bytes 0 jump KUBE-SVC-NPX46M4PTMTKRN6Y\n",
			fragment: true, svcChains: 1, kubeServices: ChainRules{Chains: 1}, modes: []string{ModeIPTables}, dumpRulesWant: 1,
		},
		{
			// A kube-proxy nftables-mode chain copied without its table
			// stays kube-proxy's nftables mode.
			name: "nftables-mode chain without its table",
			in: "\tchain service-ULMVA6XW-ns1/svc1/tcp/p80 {\n" +
				"\t\tip daddr 10.180.0.1 tcp dport 80 jump mark-for-masquerade\n\t\tnumgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }\n\t}\n",
			fragment: true, modes: []string{ModeNFTables}, nftTables: 1, dumpRulesWant: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustParseNFT(t, tc.in)
			if s.Fragment != tc.fragment || len(s.KubeServiceChains) != tc.svcChains || s.Counts.KubeServices != tc.kubeServices ||
				!slices.Equal(s.KubeProxyModes, tc.modes) || len(s.KubeProxyNFTables) != tc.nftTables || s.Dumps[0].Rules != tc.dumpRulesWant {
				t.Errorf("fragment %v svc %v kube-services %+v modes %v nft %+v rules %d", s.Fragment, s.KubeServiceChains, s.Counts.KubeServices, s.KubeProxyModes, s.KubeProxyNFTables, s.Dumps[0].Rules)
			}
		})
	}
}

// A table-less chain block longer than what the parser holds back: every
// rule still counts, as the chain's.
func TestNFTLongTablelessChain(t *testing.T) {
	var b strings.Builder
	b.WriteString("\tchain KUBE-SERVICES {\n")
	n := maxOpenLines + 10
	for i := 0; i < n; i++ {
		b.WriteString("\t\tmeta l4proto tcp ip daddr 10.96.0.1  tcp dport 443 counter packets 0 bytes 0 jump KUBE-SVC-NPX46M4PTMTKRN6Y\n")
	}
	b.WriteString("\t}\n")
	s := mustParseNFT(t, b.String())
	if s.Counts.KubeServices != (ChainRules{Chains: 1, Rules: n}) || !s.Fragment {
		t.Errorf("KUBE-SERVICES %+v, fragment %v", s.Counts.KubeServices, s.Fragment)
	}
}
