package render

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Table writes a kubectl-style borderless table (columns separated by three
// spaces, upper-case headers) with tablewriter's v1 API. Cells may carry ANSI
// colors: tablewriter measures display width without them.
func Table(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off, ShowHeader: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	t.Header(header)
	for _, r := range rows {
		if err := t.Append(r); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	return trimTrailingSpace(w, &buf)
}

// trimTrailingSpace drops the padding tablewriter leaves at line ends, so
// that output is diff- and golden-file friendly.
func trimTrailingSpace(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		bw.WriteString(trimLine(sc.Text()))
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}

// trimLine drops trailing padding, also where tablewriter put it before or
// between color resets, and keeps one reset if the line is colored.
func trimLine(line string) string {
	hadReset := false
	for {
		t := strings.TrimRight(line, " \t")
		if !strings.HasSuffix(t, ansiReset) {
			line = t
			break
		}
		line, hadReset = strings.TrimSuffix(t, ansiReset), true
	}
	if hadReset && strings.Contains(line, "\x1b[") {
		line += ansiReset
	}
	return line
}
