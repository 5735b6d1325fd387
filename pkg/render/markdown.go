package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// Markdown writes the verify report as GitHub-flavoured Markdown, to paste
// into a change ticket or a pull request: the cluster, the verdict, the
// node × check matrix (results as symbols, since Markdown has no color),
// the failures and warnings, and every check with the command that repeats
// it by hand.
func Markdown(w io.Writer, res *report.Verify) error {
	b := &strings.Builder{}
	verdict := "PASS"
	if res.Summary.Result == report.ResultFail {
		verdict = "FAIL"
	}
	fmt.Fprintf(b, "# kubectl kpr verify: %s\n\n", verdict)
	s := res.Summary
	fmt.Fprintf(b, "%d checks: **%d pass, %d fail, %d warn, %d skip**, in %s; started %s.\n\n", s.Checks, s.Pass, s.Fail, s.Warn, s.Skip, Seconds(res.DurationMs), mdText(res.StartedAt))

	b.WriteString("## Cluster\n\n| | |\n|---|---|\n")
	for _, kv := range clusterFacts(res) {
		fmt.Fprintf(b, "| %s | %s |\n", kv[0], mdCell(kv[1]))
	}

	b.WriteString("\n## Nodes\n\n| Node | Class | Ready | Checked | Cilium agent | KPR mode | kube-proxy | Warnings |\n|---|---|---|---|---|---|---|---|\n")
	for _, n := range res.Nodes {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(n.Name), mdCell(n.Class), yesNo(n.Ready), yesNo(n.Chosen),
			mdCell(orDash(n.CiliumAgent)), mdCell(orDash(n.KPRMode)), mdCell(orDash(n.KubeProxyPod)), mdCell(orDash(strings.Join(n.Warnings, ", "))))
	}

	if len(res.Targets) > 0 {
		b.WriteString("\n## Targets\n\n")
		for _, t := range res.Targets {
			fmt.Fprintf(b, "- %s\n", mdText(TargetLabel(t)))
		}
	}

	names := checkNames(res.Checks)
	if len(names) > 0 {
		all := cells(res.Checks)
		b.WriteString("\n## Node × check\n\n✅ pass · ❌ fail · ⚠️ warn · ➖ skip · blank: not applicable. A number counts the checks of that name (one per Service or remote node).\n\n")
		b.WriteString("| Node | Class |")
		for _, n := range names {
			fmt.Fprintf(b, " %s |", n)
		}
		b.WriteString("\n|---|---|" + strings.Repeat("---|", len(names)) + "\n")
		for _, n := range matrixNodes(res) {
			fmt.Fprintf(b, "| %s | %s |", mdCell(n.Name), mdCell(n.Class))
			for _, name := range names {
				c := all[[2]string{n.Name, name}]
				if c == nil {
					b.WriteString(" |")
					continue
				}
				fmt.Fprintf(b, " %s |", mdMark(*c))
			}
			b.WriteString("\n")
		}
	}

	for _, kind := range []string{report.ResultFail, report.ResultWarn} {
		checks := checksWith(res.Checks, kind)
		if len(checks) == 0 {
			continue
		}
		title := "Failures"
		if kind == report.ResultWarn {
			title = "Warnings"
		}
		fmt.Fprintf(b, "\n## %s\n\n", title)
		for _, g := range checkGroups(checks) {
			c := g.First
			fmt.Fprintf(b, "- **%s** `%s`: %s\n", mdText(c.Node), mdInlineCode(g.Label), mdText(c.Reason))
			if ev := VerifyEvidenceLine(c.Evidence); ev != "" {
				fmt.Fprintf(b, "  - evidence: %s\n", mdText(ev))
			}
			if c.Reproduce != "" {
				fmt.Fprintf(b, "  - reproduce: `%s`\n", mdInlineCode(c.Reproduce))
			}
		}
	}
	if len(res.Errors) > 0 {
		b.WriteString("\n## Not checked\n\n")
		for _, e := range res.Errors {
			fmt.Fprintf(b, "- **%s** (%s): %s\n", mdText(e.Node), mdText(e.Reason), mdText(e.Message))
		}
	}

	b.WriteString("\n## Every check, and how to repeat it by hand\n\n| Node | Check | Expect | Result | Reason | Reproduce |\n|---|---|---|---|---|---|\n")
	for _, c := range res.Checks {
		repro := ""
		if c.Reproduce != "" {
			repro = "`" + mdCode(c.Reproduce) + "`"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s %s | %s | %s |\n", mdCell(c.Node), mdCell(CheckLabel(c)), c.Expect, mdSymbol(c.Result), c.Result, mdCell(c.Reason), repro)
	}

	b.WriteString("\n## Run\n\n")
	for _, ph := range res.Phases {
		fmt.Fprintf(b, "- %s: %s — %s\n", mdText(ph.Name), Seconds(ph.DurationMs), mdText(orDash(ph.Detail)))
	}
	if len(res.Created) > 0 {
		state := "all deleted again"
		if !res.CleanedUp {
			state = "**not all deleted: run `kubectl kpr cleanup`**"
		}
		fmt.Fprintf(b, "- created for this run (%s): %s\n", state, mdText(strings.Join(res.Created, ", ")))
	}
	if res.Options.CommandLine != "" {
		fmt.Fprintf(b, "- command: `%s`\n", mdInlineCode(res.Options.CommandLine))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// clusterFacts are the report header's key/value rows.
func clusterFacts(res *report.Verify) [][2]string {
	cl := res.Cluster
	rows := [][2]string{
		{"Context", orDash(cl.Context)},
		{"API server", orDash(cl.Server)},
		{"Kubernetes", orDash(cl.ServerVersion)},
		{"Cilium", orDash(strings.TrimSpace(cl.CiliumVersion + " " + inNamespace(cl.CiliumNamespace)))},
		{"cilium-config", orDash(strings.TrimPrefix(ciliumConfigLine(cl.CiliumConfig), "; cilium-config "))},
		{"kube-proxy", orDash(strings.TrimSpace(cl.KubeProxyVersion + " " + modeOf(cl.KubeProxyMode)))},
		{"Nodes checked", ChoiceLine(res)},
	}
	if res.Options.Strict {
		rows = append(rows, [2]string{"Strict", "yes: a node without Service datapath fails"})
	}
	return rows
}

func inNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	return "in " + ns
}

func modeOf(m string) string {
	if m == "" {
		return ""
	}
	return "(mode " + m + ")"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func mdSymbol(r string) string {
	switch r {
	case report.ResultPass:
		return "✅"
	case report.ResultFail:
		return "❌"
	case report.ResultWarn:
		return "⚠️"
	}
	return "➖"
}

func mdMark(c cell) string {
	n := c.Pass + c.Fail + c.Warn + c.Skip
	if n > 1 {
		return fmt.Sprintf("%s %s", mdSymbol(c.Result), c.Summary())
	}
	return mdSymbol(c.Result)
}

// mdText escapes what Markdown would read as markup in text from the
// cluster.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "|", `\|`, "\n", " ", "\r", " ")

func mdText(s string) string { return mdEscaper.Replace(s) }

// mdCell is mdText for table cells (pipes and newlines must not end a cell).
func mdCell(s string) string { return mdText(s) }

// mdCode makes s safe inside a `code span` in a table: backticks cannot be
// escaped there, so they become ', and pipes are escaped for GFM tables.
var mdCodeEscaper = strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ")

func mdCode(s string) string { return mdCodeEscaper.Replace(s) }

// mdInlineCode is mdCode outside tables, where a pipe is just a pipe.
var mdInlineCodeEscaper = strings.NewReplacer("`", "'", "\n", " ", "\r", " ")

func mdInlineCode(s string) string { return mdInlineCodeEscaper.Replace(s) }
