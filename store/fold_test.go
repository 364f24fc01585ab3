package store

import (
	"strings"
	"testing"
	"unicode"
)

func TestFoldKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"ASCII lower", "bjensen", "bjensen"},
		{"ASCII mixed", "BJensen@Example.COM", "bjensen@example.com"},
		{"ASCII punctuation unchanged", `a_100%\[]^`, `a_100%\[]^`},
		{"German ö", "jörg@example.com", "jörg@example.com"},
		{"German Ö", "JÖRG@EXAMPLE.COM", "jörg@example.com"},
		{"French É", "Émile", "émile"},
		{"Greek capital sigma", "ΣΟΦΙΑ", "σοφια"},
		{"Greek small sigma", "σ", "σ"},
		{"Greek final sigma", "ς", "σ"},
		{"Kelvin sign", "\u212A", "k"},
		{"Kelvin sign in a word", "\u212Aelvin", "kelvin"},
		{"k", "k", "k"},
		{"K", "K", "k"},
		{"long s", "\u017F", "s"},
		{"sharp s stays", "straße", "straße"},
		{"capital sharp s", "STRA\u1E9EE", "straße"},
		{"dotted capital I is itself", "\u0130", "\u0130"},
		{"dotless small i is itself", "\u0131", "\u0131"},
		{"titlecase digraph", "\u01C5", "\u01C6"},
		{"Greek iota and combining ypogegrammeni", "Ι\u0345ι\u1FBE", "ιιιι"},
		{"micro sign", "\u00B5", "μ"},
		{"ohm sign", "\u2126", "ω"},
		{"CJK unchanged", "日本", "日本"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := foldKey(tc.in); got != tc.want {
				t.Errorf("foldKey(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// foldKey(a) == foldKey(b) exactly when strings.EqualFold(a, b).
func TestFoldKeyAgreesWithEqualFold(t *testing.T) {
	words := []string{
		"", "a", "A", "k", "K", "\u212A", "s", "S", "\u017F", "ss", "SS", "ß", "\u1E9E",
		"i", "I", "\u0130", "\u0131", "jörg", "JÖRG", "Jörg", "jorg", "Σ", "σ", "ς",
		"µ", "μ", "Μ", "ω", "Ω", "\u2126", "\u01C4", "\u01C5", "\u01C6", "émile", "Émile", "emile",
		"alice_100%", "ALICE_100%", "alicex100",
	}
	for _, a := range words {
		for _, b := range words {
			if eq, same := strings.EqualFold(a, b), foldKey(a) == foldKey(b); eq != same {
				t.Errorf("EqualFold(%q, %q) = %v, but keys %q and %q", a, b, eq, foldKey(a), foldKey(b))
			}
		}
	}
}

// Over every rune: the key of a rune is the key of every rune in its
// orbit, is in that orbit, and is never an upper-case ASCII letter (SQLite's
// LIKE would fold it).
func TestFoldRuneCanonical(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		k := foldRune(r)
		if 'A' <= k && k <= 'Z' {
			t.Fatalf("foldRune(%U) = %q, an upper-case ASCII letter", r, k)
		}
		if !strings.EqualFold(string(r), string(k)) && r != k {
			t.Fatalf("foldRune(%U) = %U, not case-equivalent", r, k)
		}
		if f := unicode.SimpleFold(r); foldRune(f) != k {
			t.Fatalf("foldRune(%U) = %U but foldRune(%U) = %U: same orbit, different keys", r, k, f, foldRune(f))
		}
	}
}

func BenchmarkFoldKey(b *testing.B) {
	for range b.N {
		foldKey("Barbara.Jensen@Example.com")
		foldKey("JÖRG.MÜLLER@beispiel.de")
	}
}
