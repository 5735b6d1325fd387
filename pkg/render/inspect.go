package render

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// InspectOptions select inspect's extra output.
type InspectOptions struct {
	// Wide adds per-node detail: sources, chain→Service mapping, stale
	// chains, nftables tables.
	Wide bool
	// Raw prints the dumps as read.
	Raw bool
}

// Inspect prints `kubectl kpr inspect`: one row per node, then each
// node's findings (and, wide, its chain→Service mapping).
func Inspect(w io.Writer, rep *report.Inspect, p Palette, o InspectOptions) error {
	header := []string{"NODE", "RULES FROM", "PROXYMODE", "RULE MODES", "KUBE-SVC/SVL", "KUBE-SEP", "NODEPORTS", "CILIUM", "OTHER", "FINDINGS"}
	rows := make([][]string, 0, len(rep.Nodes))
	for _, n := range rep.Nodes {
		modes, svc, sep, np, cil, other := "-", "0", "0", "0", "0", "-"
		if nf := n.Netfilter; nf != nil {
			if len(nf.KubeProxyModes) > 0 {
				modes = strings.Join(nf.KubeProxyModes, ",")
			}
			svc = strconv.Itoa(len(nf.KubeServiceChains))
			sep = strconv.Itoa(nf.Counts.KubeSEP.Chains)
			np = strconv.Itoa(nf.Counts.KubeNodePorts.Rules)
			cil = strconv.Itoa(len(nf.CiliumChains))
			var os []string
			for _, m := range nf.Other {
				os = append(os, m.Implementation)
			}
			if len(os) > 0 {
				other = strings.Join(os, ",")
			}
		}
		if n.KubeIPVS0 {
			modes = strings.TrimPrefix(modes+",kube-ipvs0", "-,")
		}
		proxy := n.KubeProxyMode
		switch proxy {
		case "none", "unknown", "":
			proxy = p.Faint(orDash(proxy))
		default:
			proxy = p.Info(Safe(proxy))
		}
		if modes != "-" {
			modes = p.Info(modes)
		}
		rows = append(rows, []string{Safe(n.Name), Safe(n.RulesSource), proxy, modes, svc, sep, np, cil, Safe(other), findingCodes(n.Findings, p)})
	}
	if err := Table(w, header, rows); err != nil {
		return err
	}
	for _, n := range rep.Nodes {
		if len(n.Findings) == 0 && len(n.Errors) == 0 && !o.Wide {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", p.Bold(Safe(n.Name)))
		for _, f := range n.Findings {
			tone := ToneWarn
			if f.Severity == report.SeverityInfo {
				tone = ToneInfo
			}
			fmt.Fprintf(w, "  %s %s\n", p.Paint(tone, f.Code+":"), Safe(f.Message))
		}
		for _, e := range n.Errors {
			fmt.Fprintf(w, "  %s %s\n", p.Bad("error:"), Safe(e))
		}
		if o.Wide {
			inspectWide(w, n, p)
		}
	}
	if o.Raw {
		for _, n := range rep.Nodes {
			for _, sec := range rawOrder(n.Raw) {
				fmt.Fprintf(w, "\n%s\n", p.Bold(fmt.Sprintf("=== %s: %s (%s) ===", Safe(n.Name), sec, Safe(n.Sources[sec]))))
				text := n.Raw[sec]
				if strings.TrimSpace(text) == "" {
					text = "(empty)\n"
				}
				if !strings.HasSuffix(text, "\n") {
					text += "\n"
				}
				fmt.Fprint(w, Safe(text))
			}
		}
	}
	return nil
}

func inspectWide(w io.Writer, n report.InspectNode, p Palette) {
	var srcs []string
	for k, v := range n.Sources {
		srcs = append(srcs, k+"="+v)
	}
	sort.Strings(srcs)
	fmt.Fprintf(w, "  %s %s\n", p.Faint("sources:"), Safe(strings.Join(srcs, " ")))
	if n.KubeProxyPod != "" {
		fmt.Fprintf(w, "  %s %s\n", p.Faint("kube-proxy pod:"), Safe(n.KubeProxyPod))
	}
	if n.CiliumAgent != "" {
		fmt.Fprintf(w, "  %s %s (KPR %s)\n", p.Faint("cilium agent:"), Safe(n.CiliumAgent), orDash(n.CiliumKPR))
	}
	nf := n.Netfilter
	if nf == nil {
		return
	}
	for _, t := range nf.KubeProxyNFTables {
		fmt.Fprintf(w, "  %s %s %s: %d chains, %d rules, %d service chains\n", p.Faint("nftables:"), t.Family, t.Name, t.Chains, t.Rules, len(t.ServiceChains))
	}
	if nf.IPVS != nil {
		fmt.Fprintf(w, "  %s %d virtual services, %d real servers\n", p.Faint("ipvs:"), nf.IPVS.VirtualServices, nf.IPVS.RealServers)
	}
	stale := map[string]bool{}
	for _, s := range n.StaleServiceChains {
		stale[s.Chain] = true
	}
	for _, s := range nf.Services {
		target := s.ServicePort
		if s.ClusterIP != "" {
			target += " " + s.ClusterIP + ":" + s.Port + "/" + s.Protocol
		}
		mark := ""
		if stale[s.Chain] {
			mark = " " + p.Warn("(Service gone)")
		}
		fmt.Fprintf(w, "  %s -> %s%s\n", Safe(s.Chain), Safe(target), mark)
	}
	for _, s := range n.StaleServiceChains {
		if !containsChain(nf.Services, s.Chain) {
			fmt.Fprintf(w, "  %s -> %s %s\n", Safe(s.Chain), Safe(orDash(s.ServicePort)), p.Warn("(Service gone)"))
		}
	}
	for _, warn := range nf.Warnings {
		fmt.Fprintf(w, "  %s %s\n", p.Faint("note:"), Safe(warn))
	}
}

func containsChain(svcs []report.ServiceChain, chain string) bool {
	for _, s := range svcs {
		if s.Chain == chain {
			return true
		}
	}
	return false
}

func findingCodes(fs []report.Finding, p Palette) string {
	if len(fs) == 0 {
		return p.Good("none")
	}
	var out []string
	for _, f := range fs {
		if f.Severity == report.SeverityInfo {
			out = append(out, p.Info(f.Code))
		} else {
			out = append(out, p.Warn(f.Code))
		}
	}
	return strings.Join(out, ",")
}

// rawDumpOrder is the order --raw prints a node's dumps in (the section
// names of pkg/collect/debugpod's dump); others follow by name.
var rawDumpOrder = []string{
	"iptables-nft", "iptables-legacy", "ip6tables-nft", "ip6tables-legacy",
	"iptables", "ip6tables", "iptables-version", "nft", "ipvsadm", "kube-ipvs0", "ipset", "proxymode",
}

func rawOrder(raw map[string]string) []string {
	var out []string
	known := map[string]bool{}
	for _, k := range rawDumpOrder {
		known[k] = true
		if _, ok := raw[k]; ok {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range raw {
		if !known[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
