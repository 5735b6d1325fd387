// Package inspect turns one node's host dump (pkg/interpret/hostdump) and
// the cluster's API facts into that node's inspect report: which rules
// the node holds, from which tools, and what kpr finds about them. It is
// the heart of inspect, diff and verify, and pure: no client, no exec.
package inspect

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/findings"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/hostdump"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/netfilter"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/textutil"
)

// ClusterFacts are the API facts inspect needs beside the node dumps.
type ClusterFacts struct {
	KubeProxyPod map[string]string // node → namespace/pod
	CiliumAgent  map[string]string // node → namespace/pod
	// CiliumKPR is cilium-config's kube-proxy-replacement as full /
	// partial / none, "" when unset or unread.
	CiliumKPR     string
	Services      []findings.ServicePort
	ServicesKnown bool
	// Warnings say which facts could not be read, and what that costs.
	Warnings []string
}

// Where a node's Cilium KPR level comes from.
const (
	KPRFromAgent  = "agent"
	KPRFromConfig = "cilium-config"
)

// KPRLevel is a node's Cilium KPR level and where it was read.
type KPRLevel struct {
	Level, From string
}

// LevelFor picks a node's KPR level: the agent's own status when it was
// read (diff and verify read it), else cilium-config's (inspect).
func (f ClusterFacts) LevelFor(agentLevel string) KPRLevel {
	if agentLevel != "" {
		return KPRLevel{Level: agentLevel, From: KPRFromAgent}
	}
	return KPRLevel{Level: f.CiliumKPR, From: KPRFromConfig}
}

// iptablesSections are read as iptables-save dumps, in this order.
var iptablesSections = []string{
	hostdump.SecIPTablesNFT, hostdump.SecIPTablesLegacy,
	hostdump.SecIP6TablesNFT, hostdump.SecIP6TablesLegacy,
	hostdump.SecIPTables, hostdump.SecIP6Tables,
}

// RawSections are printed by --raw, in this order.
var RawSections = append(append([]string{}, iptablesSections...),
	hostdump.SecIPTablesVersion, hostdump.SecNFT, hostdump.SecIPVS, hostdump.SecKubeIPVS0, hostdump.SecIPSet, hostdump.SecProxyMode)

// Node turns one node's dump and the API facts into its report; raw
// keeps the dumps' text for --raw.
func Node(name string, d hostdump.Dump, f ClusterFacts, kpr KPRLevel, raw bool) report.InspectNode {
	n := report.InspectNode{
		Name: name, Sources: map[string]string{}, Findings: []report.Finding{}, Errors: []string{},
		KubeProxyPod: f.KubeProxyPod[name], CiliumAgent: f.CiliumAgent[name],
	}
	if n.CiliumAgent != "" && kpr.Level != "" {
		n.CiliumKPR, n.CiliumKPRFrom = kpr.Level, kpr.From
	}
	for name, s := range d.Sections {
		n.Sources[name] = s.Source
	}
	var parts []*netfilter.Summary
	sources := map[string]bool{}
	iptablesNFTRead := false
	for _, sec := range iptablesSections {
		s, ok := d.Sections[sec]
		if !ok {
			continue
		}
		if !s.OK() {
			if s.Source != hostdump.SourceMissing && s.Source != hostdump.SourceSkipped && !benignIPTablesFailure(s) {
				n.Errors = append(n.Errors, fmt.Sprintf("%s (%s) failed with exit code %d: %s", sec, s.Source, s.ExitCode, textutil.FirstLine(s.Stderr)))
			}
			continue
		}
		sources[s.Source] = true
		if strings.TrimSpace(s.Stdout) == "" {
			continue // no tables in this backend/family
		}
		sum, err := netfilter.ParseIPTablesSave(strings.NewReader(s.Stdout))
		if err != nil {
			n.Errors = append(n.Errors, fmt.Sprintf("%s: %v", sec, err))
			continue
		}
		if sec == hostdump.SecIPTablesNFT || sec == hostdump.SecIP6TablesNFT {
			iptablesNFTRead = true
		}
		parts = append(parts, sum)
	}
	if s, ok := d.Sections[hostdump.SecNFT]; ok && s.OK() && strings.TrimSpace(s.Stdout) != "" {
		sources[s.Source] = true
		sum, err := netfilter.ParseNFT(strings.NewReader(s.Stdout))
		switch {
		case err != nil:
			n.Errors = append(n.Errors, "nft list ruleset: "+err.Error())
		case iptablesNFTRead:
			// The listing repeats the iptables-nft tables already read
			// through iptables-nft-save; keep only kube-proxy's own tables.
			parts = append(parts, &netfilter.Summary{KubeProxyNFTables: sum.KubeProxyNFTables, Dumps: sum.Dumps})
		default:
			parts = append(parts, sum)
		}
	}
	if s, ok := d.Sections[hostdump.SecIPVS]; ok && s.OK() && strings.TrimSpace(s.Stdout) != "" {
		if sum, err := netfilter.ParseIPVSAdm(strings.NewReader(s.Stdout)); err != nil {
			n.Errors = append(n.Errors, "ipvsadm -Ln: "+err.Error())
		} else {
			parts = append(parts, sum)
		}
	}
	var rules *netfilter.Summary
	if len(parts) > 0 {
		rules = netfilter.Merge(parts...)
	} else if len(sources) > 0 {
		rules = netfilter.Merge(&netfilter.Summary{})
	}
	n.Netfilter = report.RulesFrom(rules)
	if s, ok := d.Sections[hostdump.SecKubeIPVS0]; ok {
		n.KubeIPVS0 = s.OK()
	}
	pm := d.Get(hostdump.SecProxyMode)
	n.Sources[hostdump.SecProxyMode] = pm.Source
	n.KubeProxyMode = ProxyModeAnswer(pm)
	if n.KubeProxyMode == ProxyModeUnknown {
		n.Errors = append(n.Errors, "kube-proxy /proxyMode probe did not run: "+textutil.FirstLine(pm.Stderr))
	}

	var srcs []string
	for s := range sources {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	n.RulesSource = strings.Join(srcs, ", ")
	if n.RulesSource == "" {
		n.RulesSource = "none"
		n.Errors = append(n.Errors, "no rules could be read: neither the host nor the image has iptables-save or nft")
	}

	in := findings.Input{
		Node: name, Rules: rules, KubeIPVS0: n.KubeIPVS0,
		ProxyModeChecked: n.KubeProxyMode != ProxyModeUnknown,
		KubeProxyPod:     n.KubeProxyPod,
		CiliumAgent:      n.CiliumAgent != "", CiliumKPR: n.CiliumKPR, CiliumKPRFrom: n.CiliumKPRFrom,
		Services: f.Services, ServicesKnown: f.ServicesKnown,
	}
	if n.KubeProxyMode != ProxyModeNone && n.KubeProxyMode != ProxyModeUnknown {
		in.ProxyMode = n.KubeProxyMode
	}
	res := findings.ForNode(in)
	n.Findings = append(n.Findings, res.Findings...)
	n.StaleServiceChains = res.Stale
	if raw {
		n.Raw = map[string]string{}
		for _, sec := range RawSections {
			if s, ok := d.Sections[sec]; ok {
				n.Raw[sec] = s.Stdout
			}
		}
	}
	return n
}

// benignIPTablesFailure: a legacy save on a host without the legacy
// modules, or ip6tables without IPv6, fails with "can't initialize" /
// "Table does not exist": there are simply no such rules. iptables says
// so only in its stderr text; it has no distinct exit code for it.
func benignIPTablesFailure(s hostdump.Section) bool {
	e := strings.ToLower(s.Stderr)
	return strings.Contains(e, "can't initialize") || strings.Contains(e, "does not exist") ||
		strings.Contains(e, "not supported") || strings.Contains(e, "address family not supported")
}

// kube-proxy's /proxyMode answers besides a mode's own name.
const (
	ProxyModeNone    = "none"    // nothing listens: no kube-proxy
	ProxyModeUnknown = "unknown" // the probe did not run
)

// ProxyModeAnswer reads the /proxyMode probe: kube-proxy answers one word
// (k/k cmd/kube-proxy/app/server.go serveMetrics); curl's exit 7 (and a
// timeout, an empty reply, a failed receive) means nothing listens.
func ProxyModeAnswer(s hostdump.Section) string {
	switch {
	case s.Source == hostdump.SourceMissing:
		return ProxyModeUnknown
	case s.ExitCode == 0:
		v := strings.TrimSpace(s.Stdout)
		if v != "" && !strings.ContainsAny(v, " \n<{") && len(v) < 32 {
			return v
		}
		return ProxyModeNone
	case s.ExitCode == 7 || s.ExitCode == 28 || s.ExitCode == 52 || s.ExitCode == 56:
		return ProxyModeNone
	}
	return ProxyModeUnknown
}
