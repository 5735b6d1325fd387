package acceptance

import (
	"strings"
	"testing"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

func TestServedBy(t *testing.T) {
	moved := []netfilter.ChainDelta{{ChainCounter: netfilter.ChainCounter{Chain: "KUBE-SVC-X"}, Delta: 1}, {ChainCounter: netfilter.ChainCounter{Chain: "KUBE-SEP-Y"}, Delta: 1}}
	for _, c := range []struct {
		name      string
		f         ServedFacts
		want, why string
	}{
		{"no answer", ServedFacts{Check: report.CheckClusterIP}, ServedByNone, "no answer"},
		{"node-both: kube-proxy won", ServedFacts{Check: report.CheckClusterIP, Answered: true, CountersRead: true, Moved: moved, KubeProxy: true, ClientSocketLB: true}, ServedByKubeProxy, "KUBE-SVC-X +1, KUBE-SEP-Y +1"},
		{"node-both: socket-LB won", ServedFacts{Check: report.CheckClusterIP, Answered: true, CountersRead: true, KubeProxy: true, ClientSocketLB: true}, ServedByCiliumSocketLB, "did not move"},
		{"remote NodePort by BPF", ServedFacts{Check: report.CheckNodePortRemote, Answered: true, CountersRead: true, KubeProxy: true, TargetBPF: true}, ServedByCiliumBPF, "BPF NodePort"},
		{"remote NodePort by the client's socket-LB", ServedFacts{Check: report.CheckNodePortRemote, Answered: true, CountersRead: true, ClientSocketLB: true, TargetBPF: true}, ServedByCiliumSocketLB, "client's socket-LB"},
		{"KPR node, counters not read", ServedFacts{Check: report.CheckNodePortLocal, Answered: true, ClientSocketLB: true}, ServedByCiliumSocketLB, "no kube-proxy rules"},
		{"kube-proxy node, counters not read", ServedFacts{Check: report.CheckClusterIP, Answered: true, KubeProxy: true}, ServedByKubeProxy, "only translator"},
		{"both, counters not read", ServedFacts{Check: report.CheckClusterIP, Answered: true, KubeProxy: true, ClientSocketLB: true}, ServedByUnknown, "not read"},
		{"nftables kube-proxy and Cilium", ServedFacts{Check: report.CheckClusterIP, Answered: true, KubeProxy: true, KubeProxyMode: "nftables", ClientSocketLB: true, CountersRead: true}, ServedByUnknown, "nftables mode"},
		{"nftables kube-proxy alone", ServedFacts{Check: report.CheckClusterIP, Answered: true, KubeProxy: true, KubeProxyMode: "nftables"}, ServedByKubeProxy, "nftables mode"},
		{"answered by something else", ServedFacts{Check: report.CheckClusterIP, Answered: true, CountersRead: true}, ServedByUnknown, "another datapath"},
		{"kube-proxy rules idle, no Cilium", ServedFacts{Check: report.CheckClusterIP, Answered: true, CountersRead: true, KubeProxy: true}, ServedByUnknown, "neither"},
	} {
		by, why := ServedBy(c.f)
		if by != c.want || !strings.Contains(why, c.why) {
			t.Errorf("%s: %s (%s), want %s (…%s…)", c.name, by, why, c.want, c.why)
		}
	}
}
