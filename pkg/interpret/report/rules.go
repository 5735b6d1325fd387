package report

import (
	"slices"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
)

// Rules is what a node's iptables, nftables and IPVS dumps hold, as kpr
// reports it (inspect's nodes, analyze's inputs and agents). It is the
// report's own type, not the parser's (netfilter.Summary): the parser may
// change, this JSON does not without a new APIVersion. Go field names
// match netfilter.Summary's.
type Rules struct {
	// KubeServiceChains are the distinct KUBE-SVC-* / KUBE-SVL-* chains seen.
	KubeServiceChains []string `json:"kubeServiceChains"`
	// CiliumChains are the distinct CILIUM_* chains seen (OLD_CILIUM_* too:
	// a re-init that did not finish).
	CiliumChains []string `json:"ciliumChains"`
	// CiliumFeeders are the distinct "cilium-feeder: <CHAIN>" rule comments.
	CiliumFeeders []string `json:"ciliumFeeders,omitempty"`
	// Counts are chains and rules of kube-proxy's iptables chains.
	Counts RuleCounts `json:"counts"`
	// KubeProxyChains are kube-proxy's fixed chains seen (KUBE-SERVICES,
	// KUBE-NODEPORTS, KUBE-PROXY-CANARY, ...). Kubelet's chains are not here.
	KubeProxyChains []string `json:"kubeProxyChains,omitempty"`
	// KubeletChains are chains kubelet creates itself (or did before
	// KEP-3178): present on every node, never evidence of kube-proxy.
	KubeletChains []string `json:"kubeletChains,omitempty"`
	// KubeProxyNFTables are kube-proxy's nftables tables (nftables mode).
	KubeProxyNFTables []NFTTable `json:"kubeProxyNFTables,omitempty"`
	// IPVS is what `ipvsadm -Ln` listed; nil when no ipvsadm output was read.
	IPVS *IPVS `json:"ipvs,omitempty"`
	// IPVSMatchSets counts rules matching kube-proxy's ipvs-mode ipsets
	// (KUBE-CLUSTER-IP, KUBE-NODE-PORT-*, ...).
	IPVSMatchSets int `json:"ipvsMatchSetRules,omitempty"`
	// Other lists markers of other Service implementations.
	Other []OtherMarker `json:"other,omitempty"`
	// Services maps kube-proxy's per-Service chains back to Services.
	Services []ServiceChain `json:"services,omitempty"`
	// KubeProxyModes are the kube-proxy modes whose rules are present:
	// "iptables", "ipvs", "nftables". Rules can be stale: this says that
	// they exist, not that a kube-proxy still syncs them.
	KubeProxyModes []string `json:"kubeProxyModes"`
	// Dumps describe each dump read (one per iptables-save run, nft
	// listing or ipvsadm listing).
	Dumps []RulesDump `json:"dumps"`
	// Warnings are notes from the dumps themselves (both iptables backends
	// hold rules, tables iptables-nft cannot show, superseded dumps ...).
	Warnings []string `json:"warnings,omitempty"`
	// Fragment: some input was a fragment (a grep of the output, rows
	// without their header): every count is a lower bound.
	Fragment bool `json:"fragment,omitempty"`
}

// RuleCounts are chain and rule counts of kube-proxy's iptables chains.
type RuleCounts struct {
	KubeServices  ChainRules `json:"kubeServices"`  // KUBE-SERVICES
	KubeNodePorts ChainRules `json:"kubeNodePorts"` // KUBE-NODEPORTS
	KubeSVC       ChainRules `json:"kubeSVC"`       // KUBE-SVC-*
	KubeSVL       ChainRules `json:"kubeSVL"`       // KUBE-SVL-*
	KubeSEP       ChainRules `json:"kubeSEP"`       // KUBE-SEP-*
	KubeEXT       ChainRules `json:"kubeEXT"`       // KUBE-EXT-*
	KubeFW        ChainRules `json:"kubeFW"`        // KUBE-FW-*
}

// ChainRules counts chains (declarations, per table) and rules.
type ChainRules struct {
	Chains int `json:"chains"`
	Rules  int `json:"rules"`
}

// NFTTable is one kube-proxy nftables table.
type NFTTable struct {
	Family string `json:"family"`
	Name   string `json:"name"`
	Chains int    `json:"chains"`
	Rules  int    `json:"rules"`
	// ServiceChains are the distinct service-/local-/external-/firewall-
	// chains, which name their Service.
	ServiceChains []string `json:"serviceChains"`
}

// IPVS summarises `ipvsadm -Ln`.
type IPVS struct {
	VirtualServices int                  `json:"virtualServices"`
	RealServers     int                  `json:"realServers"`
	Services        []IPVSVirtualService `json:"services,omitempty"`
}

// IPVSVirtualService is one virtual service line and its real servers.
type IPVSVirtualService struct {
	Protocol  string   `json:"protocol"`
	Address   string   `json:"address"`
	Scheduler string   `json:"scheduler"`
	Backends  []string `json:"backends"`
}

// OtherMarker is a sign of another Service implementation.
type OtherMarker struct {
	// Implementation is "contiv", "calico", "antrea" or "kube-router".
	Implementation string   `json:"implementation"`
	Chains         []string `json:"chains"`
}

// ServiceChain ties one kube-proxy chain to its Service port.
type ServiceChain struct {
	Chain string `json:"chain"`
	// ServicePort is "<ns>/<name>" plus ":<portName>" for named ports.
	ServicePort string `json:"servicePort"`
	Protocol    string `json:"protocol,omitempty"`
	ClusterIP   string `json:"clusterIP,omitempty"`
	Port        string `json:"port,omitempty"`
	// HashVerified: the chain name equals kube-proxy's hash of ServicePort
	// and Protocol, so the comment is not lying.
	HashVerified bool `json:"hashVerified"`
}

// RulesDump describes one dump.
type RulesDump struct {
	// Format is "iptables-save", "nft", "nft-json" or "ipvsadm".
	Format string `json:"format"`
	// Family is "ipv4", "ipv6" or "" when the dump does not tell.
	Family string `json:"family,omitempty"`
	// Backend is "nf_tables", "legacy" or "" (iptables-save only).
	Backend string `json:"backend,omitempty"`
	// Header is the "# Generated by ..." line, if any.
	Header string   `json:"header,omitempty"`
	Tables []string `json:"tables"`
	Chains int      `json:"chains"`
	Rules  int      `json:"rules"`
	// Superseded: a later dump of the same family and backend replaced it.
	Superseded bool `json:"superseded,omitempty"`
	// Fragment: lines cut from a longer output (no header, no table, no
	// COMMIT: `iptables-save | grep KUBE-SVC`): its counts are lower bounds.
	Fragment bool `json:"fragment,omitempty"`
}

// RulesFrom is the report's copy of a parsed rules summary (nil for nil).
// It shares nothing with s; nil slices stay nil, empty ones empty.
func RulesFrom(s *netfilter.Summary) *Rules {
	if s == nil {
		return nil
	}
	out := &Rules{
		KubeServiceChains: slices.Clone(s.KubeServiceChains),
		CiliumChains:      slices.Clone(s.CiliumChains),
		CiliumFeeders:     slices.Clone(s.CiliumFeeders),
		Counts: RuleCounts{
			KubeServices:  chainRules(s.Counts.KubeServices),
			KubeNodePorts: chainRules(s.Counts.KubeNodePorts),
			KubeSVC:       chainRules(s.Counts.KubeSVC),
			KubeSVL:       chainRules(s.Counts.KubeSVL),
			KubeSEP:       chainRules(s.Counts.KubeSEP),
			KubeEXT:       chainRules(s.Counts.KubeEXT),
			KubeFW:        chainRules(s.Counts.KubeFW),
		},
		KubeProxyChains: slices.Clone(s.KubeProxyChains),
		KubeletChains:   slices.Clone(s.KubeletChains),
		KubeProxyNFTables: convert(s.KubeProxyNFTables, func(t netfilter.NFTTable) NFTTable {
			return NFTTable{Family: t.Family, Name: t.Name, Chains: t.Chains, Rules: t.Rules, ServiceChains: slices.Clone(t.ServiceChains)}
		}),
		IPVSMatchSets: s.IPVSMatchSets,
		Other: convert(s.Other, func(m netfilter.OtherMarker) OtherMarker {
			return OtherMarker{Implementation: m.Implementation, Chains: slices.Clone(m.Chains)}
		}),
		Services: convert(s.Services, func(c netfilter.ServiceChain) ServiceChain {
			return ServiceChain{Chain: c.Chain, ServicePort: c.ServicePort, Protocol: c.Protocol, ClusterIP: c.ClusterIP, Port: c.Port, HashVerified: c.HashVerified}
		}),
		KubeProxyModes: slices.Clone(s.KubeProxyModes),
		Dumps: convert(s.Dumps, func(d netfilter.DumpInfo) RulesDump {
			return RulesDump{Format: d.Format, Family: d.Family, Backend: d.Backend, Header: d.Header, Tables: slices.Clone(d.Tables),
				Chains: d.Chains, Rules: d.Rules, Superseded: d.Superseded, Fragment: d.Fragment}
		}),
		Warnings: slices.Clone(s.Warnings),
		Fragment: s.Fragment,
	}
	if v := s.IPVS; v != nil {
		out.IPVS = &IPVS{VirtualServices: v.VirtualServices, RealServers: v.RealServers,
			Services: convert(v.Services, func(vs netfilter.IPVSVirtualSvc) IPVSVirtualService {
				return IPVSVirtualService{Protocol: vs.Protocol, Address: vs.Address, Scheduler: vs.Scheduler, Backends: slices.Clone(vs.Backends)}
			})}
	}
	return out
}

func chainRules(c netfilter.ChainRules) ChainRules {
	return ChainRules{Chains: c.Chains, Rules: c.Rules}
}

// convert maps a slice; nil stays nil, empty stays empty (JSON null vs []).
func convert[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
