package paste

import (
	"bufio"
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
