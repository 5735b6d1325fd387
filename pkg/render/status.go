package render

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// ServicesByTone is how a verdict is colored everywhere.
func ServicesByTone(s verdict.ServicesBy) Tone {
	switch s {
	case verdict.Cilium:
		return ToneGood
	case verdict.KubeProxyIPTables, verdict.KubeProxyIPVS, verdict.KubeProxyNFTables:
		return ToneInfo
	case verdict.Both, verdict.None:
		return ToneBad
	case verdict.Partial, verdict.Unknown:
		return ToneWarn
	}
	return ToneNone
}

// Status prints the `status` header, node table and the notes under it.
func Status(w io.Writer, rep *report.Status, p Palette, wide bool) error {
	statusHeader(w, rep, p)
	fmt.Fprintln(w)

	header := []string{"NODE", "INTERNAL-IP", "READY", "CILIUM-AGENT", "KPR", "KPR-CONFIG", "KUBE-PROXY", "SERVICES-BY"}
	if wide {
		header = append(header, "KERNEL", "OS-IMAGE", "CHAINING", "DEVICES", "TAINTS")
	}
	rows := make([][]string, 0, len(rep.Nodes))
	for _, n := range rep.Nodes {
		ready := p.Good("Ready")
		if !n.Ready {
			ready = p.Bad("NotReady")
		}
		agent := p.Faint("-")
		if a := n.CiliumAgent; a != nil {
			agent = Safe(a.Pod)
			if !a.Ready {
				agent += " " + p.Warn("(not ready)")
			}
		}
		kpr := p.Faint("-")
		if k := n.KubeProxyReplacement; k != nil {
			kpr = p.Paint(replacementTone(k.ReplacesKubeProxy), Safe(k.Mode))
		} else if n.CiliumAgent != nil {
			kpr = p.Warn("?")
		}
		kp := p.Faint("-")
		if n.KubeProxyPod != nil {
			kp = Safe(*n.KubeProxyPod)
		}
		sb := p.Paint(ServicesByTone(n.ServicesBy), string(n.ServicesBy))
		if len(n.Warnings) > 0 || len(n.Errors) > 0 {
			sb += " " + p.Warn("(!)")
		}
		row := []string{Safe(n.Name), n.InternalIP, ready, agent, kpr, kprConfigCell(n.NodeConfig, p), kp, sb}
		if wide {
			row = append(row, Safe(orDash(n.KernelVersion)), Safe(orDash(n.OSImage)), Safe(orDash(n.CNIChaining)), devicesCell(n.KubeProxyReplacement), Safe(orDash(strings.Join(n.Taints, ","))))
		}
		rows = append(rows, row)
	}
	if err := Table(w, header, rows); err != nil {
		return err
	}
	nodeConfigs(w, rep, p, wide)
	return statusNotes(w, rep, p)
}

// kprConfigCell is the kube-proxy-replacement a node's agent is configured
// with, marked when a per-node source set it: "(cnc)" a CiliumNodeConfig,
// "(node)" a node label or annotation, "*" a change not applied yet.
func kprConfigCell(c *report.NodeConfig, p Palette) string {
	if c == nil {
		return p.Faint("-")
	}
	k, ok := c.Get("kube-proxy-replacement")
	if !ok {
		return p.Faint("unset")
	}
	cell := Safe(orDefaultStr(k.Value, `""`))
	if m := originMarker(k.Origin); m != "" {
		cell += " " + p.Info(m)
	}
	if k.Configured != nil {
		cell += p.Warn("*")
	}
	return cell
}

func originMarker(origin string) string {
	switch {
	case strings.HasPrefix(origin, "CiliumNodeConfig "):
		return "(cnc)"
	case strings.HasPrefix(origin, "node "):
		return "(node)"
	}
	return ""
}

// nodeConfigs lists, per node, the KPR-related keys that a per-node
// source sets or that wait for the agent's restart (every key with
// -o wide), where each came from, and how kpr found it.
func nodeConfigs(w io.Writer, rep *report.Status, p Palette, wide bool) {
	var lines []string
	for _, n := range rep.Nodes {
		c := n.NodeConfig
		if c == nil {
			continue
		}
		var keys []string
		for _, k := range c.Keys {
			if !wide && originMarker(k.Origin) == "" && k.Configured == nil {
				continue
			}
			line := "    " + Safe(k.Key) + "=" + Safe(k.Value) + "  " + p.Faint("from "+Safe(k.Origin))
			if k.Configured != nil {
				line += "  " + p.Warn("configured now: "+Safe(*k.Configured)+" from "+Safe(k.ConfiguredOrigin)+" (not applied until the agent pod is re-created)")
			}
			keys = append(keys, line)
		}
		if len(keys) == 0 && c.Rollout == nil && c.Error == "" {
			continue
		}
		head := "  " + p.Bold(Safe(n.Name)) + "  " + p.Faint(readFromText(c))
		if wide && len(c.Sources) > 0 {
			head += "  " + p.Faint("sources: "+Safe(strings.Join(c.Sources, ", ")))
		}
		lines = append(lines, head)
		lines = append(lines, keys...)
		if c.Rollout != nil {
			tone := p.Good
			if c.Rollout.State != "finished" {
				tone = p.Warn
			}
			line := "    " + tone("KPR rollout "+c.Rollout.State)
			if len(c.Rollout.Unchecked) > 0 {
				line += " " + p.Faint("(not checked: "+Safe(strings.Join(c.Rollout.Unchecked, ", "))+")")
			}
			lines = append(lines, line)
		}
		if c.Error != "" {
			lines = append(lines, "    "+p.Bad("build-config fails: "+Safe(c.Error)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Per-node configuration (CiliumNodeConfigs, config.cilium.io node keys):")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func readFromText(c *report.NodeConfig) string {
	if c.ReadFrom == "agent" {
		return "(read from the agent's config dir)"
	}
	return "(computed from the API objects, as the agent's config init container does)"
}

func statusHeader(w io.Writer, rep *report.Status, p Palette) {
	c := rep.Cilium
	if c.Found {
		line := "Cilium:        " + p.Bold(orDefaultStr(c.Version, "version unknown")) + " in namespace " + Safe(c.Namespace)
		if ds := c.DaemonSet; ds != nil {
			counts := fmt.Sprintf("%d/%d ready", ds.Ready, ds.Desired)
			if ds.Ready < ds.Desired {
				counts = p.Warn(counts)
			} else {
				counts = p.Good(counts)
			}
			line += fmt.Sprintf(", DaemonSet %s %s", Safe(ds.Name), counts)
			if len(ds.NodeSelector) > 0 {
				line += ", nodeSelector " + Safe(mapString(ds.NodeSelector))
			}
		}
		fmt.Fprintln(w, line)
		if len(c.Config) > 0 {
			for i, l := range wrapWords(Safe(configLine(c.Config)), 100) {
				label := "cilium-config: "
				if i > 0 {
					label = strings.Repeat(" ", len(label))
				}
				fmt.Fprintln(w, label+l)
			}
		} else {
			fmt.Fprintln(w, "cilium-config: "+p.Warn("not found"))
		}
	} else {
		fmt.Fprintln(w, "Cilium:        "+p.Warn("not found")+" (looked at "+Safe(c.SearchedIn)+")")
	}
	k := rep.KubeProxy
	if k.Found {
		line := "kube-proxy:    " + p.Bold(k.Mode) + " (" + Safe(k.ModeFrom) + ")"
		if ds := k.DaemonSet; ds != nil {
			line += fmt.Sprintf(", DaemonSet %s/%s %d/%d ready", Safe(ds.Namespace), Safe(ds.Name), ds.Ready, ds.Desired)
		}
		line += fmt.Sprintf(", %d pod(s)", k.Pods)
		if len(k.PodsByMode) > 0 {
			modes := make([]string, 0, len(k.PodsByMode))
			for m := range k.PodsByMode {
				modes = append(modes, m)
			}
			sort.Strings(modes)
			for i, m := range modes {
				modes[i] = fmt.Sprintf("%d %s", k.PodsByMode[m], Safe(m))
			}
			line += " by mode: " + strings.Join(modes, ", ")
		}
		fmt.Fprintln(w, line)
	} else {
		fmt.Fprintln(w, "kube-proxy:    "+p.Faint("absent")+" (no DaemonSet kube-system/kube-proxy, no pods labelled k8s-app=kube-proxy)")
	}
}

func statusNotes(w io.Writer, rep *report.Status, p Palette) error {
	var lines []string
	for _, wn := range rep.Warnings {
		lines = append(lines, p.Warn("warning")+": "+Safe(wn.Message)+" ["+wn.Code+"]")
	}
	for _, n := range rep.Nodes {
		for _, wn := range n.Warnings {
			lines = append(lines, p.Warn("warning")+" "+Safe(n.Name)+": "+Safe(wn.Message)+" ["+wn.Code+"]")
		}
		for _, e := range n.Errors {
			lines = append(lines, p.Bad("error")+" "+Safe(n.Name)+": "+Safe(e))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

func replacementTone(r string) Tone {
	switch r {
	case report.ReplacesFull:
		return ToneGood
	case report.ReplacesPartial:
		return ToneWarn
	}
	return ToneBad
}

// DevicesString renders a KPR device list the way Cilium prints it.
func DevicesString(k *report.KPR) string {
	if k == nil || len(k.Devices) == 0 {
		return ""
	}
	parts := make([]string, 0, len(k.Devices))
	for _, d := range k.Devices {
		s := strings.Join(append([]string{d.Name}, d.Addresses...), " ")
		if d.DirectRouting {
			s += " (Direct Routing)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func devicesCell(k *report.KPR) string { return Safe(orDash(DevicesString(k))) }

// configLine prints the decisive keys first, in a stable order.
func configLine(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := configPriority(keys[i]), configPriority(keys[j])
		if pi != pj {
			return pi < pj
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+cfg[k])
	}
	return strings.Join(parts, " ")
}

func configPriority(k string) int {
	switch k {
	case "kube-proxy-replacement":
		return 0
	case "cni-chaining-mode":
		return 1
	case "cni-chaining-target":
		return 2
	}
	return 3
}

func mapString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func orDash(s string) string { return orDefaultStr(s, "-") }

func orDefaultStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// wrapWords breaks a space-separated line into lines of at most width
// characters (a single longer word stays whole).
func wrapWords(s string, width int) []string {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(word) > width {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += " "
		}
		cur += word
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
