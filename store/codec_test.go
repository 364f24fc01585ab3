package store

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestIndexedText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int // length in bytes of the result
	}{
		{"short", "abc", 3},
		{"exactly the limit", strings.Repeat("a", maxIndexedBytes), maxIndexedBytes},
		{"over the limit", strings.Repeat("a", 3*maxIndexedBytes), maxIndexedBytes},
		// 3-byte runes: the cut must not split one.
		{"multi-byte runes", strings.Repeat("€", maxIndexedBytes), maxIndexedBytes - maxIndexedBytes%3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := indexedText(tt.in)
			if len(got) != tt.want || !utf8.ValidString(got) || !strings.HasPrefix(tt.in, got) {
				t.Errorf("indexedText: %d bytes (valid UTF-8 %v), want a %d-byte prefix", len(got), utf8.ValidString(got), tt.want)
			}
		})
	}
}

func TestCheckIndexed(t *testing.T) {
	if err := checkIndexed("userName", strings.Repeat("a", maxIndexedBytes)); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err := checkIndexed("userName", strings.Repeat("a", maxIndexedBytes+1))
	if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "userName") {
		t.Errorf("over the limit: %v, want ErrInvalidValue naming userName", err)
	}
}
