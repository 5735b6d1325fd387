// Package render turns kpr's plain result structs into tables, diffs, JSON
// and YAML. Every function writes to an io.Writer it is given; nothing here
// talks to a cluster, reads files or touches os.Stdout.
package render

import (
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/cli-runtime/pkg/printers"
)

// ColorMode is the value of --color.
type ColorMode string

const (
	ColorAuto   ColorMode = "auto"
	ColorAlways ColorMode = "always"
	ColorNever  ColorMode = "never"
)

// ParseColorMode validates a --color value.
func ParseColorMode(s string) (ColorMode, error) {
	switch ColorMode(strings.ToLower(s)) {
	case ColorAuto, "":
		return ColorAuto, nil
	case ColorAlways:
		return ColorAlways, nil
	case ColorNever:
		return ColorNever, nil
	}
	return "", fmt.Errorf("invalid --color %q: want auto, always or never", s)
}

// UseColor decides whether to emit ANSI colors on w. "auto" defers to
// cli-runtime's printers.AllowsColorOutput, which already honours NO_COLOR,
// TERM=dumb and non-terminals; "always" still yields to NO_COLOR because
// no-color.org asks every program to.
func UseColor(mode ColorMode, w io.Writer) bool {
	switch mode {
	case ColorNever:
		return false
	case ColorAlways:
		return os.Getenv("NO_COLOR") == ""
	default:
		return printers.AllowsColorOutput(w)
	}
}

// Palette colors words when enabled; the zero value prints plain text.
type Palette struct{ Enabled bool }

const (
	ansiReset  = "\x1b[0m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBlue   = "\x1b[34m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
)

func (p Palette) wrap(code, s string) string {
	if !p.Enabled || s == "" {
		return s
	}
	return code + s + ansiReset
}

func (p Palette) Good(s string) string  { return p.wrap(ansiGreen, s) }
func (p Palette) Bad(s string) string   { return p.wrap(ansiRed, s) }
func (p Palette) Warn(s string) string  { return p.wrap(ansiYellow, s) }
func (p Palette) Info(s string) string  { return p.wrap(ansiBlue, s) }
func (p Palette) Bold(s string) string  { return p.wrap(ansiBold, s) }
func (p Palette) Faint(s string) string { return p.wrap(ansiDim, s) }

// Tone is the meaning of a value, which the palette maps to a color.
type Tone int

const (
	ToneNone Tone = iota
	ToneGood
	ToneBad
	ToneWarn
	ToneInfo
)

// Paint colors s by its tone.
func (p Palette) Paint(t Tone, s string) string {
	switch t {
	case ToneGood:
		return p.Good(s)
	case ToneBad:
		return p.Bad(s)
	case ToneWarn:
		return p.Warn(s)
	case ToneInfo:
		return p.Info(s)
	}
	return s
}

// Safe escapes terminal control sequences in strings that come from the
// cluster (node names, agent output) before they are printed.
func Safe(s string) string { return printers.EscapeTerminal(s) }

// Count says "1 frontend" or "3 frontends".
func Count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
