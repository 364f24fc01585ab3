package scim

import (
	"regexp"
	"strings"

	"github.com/scim2/filter-parser/v2"
)

// simpleComparison builds the AST of the most common filter, a single
// `attrPath op "string"` or `attrPath op true|false` (what Okta and Entra ID
// send on every lookup: `userName eq "..."`, `externalId eq "..."`), without
// the third-party parser, which costs hundreds of microseconds and about two
// thousand allocations even for that (BenchmarkParseFilter). It returns
// ok=false for anything else, which then takes the full path; the result is
// the same AST the parser would build, as TestSimpleComparisonMatchesParser
// checks.
//
// toks and norm are scanFilter's results for a filter that passed the
// syntax check.
func simpleComparison(toks []filterToken, norm string) (filter.Expression, bool) {
	if len(toks) != 4 || toks[0].kind != ftWord || toks[1].kind != ftWord || toks[3].kind != ftEOF {
		return nil, false
	}
	op := filter.CompareOperator(strings.ToLower(toks[1].text))
	switch op {
	case filter.EQ, filter.NE, filter.CO, filter.SW, filter.EW, filter.GT, filter.GE, filter.LT, filter.LE:
	default:
		return nil, false
	}
	path, ok := simpleAttrPath(toks[0].text)
	if !ok {
		return nil, false
	}
	var value any
	switch v := toks[2]; {
	case v.kind == ftString:
		value = norm[v.start+1 : v.end-1] // as the parser leaves it: quotes off, escapes in
	case v.kind == ftWord && strings.EqualFold(v.text, "true"):
		value = true
	case v.kind == ftWord && strings.EqualFold(v.text, "false"):
		value = false
	default:
		return nil, false
	}
	return &filter.AttributeExpression{AttributePath: path, Operator: op, CompareValue: value}, true
}

// attrPathPattern is RFC 7644's attrPath: an optional schema URN, an
// attribute name and an optional sub-attribute name.
var attrPathPattern = regexp.MustCompile(`^(?:((?i:urn:)[^\s"()\[\]]*):)?([A-Za-z][A-Za-z0-9_-]*|\$ref)(?:\.([A-Za-z][A-Za-z0-9_-]*|\$ref))?$`)

func simpleAttrPath(s string) (filter.AttributePath, bool) {
	m := attrPathPattern.FindStringSubmatch(s)
	if m == nil {
		return filter.AttributePath{}, false
	}
	path := filter.AttributePath{AttributeName: m[2]}
	if m[1] != "" {
		uri := m[1]
		path.URIPrefix = &uri
	}
	if m[3] != "" {
		sub := m[3]
		path.SubAttribute = &sub
	}
	return path, true
}
