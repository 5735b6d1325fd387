package paste

import (
	"bufio"
	"bytes"
	"io"
)

// NewCleanReader streams the line-level cleaning of Clean (prompts,
// notices, CI prefixes, fences, emphasis, CR) without holding the input:
// for dumps too large to Split in memory. It does not dedent or split.
func NewCleanReader(r io.Reader) io.Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	return &cleanReader{sc: sc}
}

type cleanReader struct {
	sc  *bufio.Scanner
	buf []byte
	err error
}

func (c *cleanReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		if !c.sc.Scan() {
			if c.err = c.sc.Err(); c.err == nil {
				c.err = io.EOF
			}
			continue
		}
		text, prompt, _, drop := cleanLine(c.sc.Text())
		if drop || prompt {
			continue
		}
		c.buf = append(c.buf[:0], text...)
		c.buf = append(c.buf, '\n')
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// NeedsCleaning reports whether any complete line of head would be
// changed or dropped by NewCleanReader: when not, a large dump can be
// parsed as it is, skipping a copy of every line.
func NeedsCleaning(head []byte) bool {
	for len(head) > 0 {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			return false // a partial last line says nothing yet
		}
		l := string(head[:i])
		head = head[i+1:]
		text, prompt, _, drop := cleanLine(l)
		if drop || prompt || text != l {
			return true
		}
	}
	return false
}
