package render

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress writes a long command's phases to stderr: one line per phase
// when it ends, and, only when stderr is a terminal, a line updated in
// place while a phase runs (phase, done/total, failures so far). Quiet
// writes nothing. stdout never sees any of it.
type Progress struct {
	w     io.Writer
	live  bool
	quiet bool

	mu      sync.Mutex
	current string
	open    bool
}

// NewProgress returns a progress writer on w; live enables the in-place
// line (pass whether w is a terminal).
func NewProgress(w io.Writer, live, quiet bool) *Progress {
	return &Progress{w: w, live: live && !quiet, quiet: quiet}
}

// Start names the phase that begins; on a terminal it shows at once.
func (p *Progress) Start(phase, what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = phase
	if p.live {
		p.line(fmt.Sprintf("%s: %s ...", phase, what))
	}
}

// Count updates the running phase's counter (terminal only).
func (p *Progress) Count(done, total, failed int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		return
	}
	s := fmt.Sprintf("%s: %d/%d nodes", p.current, done, total)
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	p.line(s)
}

// Phase writes the line of a phase that ended.
func (p *Progress) Phase(phase, detail string, took time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet {
		return
	}
	p.clear()
	fmt.Fprintf(p.w, "[%s] %s (%s)\n", phase, Safe(detail), took.Round(time.Millisecond))
}

// End clears the in-place line, so that what follows (the report on a
// terminal's stdout) starts on a clean line.
func (p *Progress) End() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Progress) line(s string) {
	// \r and erase-line: the next update overwrites this one.
	fmt.Fprintf(p.w, "\r\x1b[K%s", Safe(s))
	p.open = true
}

func (p *Progress) clear() {
	if p.open {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.open = false
	}
}
