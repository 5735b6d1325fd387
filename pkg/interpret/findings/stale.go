package findings

import (
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// ExpectedChains maps the iptables chain names kube-proxy would use for
// the given Service ports (KUBE-SVC, KUBE-SVL, KUBE-EXT, KUBE-FW) to their
// "<ns>/<name>[:<port>]" name. Computing the hashes from the API works
// even when rule comments are missing (>1000 endpoints).
func ExpectedChains(ports []ServicePort) map[string]string {
	out := make(map[string]string, 4*len(ports))
	for _, p := range ports {
		name := svcPortName(p)
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		for _, prefix := range []string{netfilter.PrefixSVC, netfilter.PrefixSVL, netfilter.PrefixEXT, netfilter.PrefixFW} {
			out[netfilter.ServiceChainName(prefix, name, proto)] = name
		}
	}
	return out
}

func svcPortName(p ServicePort) string {
	s := p.Namespace + "/" + p.Name
	if p.PortName != "" {
		s += ":" + p.PortName
	}
	return s
}

// StaleChains lists kube-proxy's per-Service chains (iptables KUBE-SVC /
// KUBE-SVL, nftables service-/local- chains) whose Service port no longer
// exists.
func StaleChains(s *netfilter.Summary, ports []ServicePort) []report.StaleChain {
	expected := ExpectedChains(ports)
	byComment := map[string]string{}
	for _, sc := range s.Services {
		byComment[sc.Chain] = sc.ServicePort
	}
	var out []report.StaleChain
	for _, chain := range s.KubeServiceChains {
		if _, ok := expected[chain]; ok {
			continue
		}
		out = append(out, report.StaleChain{Chain: chain, ServicePort: byComment[chain]})
	}
	// nftables chain names carry "<ns>/<name>/<proto>/<portName>" in clear.
	existing := map[string]bool{}
	for _, p := range ports {
		existing[svcPortName(p)] = true
	}
	for _, t := range s.KubeProxyNFTables {
		for _, chain := range t.ServiceChains {
			name, ok := nftServicePort(chain)
			if ok && !existing[name] {
				out = append(out, report.StaleChain{Chain: t.Family + " " + t.Name + " " + chain, ServicePort: name})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Chain < out[j].Chain })
	return out
}

// nftServicePort reads "<kind>-<HASH8>-<ns>/<name>/<proto>/<portName>"
// (k/k pkg/proxy/nftables/proxier.go servicePortChainNameBase).
func nftServicePort(chain string) (string, bool) {
	_, rest, ok := strings.Cut(chain, "-")
	if !ok {
		return "", false
	}
	_, rest, ok = strings.Cut(rest, "-")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" {
		return "", false
	}
	name := parts[0] + "/" + parts[1]
	if parts[3] != "" {
		name += ":" + parts[3]
	}
	return name, true
}
