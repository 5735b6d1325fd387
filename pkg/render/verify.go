package render

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/verdict"
)

// Verify prints `kubectl kpr verify`'s terminal report: the cluster, how
// the nodes were chosen, one summary table per class, the failures and
// warnings with their evidence, and the verdict line.
func Verify(w io.Writer, res *report.Verify, p Palette) error {
	verifyHeader(w, res, p)
	for _, c := range res.Classes {
		fmt.Fprintln(w)
		title := fmt.Sprintf("%s: %s, checked %s", c.Name, Count(len(c.Nodes), "node"), orDash(strings.Join(c.Chosen, ", ")))
		fmt.Fprintln(w, p.Paint(ServicesByTone(verdict.ServicesBy(c.Name)), Safe(title)))
		rows := [][]string{}
		for _, cell := range classCells(res, c) {
			rows = append(rows, []string{Safe(cell.Node), cell.Check, p.Paint(ResultTone(cell.Result), cell.Summary()), Safe(cell.Reason)})
		}
		if len(rows) == 0 {
			fmt.Fprintln(w, p.Faint("  no checks ran from this class"))
			continue
		}
		if err := Table(w, []string{"NODE", "CHECK", "RESULT", "DETAIL"}, rows); err != nil {
			return err
		}
	}
	for _, kind := range []string{report.ResultFail, report.ResultWarn} {
		checks := checksWith(res.Checks, kind)
		if len(checks) == 0 {
			continue
		}
		fmt.Fprintln(w)
		title := "Failures:"
		if kind == report.ResultWarn {
			title = "Warnings:"
		}
		fmt.Fprintln(w, p.Bold(title))
		for _, g := range checkGroups(checks) {
			c := g.First
			fmt.Fprintf(w, "  %s %s %s: %s\n", p.Paint(ResultTone(kind), resultMark(kind)), Safe(c.Node), Safe(g.Label), Safe(c.Reason))
			if ev := VerifyEvidenceLine(c.Evidence); ev != "" {
				fmt.Fprintf(w, "      evidence: %s\n", Safe(ev))
			}
			if c.Reproduce != "" {
				fmt.Fprintf(w, "      reproduce: %s\n", p.Faint(Safe(c.Reproduce)))
			}
		}
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, p.Bold("Not checked:"))
		for _, e := range res.Errors {
			fmt.Fprintf(w, "  %s %s: %s\n", p.Bad("!"), Safe(e.Node), Safe(e.Message))
		}
	}
	fmt.Fprintln(w)
	if len(res.Created) > 0 {
		state := p.Good("deleted")
		if !res.CleanedUp {
			state = p.Bad("NOT all deleted: run `kubectl kpr cleanup`")
		}
		fmt.Fprintf(w, "Created for this run (%s): %s\n", state, Safe(strings.Join(res.Created, ", ")))
	}
	fmt.Fprintln(w, VerdictLine(res, p))
	return nil
}

func verifyHeader(w io.Writer, res *report.Verify, p Palette) {
	cl := res.Cluster
	server := cl.Server
	if cl.Context != "" {
		server = cl.Context + " (" + cl.Server + ")"
	}
	line := "Cluster: " + orDash(server)
	if cl.ServerVersion != "" {
		line += ", Kubernetes " + cl.ServerVersion
	}
	fmt.Fprintln(w, Safe(line))
	if cl.CiliumVersion != "" || cl.CiliumNamespace != "" {
		fmt.Fprintln(w, Safe("Cilium: "+orDash(cl.CiliumVersion)+" in "+orDash(cl.CiliumNamespace)+ciliumConfigLine(keyConfig(cl.CiliumConfig))))
	} else {
		fmt.Fprintln(w, "Cilium: not found")
	}
	if cl.KubeProxyMode != "" || cl.KubeProxyVersion != "" {
		fmt.Fprintln(w, Safe("kube-proxy: mode "+orDash(cl.KubeProxyMode)+", "+orDash(cl.KubeProxyVersion)))
	} else {
		fmt.Fprintln(w, "kube-proxy: not found")
	}
	fmt.Fprintln(w, Safe("Nodes checked: "+ChoiceLine(res)))
	for i, t := range res.Targets {
		head := "Targets:"
		if i > 0 {
			head = "        "
		}
		fmt.Fprintln(w, head, Safe(TargetLabel(t)))
	}
	fmt.Fprintln(w, p.Faint(fmt.Sprintf("Phases: %s", phasesLine(res.Phases))))
}

// ChoiceLine says how the checked nodes were chosen, and how to choose the
// same ones again.
func ChoiceLine(res *report.Verify) string {
	o := res.Options
	switch {
	case len(o.Nodes) > 0:
		return "the nodes named: " + strings.Join(o.Nodes, ", ")
	case o.AllNodes:
		return "all nodes (--all-nodes)"
	}
	return fmt.Sprintf("a sample of %d per class, seed %d (--seed %d picks the same nodes)", o.Sample, o.Seed, o.Seed)
}

// TargetLabel is "ns/name:port ClusterIP 10.96.0.10:80, NodePort 30080, backends on node-a (cilium)".
func TargetLabel(t report.VerifyTarget) string {
	s := t.Service + ":" + t.Port
	if t.ClusterIP != "" {
		s += " ClusterIP " + joinHostPort(t.ClusterIP, t.PortNumber)
	}
	if t.NodePort != 0 {
		s += fmt.Sprintf(", NodePort %d", t.NodePort)
	}
	if t.ExternalTrafficPolicy == "Local" {
		s += " (externalTrafficPolicy Local)"
	}
	if len(t.BackendNodes) > 0 {
		var bs []string
		for i, n := range t.BackendNodes {
			c := ""
			if i < len(t.BackendClasses) {
				c = " (" + t.BackendClasses[i] + ")"
			}
			bs = append(bs, n+c)
		}
		s += ", backends on " + strings.Join(bs, ", ")
	} else {
		s += ", no ready backend"
	}
	return s
}

func joinHostPort(ip string, port int32) string {
	if strings.Contains(ip, ":") {
		return "[" + ip + "]:" + strconv.Itoa(int(port))
	}
	return ip + ":" + strconv.Itoa(int(port))
}

func ciliumConfigLine(cfg map[string]string) string {
	if len(cfg) == 0 {
		return ""
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var kv []string
	for _, k := range keys {
		kv = append(kv, k+"="+cfg[k])
	}
	return "; cilium-config " + strings.Join(kv, " ")
}

func phasesLine(ph []report.VerifyPhase) string {
	if len(ph) == 0 {
		return "-"
	}
	var parts []string
	for _, x := range ph {
		parts = append(parts, fmt.Sprintf("%s %s", x.Name, Seconds(x.DurationMs)))
	}
	return strings.Join(parts, ", ")
}

// Seconds formats milliseconds as "1.2s".
func Seconds(ms float64) string { return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s" }

// VerdictLine is the last line: "verify: PASS (40 checks: 37 pass, 0 fail, 3 warn, 0 skip) in 12.3s".
func VerdictLine(res *report.Verify, p Palette) string {
	s := res.Summary
	word := p.Good("PASS")
	if s.Result == report.ResultFail {
		word = p.Bad("FAIL")
	}
	return fmt.Sprintf("verify: %s (%s: %d pass, %d fail, %d warn, %d skip) in %s", word, Count(s.Checks, "check"), s.Pass, s.Fail, s.Warn, s.Skip, Seconds(res.DurationMs))
}

// ResultTone colors a check result.
func ResultTone(r string) Tone {
	switch r {
	case report.ResultPass:
		return ToneGood
	case report.ResultFail:
		return ToneBad
	case report.ResultWarn:
		return ToneWarn
	}
	return ToneNone
}

func resultMark(r string) string {
	switch r {
	case report.ResultFail:
		return "✗"
	case report.ResultWarn:
		return "!"
	case report.ResultPass:
		return "✓"
	}
	return "-"
}

// CheckLabel names a check with its target: "nodeport-remote ns/svc:http via node-b".
func CheckLabel(c report.VerifyCheck) string {
	s := c.Name
	if c.Case != "" {
		s += " [" + c.Case + "]"
	}
	if c.Service != "" {
		s += " " + c.Service
	}
	if c.Target != "" {
		s += " → " + c.Target
	}
	if c.Via != "" {
		s += " via " + c.Via
		if c.ViaClass != "" {
			s += " (" + c.ViaClass + ")"
		}
	}
	return s
}

// countsLine is "backend-a 10, backend-b 0" in name order.
func countsLine(m map[string]int) string {
	if len(m) == 0 {
		return "no answer"
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, m[n])
	}
	return strings.Join(parts, ", ")
}

// VerifyEvidenceLine is a check's evidence in one line.
func VerifyEvidenceLine(ev report.VerifyEvidence) string {
	var parts []string
	if pr := ev.Probe; pr != nil {
		s := "probe " + pr.Outcome
		if pr.LatencyMs > 0 {
			s += " in " + strconv.FormatFloat(pr.LatencyMs, 'f', -1, 64) + "ms"
		}
		if pr.HTTPStatus != 0 {
			s += fmt.Sprintf(", HTTP %d", pr.HTTPStatus)
		}
		if pr.Attempts > 1 {
			s += fmt.Sprintf(", %d attempts", pr.Attempts)
		}
		if pr.Detail != "" {
			s += " (" + pr.Detail + ")"
		}
		if pr.Requests > 0 {
			s += fmt.Sprintf("; %d requests: %s", pr.Requests, countsLine(pr.Backends))
			if len(pr.Spread) > 0 {
				s += "; without affinity: " + countsLine(pr.Spread)
			}
		}
		parts = append(parts, s)
		if pr.ServedBy != "" {
			sb := "served by " + pr.ServedBy
			if pr.ServedByReason != "" {
				sb += " (" + pr.ServedByReason + ")"
			}
			parts = append(parts, sb)
		}
	}
	if r := ev.Rules; r != nil {
		s := fmt.Sprintf("rules: %d KUBE-SVC/SVL chains, %d KUBE-SEP chains, %d KUBE-NODEPORTS rules, %d CILIUM_* chains",
			r.KubeServiceChains, r.KubeSEPChains, r.KubeNodePortRules, r.CiliumChains)
		if r.KubeProxyNFTables {
			s += ", kube-proxy nftables table"
		}
		if r.IPVSServices > 0 {
			s += fmt.Sprintf(", %d IPVS services", r.IPVSServices)
		}
		if r.ProxyMode != "" {
			s += ", kube-proxy mode " + r.ProxyMode
		}
		if len(r.Findings) > 0 {
			s += "; findings " + strings.Join(r.Findings, ", ")
		}
		parts = append(parts, s)
	}
	if f := ev.Frontends; f != nil {
		s := fmt.Sprintf("agent %s has %d of %d frontends", f.Agent, f.Found, f.Expected)
		if len(f.Problems) > 0 {
			s += ": " + strings.Join(f.Problems, ", ")
		}
		parts = append(parts, s)
	}
	if ev.Text != "" {
		parts = append(parts, ev.Text)
	}
	return strings.Join(parts, "; ")
}

// cell is one node × check name: every check of that name on the node
// (one per Service, target or remote node), reduced to the worst result.
type cell struct {
	Node, Check, Result string
	// Counts by result, and the reason of the worst check.
	Pass, Fail, Warn, Skip int
	Reason                 string
}

// Summary is "pass", or "2 fail / 4" when several checks share the cell.
func (c cell) Summary() string {
	n := c.Pass + c.Fail + c.Warn + c.Skip
	if n <= 1 {
		return c.Result
	}
	var parts []string
	for _, x := range []struct {
		n int
		r string
	}{{c.Fail, report.ResultFail}, {c.Warn, report.ResultWarn}, {c.Pass, report.ResultPass}, {c.Skip, report.ResultSkip}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.r))
		}
	}
	return strings.Join(parts, ", ")
}

func severity(r string) int {
	switch r {
	case report.ResultFail:
		return 3
	case report.ResultWarn:
		return 2
	case report.ResultPass:
		return 1
	}
	return 0
}

// checkOrder is the order checks are shown in: the node's own facts first,
// then the probes from the nearest to the farthest.
var checkOrder = []string{
	report.CheckNodeReachable, report.CheckStatusWarnings, report.CheckAgentKPR, report.CheckKPRConfig, report.CheckAgentServiceTable,
	report.CheckNoKubeProxyRules, report.CheckKubeProxyRules, report.CheckSingleDatapath, report.CheckServiceDatapath,
	report.CheckCiliumFrontends, report.CheckClusterIP, report.CheckNodePortLocal, report.CheckNodePortLoopback,
	report.CheckNodePortAny, report.CheckNodePortRemote,
}

func checkRank(name string) int {
	for i, n := range checkOrder {
		if n == name {
			return i
		}
	}
	return len(checkOrder)
}

// checkNames are the check names that occur, in display order.
func checkNames(checks []report.VerifyCheck) []string {
	seen := map[string]bool{}
	var names []string
	for _, c := range checks {
		if !seen[c.Name] {
			seen[c.Name] = true
			names = append(names, c.Name)
		}
	}
	sort.SliceStable(names, func(i, j int) bool {
		ri, rj := checkRank(names[i]), checkRank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// cells reduces the checks to node × check name.
func cells(checks []report.VerifyCheck) map[[2]string]*cell {
	out := map[[2]string]*cell{}
	for _, c := range checks {
		k := [2]string{c.Node, c.Name}
		x := out[k]
		if x == nil {
			x = &cell{Node: c.Node, Check: c.Name, Result: c.Result, Reason: c.Reason}
			out[k] = x
		}
		switch c.Result {
		case report.ResultPass:
			x.Pass++
		case report.ResultFail:
			x.Fail++
		case report.ResultWarn:
			x.Warn++
		default:
			x.Skip++
		}
		if severity(c.Result) > severity(x.Result) {
			x.Result, x.Reason = c.Result, c.Reason
		}
	}
	return out
}

// classCells are a class's cells, node by node in check order.
func classCells(res *report.Verify, c report.VerifyClass) []cell {
	var checks []report.VerifyCheck
	for _, ch := range res.Checks {
		if ch.Class == c.Name {
			checks = append(checks, ch)
		}
	}
	all := cells(checks)
	var out []cell
	for _, node := range c.Chosen {
		for _, name := range checkNames(checks) {
			if x := all[[2]string{node, name}]; x != nil {
				out = append(out, *x)
			}
		}
	}
	return out
}

func checksWith(checks []report.VerifyCheck, result string) []report.VerifyCheck {
	var out []report.VerifyCheck
	for _, c := range checks {
		if c.Result == result {
			out = append(out, c)
		}
	}
	return out
}

// matrixNodes are the checked nodes in class order.
func matrixNodes(res *report.Verify) []report.VerifyNode {
	classOf := map[string]int{}
	for i, c := range res.Classes {
		classOf[c.Name] = i
	}
	var out []report.VerifyNode
	for _, n := range res.Nodes {
		if n.Chosen {
			out = append(out, n)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return classOf[out[i].Class] < classOf[out[j].Class] })
	return out
}

// checkGroup is checks with the same node, name and reason (the same
// warning for every target), shown as one entry: its targets listed, the
// first one's evidence and reproduce command.
type checkGroup struct {
	First  report.VerifyCheck
	Checks []report.VerifyCheck
	// Label is CheckLabel for one check, "name (N targets: a, b)" for more.
	Label string
}

// checkGroups groups checks in first-seen order.
func checkGroups(checks []report.VerifyCheck) []checkGroup {
	idx := map[[3]string]int{}
	var out []checkGroup
	for _, c := range checks {
		k := [3]string{c.Node, c.Name, c.Reason}
		if i, ok := idx[k]; ok {
			out[i].Checks = append(out[i].Checks, c)
			continue
		}
		idx[k] = len(out)
		out = append(out, checkGroup{First: c, Checks: []report.VerifyCheck{c}})
	}
	for i, g := range out {
		out[i].Label = CheckLabel(g.First)
		if len(g.Checks) > 1 {
			var ts []string
			for _, x := range g.Checks {
				t := x.Target
				if x.Via != "" {
					t += " via " + x.Via
				}
				ts = append(ts, t)
			}
			out[i].Label = fmt.Sprintf("%s (%d targets: %s)", g.First.Name, len(g.Checks), strings.Join(ts, ", "))
		}
	}
	return out
}

// keyConfig keeps the cilium-config keys the terminal header has room for:
// those that decide who handles Services on a chained node. The reports
// show them all.
func keyConfig(cfg map[string]string) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"kube-proxy-replacement", "cni-chaining-mode", "bpf-lb-sock", "bpf-lb-sock-hostns-only", "enable-node-port"} {
		if v, ok := cfg[k]; ok {
			out[k] = v
		}
	}
	return out
}
