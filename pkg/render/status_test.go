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
