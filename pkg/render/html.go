package render

import (
	_ "embed"
	"html/template"
	"io"
	"strings"

	"github.com/kubectl-kpr/kubectl-kpr/pkg/interpret/report"
)

// The HTML report is one self-contained file: inline CSS, no script, no
// font, image or link that would need a network, so it opens the same on
// an air-gapped laptop and as a ticket attachment. html/template escapes
// everything that comes from the cluster.
//
//go:embed verify.html.tmpl
var verifyHTMLTemplate string

var verifyHTML = template.Must(template.New("verify").Funcs(template.FuncMap{
	"label":    CheckLabel,
	"evidence": VerifyEvidenceLine,
	"seconds":  Seconds,
	"target":   TargetLabel,
	"join":     strings.Join,
	"dash":     orDash,
	"yesno":    yesNo,
	"mark":     resultMark,
}).Parse(verifyHTMLTemplate))

type htmlMatrixRow struct {
	Node  report.VerifyNode
	Cells []*cell
}

type htmlView struct {
	*report.Verify
	Verdict  string
	Facts    [][2]string
	Columns  []string
	Matrix   []htmlMatrixRow
	Failures []checkGroup
	Warnings []checkGroup
	Choice   string
}

// HTML writes the verify report as a self-contained HTML page: cluster and
// versions, the colored node × check matrix, failures and warnings with
// their evidence, and every check with the command that repeats it by hand.
func HTML(w io.Writer, res *report.Verify) error {
	v := htmlView{Verify: res, Verdict: "PASS", Facts: clusterFacts(res), Columns: checkNames(res.Checks),
		Failures: checkGroups(checksWith(res.Checks, report.ResultFail)), Warnings: checkGroups(checksWith(res.Checks, report.ResultWarn)), Choice: ChoiceLine(res)}
	if res.Summary.Result == report.ResultFail {
		v.Verdict = "FAIL"
	}
	all := cells(res.Checks)
	for _, n := range matrixNodes(res) {
		row := htmlMatrixRow{Node: n}
		for _, name := range v.Columns {
			row.Cells = append(row.Cells, all[[2]string{n.Name, name}])
		}
		v.Matrix = append(v.Matrix, row)
	}
	return verifyHTML.Execute(w, v)
}
