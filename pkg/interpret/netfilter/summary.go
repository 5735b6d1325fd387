package netfilter

import (
	"sort"
	"strings"
)

// Summary is what one node's rules say about Service handling. It is the
// `netfilter` section of `analyze` and `inspect`.
type Summary struct {
	// KubeServiceChains are the distinct KUBE-SVC-* / KUBE-SVL-* chains seen.
	KubeServiceChains []string `json:"kubeServiceChains"`
	// CiliumChains are the distinct CILIUM_* chains seen (OLD_CILIUM_* too:
	// a re-init that did not finish).
	CiliumChains []string `json:"ciliumChains"`
	// CiliumFeeders are the distinct "cilium-feeder: <CHAIN>" rule comments.
	CiliumFeeders []string `json:"ciliumFeeders,omitempty"`
	// Counts are chains and rules of kube-proxy's iptables chains.
	Counts Counts `json:"counts"`
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
	Dumps []DumpInfo `json:"dumps"`
	// Warnings are notes from the dumps themselves (both iptables backends
	// hold rules, tables iptables-nft cannot show, superseded dumps ...).
	Warnings []string `json:"warnings,omitempty"`
	// Fragment: some input was a fragment (a grep of the output, rows
	// without their header): every count is a lower bound.
	Fragment bool `json:"fragment,omitempty"`
}

// Counts are chain and rule counts of kube-proxy's iptables chains.
type Counts struct {
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
	VirtualServices int              `json:"virtualServices"`
	RealServers     int              `json:"realServers"`
	Services        []IPVSVirtualSvc `json:"services,omitempty"`
}

// IPVSVirtualSvc is one virtual service line and its real servers.
type IPVSVirtualSvc struct {
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

// DumpInfo describes one dump.
type DumpInfo struct {
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

// Kube-proxy modes.
const (
	ModeIPTables = "iptables"
	ModeIPVS     = "ipvs"
	ModeNFTables = "nftables"
)

// Chain classes.
const (
	classNone = iota
	classKubeServices
	classKubeNodePorts
	classSVC
	classSVL
	classSEP
	classEXT
	classFW
	classKubeProxyOther
	classKubelet
	classCilium
	classOther
)

// kubeProxyFixedChains are chains only kube-proxy creates (iptables and
// ipvs modes; k/k pkg/proxy/iptables/proxier.go, pkg/proxy/ipvs/proxier.go).
var kubeProxyFixedChains = map[string]bool{
	"KUBE-EXTERNAL-SERVICES":      true,
	"KUBE-PROXY-FIREWALL":         true,
	"KUBE-FORWARD":                true,
	"KUBE-PROXY-CANARY":           true,
	"KUBE-NODE-PORT":              true,
	"KUBE-LOAD-BALANCER":          true,
	"KUBE-SOURCE-RANGES-FIREWALL": true,
	"KUBE-IPVS-FILTER":            true,
	"KUBE-IPVS-OUT-FILTER":        true,
}

// kubeletChains are created by kubelet (k/k pkg/kubelet/kubelet_network_linux.go);
// KUBE-MARK-MASQ and KUBE-POSTROUTING were kubelet's before KEP-3178 and are
// kube-proxy's since, so they prove nothing either way.
var kubeletChains = map[string]bool{
	"KUBE-IPTABLES-HINT":  true,
	"KUBE-KUBELET-CANARY": true,
	"KUBE-FIREWALL":       true,
	"KUBE-MARK-DROP":      true,
	"KUBE-MARK-MASQ":      true,
	"KUBE-POSTROUTING":    true,
}

func classify(chain string) (int, string) {
	switch {
	case chain == "KUBE-SERVICES":
		return classKubeServices, ""
	case chain == "KUBE-NODEPORTS":
		return classKubeNodePorts, ""
	case strings.HasPrefix(chain, PrefixSVC):
		return classSVC, ""
	case strings.HasPrefix(chain, PrefixSVL):
		return classSVL, ""
	case strings.HasPrefix(chain, PrefixSEP):
		return classSEP, ""
	case strings.HasPrefix(chain, PrefixEXT):
		return classEXT, ""
	case strings.HasPrefix(chain, PrefixFW):
		return classFW, ""
	case kubeProxyFixedChains[chain], strings.HasPrefix(chain, "KUBE-XLB-"):
		// KUBE-XLB-*: kube-proxy's local-policy chains before 1.24.
		return classKubeProxyOther, ""
	case kubeletChains[chain]:
		return classKubelet, ""
	case strings.HasPrefix(chain, "CILIUM_"), strings.HasPrefix(chain, "OLD_CILIUM_"):
		return classCilium, ""
	case strings.HasPrefix(chain, "KUBE-ROUTER-"):
		return classOther, "kube-router"
	case strings.HasPrefix(chain, "CONTIV-"):
		return classOther, "contiv"
	case strings.HasPrefix(chain, "cali-"):
		return classOther, "calico"
	case strings.HasPrefix(chain, "ANTREA-"):
		return classOther, "antrea"
	}
	return classNone, ""
}

// set is a small string set.
type set map[string]struct{}

func (s set) add(v string) { s[v] = struct{}{} }

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// builder accumulates one dump; builders are merged into a Summary.
type builder struct {
	info          DumpInfo
	tables        set
	svcChains     set
	ciliumChains  set
	feeders       set
	kpChains      set
	kubelet       set
	other         map[string]set
	counts        Counts
	ipvsMatchSets int
	services      map[string]*ServiceChain
	nftTables     []NFTTable
	ipvs          *IPVS
	warnings      []string
	// v6/v4 evidence from addresses, for dumps without a header.
	sawV4, sawV6 bool
	// mergedDumps carries the dump list of a Summary fed back into Merge.
	mergedDumps []DumpInfo
}

func newBuilder(format string) *builder {
	return &builder{
		info:         DumpInfo{Format: format},
		tables:       set{},
		svcChains:    set{},
		ciliumChains: set{},
		feeders:      set{},
		kpChains:     set{},
		kubelet:      set{},
		other:        map[string]set{},
		services:     map[string]*ServiceChain{},
	}
}

// chain records a chain declaration (declared=true) or a reference by a
// rule of that chain.
func (b *builder) chain(name string, declared bool) int {
	class, impl := classify(name)
	if declared {
		b.info.Chains++
	}
	c := b.countFor(class)
	if c != nil && declared {
		c.Chains++
	}
	switch class {
	case classSVC, classSVL:
		b.svcChains.add(name)
	case classKubeServices, classKubeNodePorts, classKubeProxyOther:
		b.kpChains.add(name)
	case classKubelet:
		b.kubelet.add(name)
	case classCilium:
		b.ciliumChains.add(name)
	case classOther:
		if b.other[impl] == nil {
			b.other[impl] = set{}
		}
		b.other[impl].add(name)
	}
	return class
}

func (b *builder) countFor(class int) *ChainRules {
	switch class {
	case classKubeServices:
		return &b.counts.KubeServices
	case classKubeNodePorts:
		return &b.counts.KubeNodePorts
	case classSVC:
		return &b.counts.KubeSVC
	case classSVL:
		return &b.counts.KubeSVL
	case classSEP:
		return &b.counts.KubeSEP
	case classEXT:
		return &b.counts.KubeEXT
	case classFW:
		return &b.counts.KubeFW
	}
	return nil
}

// rule records one rule of chain.
func (b *builder) rule(chain string) int {
	b.info.Rules++
	class := b.chain(chain, false)
	if c := b.countFor(class); c != nil {
		c.Rules++
	}
	return class
}

func (b *builder) comment(c string) {
	if rest, ok := strings.CutPrefix(c, "cilium-feeder: "); ok {
		b.feeders.add(strings.TrimSpace(rest))
	}
}

// service records a chain→service mapping, keeping what is known.
func (b *builder) service(chain, svcPort, proto, clusterIP, port string) {
	if _, _, _, ok := SplitServicePortName(svcPort); !ok {
		return
	}
	s := b.services[chain]
	if s == nil {
		s = &ServiceChain{Chain: chain, ServicePort: svcPort}
		b.services[chain] = s
	}
	if s.ServicePort != svcPort {
		// Conflicting comments: trust the one that matches the hash.
		if !matchesHash(chain, svcPort, proto) {
			return
		}
		*s = ServiceChain{Chain: chain, ServicePort: svcPort}
	}
	if proto != "" && s.Protocol == "" {
		s.Protocol = strings.ToLower(proto)
	}
	if clusterIP != "" && s.ClusterIP == "" {
		s.ClusterIP = clusterIP
	}
	if port != "" && s.Port == "" {
		s.Port = port
	}
}

// matchesHash reports whether chain is kube-proxy's name for svcPort/proto
// (any protocol when proto is "").
func matchesHash(chain, svcPort, proto string) bool {
	prefix := chainPrefix(chain)
	if prefix == "" {
		return false
	}
	protos := []string{"tcp", "udp", "sctp"}
	if proto != "" {
		protos = []string{strings.ToLower(proto)}
	}
	for _, p := range protos {
		if ServiceChainName(prefix, svcPort, p) == chain || hashesWithColon(chain, prefix, svcPort, p) {
			return true
		}
	}
	return false
}

// hashesWithColon: old kube-proxy versions printed (and hashed) an unnamed
// port's name as "<ns>/<name>:" (kubernetes-sigs/kubespray#1258).
func hashesWithColon(chain, prefix, svcPort, proto string) bool {
	return !strings.Contains(svcPort, ":") && ServiceChainName(prefix, svcPort+":", proto) == chain
}

func chainPrefix(chain string) string {
	for _, p := range []string{PrefixSVC, PrefixSVL, PrefixEXT, PrefixFW} {
		if strings.HasPrefix(chain, p) {
			return p
		}
	}
	return ""
}

func (b *builder) family() string {
	switch {
	case b.info.Family != "":
		return b.info.Family
	case b.sawV6 && !b.sawV4:
		return "ipv6"
	case b.sawV4 && !b.sawV6:
		return "ipv4"
	}
	return ""
}

// merge folds builders into a Summary. Of several iptables dumps with the
// same known family and backend, the last one wins (a paste of the same
// command run twice); the earlier ones are marked superseded.
func merge(bs []*builder) *Summary {
	last := map[string]int{}
	for i, b := range bs {
		b.info.Family = b.family()
		if b.info.Format == "iptables-save" && b.info.Family != "" {
			last[b.info.Family+"/"+b.info.Backend] = i
		}
	}
	s := &Summary{}
	svcChains, cilium, feeders, kp, kubelet := set{}, set{}, set{}, set{}, set{}
	other := map[string]set{}
	services := map[string]*ServiceChain{}
	for i, b := range bs {
		b.info.Tables = b.tables.sorted()
		if b.info.Format == "merged" {
			s.Dumps = append(s.Dumps, b.mergedDumps...)
		} else if b.info.Format == "iptables-save" && b.info.Family != "" && last[b.info.Family+"/"+b.info.Backend] != i {
			b.info.Superseded = true
			s.Dumps = append(s.Dumps, b.info)
			s.Warnings = append(s.Warnings, "an earlier "+b.info.Family+" "+orUnknown(b.info.Backend)+" iptables dump was replaced by a later one in the same input")
			continue
		} else {
			s.Dumps = append(s.Dumps, b.info)
		}
		for v := range b.svcChains {
			svcChains.add(v)
		}
		for v := range b.ciliumChains {
			cilium.add(v)
		}
		for v := range b.feeders {
			feeders.add(v)
		}
		for v := range b.kpChains {
			kp.add(v)
		}
		for v := range b.kubelet {
			kubelet.add(v)
		}
		for impl, cs := range b.other {
			if other[impl] == nil {
				other[impl] = set{}
			}
			for v := range cs {
				other[impl].add(v)
			}
		}
		addCounts(&s.Counts, b.counts)
		s.IPVSMatchSets += b.ipvsMatchSets
		for k, v := range b.services {
			if old, ok := services[k]; ok && old.ClusterIP != "" && v.ClusterIP == "" {
				continue
			}
			services[k] = v
		}
		s.KubeProxyNFTables = append(s.KubeProxyNFTables, b.nftTables...)
		if b.ipvs != nil {
			if s.IPVS == nil {
				s.IPVS = &IPVS{}
			}
			s.IPVS.VirtualServices += b.ipvs.VirtualServices
			s.IPVS.RealServers += b.ipvs.RealServers
			s.IPVS.Services = append(s.IPVS.Services, b.ipvs.Services...)
		}
		s.Warnings = append(s.Warnings, b.warnings...)
		s.Fragment = s.Fragment || b.info.Fragment
	}
	s.KubeServiceChains = svcChains.sorted()
	s.CiliumChains = cilium.sorted()
	s.CiliumFeeders = feeders.sorted()
	s.KubeProxyChains = kp.sorted()
	s.KubeletChains = kubelet.sorted()
	for _, impl := range sortedKeys(other) {
		s.Other = append(s.Other, OtherMarker{Implementation: impl, Chains: other[impl].sorted()})
	}
	for _, k := range sortedKeys(services) {
		sc := services[k]
		sc.HashVerified = matchesHash(sc.Chain, sc.ServicePort, sc.Protocol)
		if sc.Protocol == "" && sc.HashVerified {
			sc.Protocol = protocolByHash(sc.Chain, sc.ServicePort)
		}
		s.Services = append(s.Services, *sc)
	}
	s.KubeProxyModes = modes(s)
	if s.Dumps == nil {
		s.Dumps = []DumpInfo{}
	}
	return s
}

func protocolByHash(chain, svcPort string) string {
	for _, p := range []string{"tcp", "udp", "sctp"} {
		if ServiceChainName(chainPrefix(chain), svcPort, p) == chain || hashesWithColon(chain, chainPrefix(chain), svcPort, p) {
			return p
		}
	}
	return ""
}

func modes(s *Summary) []string {
	out := []string{}
	c := s.Counts
	if c.KubeSVC.Chains+c.KubeSVL.Chains+c.KubeSEP.Chains+c.KubeSVC.Rules+c.KubeSVL.Rules > 0 ||
		(c.KubeServices.Rules > 0 && s.IPVSMatchSets == 0) {
		out = append(out, ModeIPTables)
	}
	if s.IPVSMatchSets > 0 || (s.IPVS != nil && s.IPVS.VirtualServices > 0) {
		out = append(out, ModeIPVS)
	}
	if len(s.KubeProxyNFTables) > 0 {
		out = append(out, ModeNFTables)
	}
	return out
}

// HasKubeProxyRules reports whether any kube-proxy rules (of any mode)
// are present; kubelet's chains do not count.
func (s *Summary) HasKubeProxyRules() bool {
	return len(s.KubeProxyModes) > 0 || len(s.KubeProxyChains) > 0
}

// HasCilium reports whether Cilium's own iptables chains are present.
func (s *Summary) HasCilium() bool { return len(s.CiliumChains) > 0 || len(s.CiliumFeeders) > 0 }

func addCounts(dst *Counts, src Counts) {
	add := func(d *ChainRules, s ChainRules) { d.Chains += s.Chains; d.Rules += s.Rules }
	add(&dst.KubeServices, src.KubeServices)
	add(&dst.KubeNodePorts, src.KubeNodePorts)
	add(&dst.KubeSVC, src.KubeSVC)
	add(&dst.KubeSVL, src.KubeSVL)
	add(&dst.KubeSEP, src.KubeSEP)
	add(&dst.KubeEXT, src.KubeEXT)
	add(&dst.KubeFW, src.KubeFW)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "(backend not stated)"
	}
	return s
}

// Merge combines summaries of one node read from several inputs (e.g. the
// nf_tables and legacy dumps, IPv4 and IPv6, nft and ipvsadm listings).
func Merge(parts ...*Summary) *Summary {
	var bs []*builder
	for _, p := range parts {
		if p == nil {
			continue
		}
		bs = append(bs, fromSummary(p))
	}
	return merge(bs)
}

// fromSummary turns a finished Summary back into one builder so that Merge
// can reuse merge's folding. Dump infos are carried over as they were.
func fromSummary(s *Summary) *builder {
	b := newBuilder("merged")
	for _, v := range s.KubeServiceChains {
		b.svcChains.add(v)
	}
	for _, v := range s.CiliumChains {
		b.ciliumChains.add(v)
	}
	for _, v := range s.CiliumFeeders {
		b.feeders.add(v)
	}
	for _, v := range s.KubeProxyChains {
		b.kpChains.add(v)
	}
	for _, v := range s.KubeletChains {
		b.kubelet.add(v)
	}
	for _, o := range s.Other {
		b.other[o.Implementation] = set{}
		for _, c := range o.Chains {
			b.other[o.Implementation].add(c)
		}
	}
	b.counts = s.Counts
	b.ipvsMatchSets = s.IPVSMatchSets
	for i := range s.Services {
		sc := s.Services[i]
		b.services[sc.Chain] = &sc
	}
	b.nftTables = s.KubeProxyNFTables
	b.ipvs = s.IPVS
	b.warnings = s.Warnings
	b.mergedDumps = s.Dumps
	return b
}
