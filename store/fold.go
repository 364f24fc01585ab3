package store

import (
	"strings"
	"unicode"
)

// Case-insensitive keys.
//
// userName (users) and displayName (groups) are caseExact false (RFC 7643):
// unique and matched ignoring case, for every script, not just ASCII. SQL
// cannot do this alike on both databases: SQLite's lower() and LIKE fold
// ASCII letters only, and PostgreSQL's lower() depends on the column's
// collation and the server's locale and ICU version. So the store computes
// the key in Go, one function for both dialects, stores it in a column of its
// own (user_name_key, display_name_key) on every write, puts the UNIQUE index
// on it, and folds a filter's value with the same function before comparing
// it with that column in plain byte-wise SQL. The databases never fold
// anything, so they cannot disagree.

// foldKey returns the case-insensitive key of s: two valid UTF-8 strings
// have the same key exactly when [strings.EqualFold] reports them equal
// (Unicode simple case folding, rune by rune, no change of length in runes).
// "JÖRG" and "jörg" share a key, as do "K" and the Kelvin sign U+212A, and
// Σ, σ and ς; "ß" and "ss" do not (that is full case folding), nor do "İ"
// and "i".
//
// Keys are mostly lower case: each rune becomes the lower-case member of its
// case-folding orbit (see [foldRune]). Byte order of keys, which gt, ge, lt
// and le use, is thus the order of lower-cased text for ASCII, as it was
// when the store compared SQL lower() values: "alice_" sorts before
// "alicex", whatever case either is written in.
//
// s must be valid UTF-8 (the store checks with [validText] first); an
// invalid byte would become U+FFFD.
func foldKey(s string) string {
	return strings.Map(foldRune, s)
}

// foldRune maps r to one canonical member of its orbit under
// [unicode.SimpleFold], the set of runes that strings.EqualFold treats as
// equal to r. The orbit's smallest member identifies it; from that, the key
// is its lower case (through its upper case first, so that Ι, ι and the
// combining U+0345 all give ι), as long as that stays in the orbit. It does
// for every rune but U+0130 İ, whose orbit is İ alone although its lower case
// is "i": İ is its own key. Every member of an orbit maps to the same rune,
// which is what makes the key canonical (TestFoldRuneCanonical checks every
// rune).
func foldRune(r rune) rune {
	if r < 0x80 {
		// An ASCII letter's orbit is its two cases (plus U+212A for k and
		// U+017F for s, both above ASCII): the lower case is the answer.
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}
	m := orbitMin(r)
	// Upper then lower: the smallest member may be neither (U+0345, the
	// combining iota, is smallest in the orbit of Ι and ι).
	for _, c := range [...]rune{unicode.ToLower(unicode.ToUpper(m)), unicode.ToLower(m)} {
		if c == m || orbitMin(c) == m {
			return c
		}
	}
	return m
}

// orbitMin returns the smallest rune of r's orbit under unicode.SimpleFold.
func orbitMin(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	return m
}
