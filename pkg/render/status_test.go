package render

import (
	"strings"
	"testing"
)

func TestWrapWords(t *testing.T) {
	got := wrapWords("aaa bbb ccc dddddddddd e", 8)
	want := []string{"aaa bbb", "ccc", "dddddddddd", "e"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("wrapWords = %q, want %q", got, want)
	}
	if len(wrapWords("", 8)) != 0 {
		t.Fatalf("empty input gave lines")
	}
}

func TestTableTrimsColoredPadding(t *testing.T) {
	p := Palette{Enabled: true}
	var b strings.Builder
	if err := Table(&b, []string{"A", "B"}, [][]string{{p.Good("ok"), p.Bad("no")}, {"long-cell-here", "x"}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		plain := strings.NewReplacer("\x1b[0m", "", "\x1b[31m", "", "\x1b[32m", "").Replace(l)
		if strings.TrimRight(plain, " ") != plain {
			t.Errorf("line keeps trailing padding: %q", l)
		}
		if strings.Contains(l, "\x1b[") && !strings.HasSuffix(l, "\x1b[0m") {
			t.Errorf("colored line does not end with a reset: %q", l)
		}
	}
}
