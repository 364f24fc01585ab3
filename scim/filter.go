package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	scimerrors "github.com/elimity-com/scim/errors"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

// Limits on a filter, so that one request cannot make the parser, the
// translation or the SQL it becomes expensive. A flat chain of or-ed
// comparisons becomes an SQL expression as deep as it is long, and SQLite
// refuses expressions deeper than 1000.
const (
	maxFilterLength = 4096 // bytes, after trimming surrounding white space
	maxFilterTerms  = 200  // comparisons (attribute expressions), brackets included
	maxFilterDepth  = 16   // nesting of parentheses, not (...) and [...]
	// maxCondDepth bounds the nesting of the resulting condition (And, Or,
	// Not and AnyOf levels) well below the store's own limit of 64. The
	// limits above keep a filter under it; this is a second fence.
	maxCondDepth = 56
)

// parseFilter parses the SCIM filter expression text (RFC 7644 §3.4.2.2)
// about resources of kind and translates it into a store condition, after
// checking every attribute against the kind's [catalog] and every value
// against its attribute's type. Attribute names and operators are
// case-insensitive; surrounding white space is ignored.
//
// Every error is a [scimerrors.ScimError] value with status 400 and scimType
// invalidFilter whose Detail names the problem and quotes at most the
// offending token, cut to a few dozen characters: a syntax error (with its
// position, counted in characters from 1), an unknown attribute or
// sub-attribute, an operator not defined for the attribute's type, a value
// of the wrong type, or a filter over the limits above.
//
// Translation rules:
//
//   - id, userName, externalId, displayName, active, meta.created and
//     meta.lastModified use the store's columns; every other attribute a
//     JSON path of canonical names ({"name", "familyName"}, or the extension
//     URN first). CaseExact comes from the schema.
//   - A multi-valued complex attribute becomes [store.AnyOf]: some element
//     must match. Without a sub-attribute the comparison is on "value", as
//     in RFC 7644's own examples (`emails co "example.com"`); `emails pr`
//     asks for any element at all. Inside brackets, only the attribute's
//     sub-attributes may be named, relative to the element.
//   - null: `attr eq null` is `not (attr pr)` and `attr ne null` is
//     `attr pr` (RFC 7643 §2.5: null and unassigned are the same); other
//     operators reject null. On a multi-valued attribute `emails.value eq
//     null` means no element has a value.
//   - Booleans accept true/false and, for Microsoft Entra ID, the strings
//     "True"/"False" in any case. dateTime values are RFC 3339 strings with
//     any number of fractional digits, or without a zone (then UTC), and
//     become time.Time in UTC. co, sw and ew apply to strings and
//     references; gt, ge, lt and le to all but booleans.
//   - groups (User) supports only `groups.value eq "id"` and
//     `groups[value eq "id"]` ([store.InGroup]); members (Group) only
//     `members.value eq "id"`, `members eq "id"` and `members[value eq "id"]`
//     ([store.HasMember]).
//   - meta.resourceType and schemas are known without reading a resource:
//     a comparison on them is decided here (schemas eq the extension URN
//     becomes presence of the extension's object). A filter that is always
//     true becomes `id pr`; always false, `not (id pr)`.
//   - Not filterable: password (never stored or returned), binary
//     attributes, meta.location and meta.version.
//
// Nested and/or are flattened; `not (not x)` is x.
func parseFilter(kind resourceKind, text string) (store.Cond, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return nil, filterError("filter is empty")
	case len(text) > maxFilterLength:
		return nil, filterError("filter is longer than %d bytes", maxFilterLength)
	case !utf8.ValidString(text):
		return nil, filterError("filter is not valid UTF-8")
	}
	toks, norm, err := scanFilter(text)
	if err != nil {
		return nil, err
	}
	syn := filterSyntax{text: text, toks: toks}
	if err := syn.check(); err != nil {
		return nil, err
	}
	tr := filterTranslator{cat: catalogFor(kind)}
	if expr, ok := simpleComparison(toks, norm); ok {
		return tr.finish(expr)
	}
	outer, inner := syn.split(norm)
	expr, err := parseFilterAST(outer)
	if err != nil {
		return nil, errFilterSyntax
	}
	for _, s := range inner {
		e, err := parseFilterAST(s)
		if err != nil {
			return nil, errFilterSyntax
		}
		tr.inner = append(tr.inner, e)
	}
	return tr.finish(expr)
}

// finish translates the parsed filter into the store's condition.
func (tr *filterTranslator) finish(expr filter.Expression) (store.Cond, error) {
	c, err := tr.expr(expr)
	if err != nil {
		return nil, err
	}
	c = concreteCond(c)
	if condDepth(c) > maxCondDepth {
		return nil, filterError("the filter is nested too deeply")
	}
	return c, nil
}

// filterError returns a 400 invalidFilter SCIM error.
func filterError(format string, args ...any) error {
	return scimerrors.ScimError{
		ScimType: scimerrors.ScimTypeInvalidFilter,
		Detail:   fmt.Sprintf(format, args...),
		Status:   http.StatusBadRequest,
	}
}

// errFilterSyntax answers a filter that the third-party parser rejects (or
// panics on) although it passed our own syntax check. It should not happen.
var errFilterSyntax = filterError("the filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)")

// parseFilterAST runs the third-party parser, turning a panic into an error.
// It keeps numbers as json.Number so that their type and range are ours to
// check.
func parseFilterAST(s string) (expr filter.Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			expr, err = nil, fmt.Errorf("filter parser panicked: %v", r)
		}
	}()
	return filter.ParseFilterNumber([]byte(s))
}

// --- Scanning and syntax checking -----------------------------------------
//
// github.com/scim2/filter-parser/v2 builds the AST, but it cannot say what is
// wrong with a filter ("parse conflict [00:001]: expected op.Or ..."), and
// its grammar for the inside of [...] is narrower than RFC 7644's: it takes
// one comparison or two joined by and/or, with no parentheses. So we scan
// and check the filter ourselves first, for errors a client can act on, and
// cut out the text inside each [...] to parse it as a filter of its own.

type filterTokenKind int

const (
	ftEOF      filterTokenKind = iota
	ftWord                     // attribute path, operator, keyword, true/false/null
	ftString                   // "..." with its quotes
	ftNumber                   // anything starting with '-' or a digit
	ftLParen                   // (
	ftRParen                   // )
	ftLBracket                 // [
	ftRBracket                 // ]
)

type filterToken struct {
	kind       filterTokenKind
	text       string // as written
	start, end int    // byte offsets in the filter
	spaced     bool   // preceded by a space
}

// scanFilter splits text into tokens. It also returns text with the hex
// digits of \u escapes upper-cased (same length), since the parser accepts
// only upper-case ones although JSON allows both.
func scanFilter(text string) ([]filterToken, string, error) {
	norm := []byte(text)
	var toks []filterToken
	spaced := false
	for i := 0; i < len(text); {
		c := text[i]
		start := i
		var kind filterTokenKind
		switch {
		case c == ' ':
			spaced = true
			i++
			continue
		case c == '(':
			kind, i = ftLParen, i+1
		case c == ')':
			kind, i = ftRParen, i+1
		case c == '[':
			kind, i = ftLBracket, i+1
		case c == ']':
			kind, i = ftRBracket, i+1
		case c == '"':
			end, err := scanFilterString(text, i, norm)
			if err != nil {
				return nil, "", err
			}
			kind, i = ftString, end
		case c == '-' || isDigit(c):
			kind = ftNumber
			for i++; i < len(text) && (isFilterWordByte(text[i]) || text[i] == '+'); i++ {
			}
		case isFilterWordByte(c):
			kind = ftWord
			for i++; i < len(text) && isFilterWordByte(text[i]); i++ {
			}
		default:
			r, _ := utf8.DecodeRuneInString(text[i:])
			hint := ""
			if r == '\'' {
				hint = "; strings must be in double quotes"
			}
			return nil, "", filterError("unexpected character %s at position %d%s", strconv.Quote(string(r)), filterPos(text, i), hint)
		}
		toks = append(toks, filterToken{kind: kind, text: text[start:i], start: start, end: i, spaced: spaced})
		spaced = false
	}
	toks = append(toks, filterToken{kind: ftEOF, start: len(text), end: len(text), spaced: spaced})
	return toks, string(norm), nil
}

// scanFilterString scans the JSON string starting at text[i] == '"' and
// returns the offset just after its closing quote.
func scanFilterString(text string, i int, norm []byte) (int, error) {
	for j := i + 1; j < len(text); {
		switch c := text[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, filterError("control character %q in a string at position %d; escape it", rune(c), filterPos(text, j))
		case c != '\\':
			j++
		case j+1 == len(text):
			j++
		case strings.IndexByte(`"\/bfnrt`, text[j+1]) >= 0:
			j += 2
		case text[j+1] == 'u':
			if j+6 > len(text) || !isHex(text[j+2:j+6]) {
				return 0, filterError(`invalid \u escape in a string at position %d: expected four hex digits`, filterPos(text, j))
			}
			copy(norm[j+2:j+6], strings.ToUpper(text[j+2:j+6]))
			j += 6
		default:
			r, _ := utf8.DecodeRuneInString(text[j+1:])
			return 0, filterError(`invalid escape "\%c" in a string at position %d`, r, filterPos(text, j))
		}
	}
	return 0, filterError("unterminated string starting at position %d", filterPos(text, i))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; !isDigit(c) && !('a' <= c && c <= 'f') && !('A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isFilterWordByte reports whether c may appear in an attribute path
// (URN included) or keyword.
func isFilterWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) ||
		c == ':' || c == '.' || c == '_' || c == '-' || c == '$'
}

// filterPos returns the 1-based character position of byte offset off.
func filterPos(text string, off int) int { return utf8.RuneCountInString(text[:off]) + 1 }

var (
	// filterAttrPathRE is RFC 7644's attrPath: [URI ":"] ATTRNAME [subAttr],
	// with the parser's URI (segments of alphanumerics, '.', '-') and its
	// optional '$' before a name ($ref).
	filterAttrPathRE = regexp.MustCompile(`^(?:[A-Za-z0-9.-]+:)*\$?[A-Za-z][A-Za-z0-9_-]*(?:\.\$?[A-Za-z][A-Za-z0-9_-]*)?$`)
	// filterNumberRE is a JSON number.
	filterNumberRE = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)
)

var filterCompareOps = map[string]bool{
	"eq": true, "ne": true, "co": true, "sw": true, "ew": true,
	"gt": true, "ge": true, "lt": true, "le": true,
}

// filterSyntax checks a scanned filter against RFC 7644's grammar, as the
// parser implements it (spaces around operators and and/or are required),
// and records where each [...] is.
type filterSyntax struct {
	text      string
	toks      []filterToken
	i         int
	depth     int
	terms     int
	inBracket bool
	brackets  [][2]int // token indexes of each '[' and its ']', in order
}

func (p *filterSyntax) peek() filterToken { return p.toks[p.i] }

func (p *filterSyntax) next() filterToken {
	t := p.toks[p.i]
	if t.kind != ftEOF {
		p.i++
	}
	return t
}

func (p *filterSyntax) isKeyword(t filterToken, kw string) bool {
	return t.kind == ftWord && strings.EqualFold(t.text, kw)
}

// unexpected reports token t where something else was expected.
func (p *filterSyntax) unexpected(t filterToken, expected string) error {
	if t.kind == ftEOF {
		return filterError("the filter ends too early: %s", expected)
	}
	return filterError("unexpected %s at position %d: %s", quoteClipped(t.text), filterPos(p.text, t.start), expected)
}

func (p *filterSyntax) needSpace(t filterToken) error {
	if t.spaced || t.kind == ftEOF {
		return nil
	}
	return filterError("expected a space before %s at position %d", quoteClipped(t.text), filterPos(p.text, t.start))
}

func (p *filterSyntax) check() error {
	if err := p.or(); err != nil {
		return err
	}
	if t := p.peek(); t.kind != ftEOF {
		switch t.kind {
		case ftRParen:
			return p.unexpected(t, `there is no "(" to close`)
		case ftRBracket:
			return p.unexpected(t, `there is no "[" to close`)
		}
		return p.unexpected(t, `expected "and", "or" or the end of the filter`)
	}
	return nil
}

func (p *filterSyntax) or() error { return p.chain("or", p.and) }

func (p *filterSyntax) and() error { return p.chain("and", p.term) }

// chain checks operand (kw operand)*.
func (p *filterSyntax) chain(kw string, operand func() error) error {
	if err := operand(); err != nil {
		return err
	}
	for p.isKeyword(p.peek(), kw) {
		if err := p.needSpace(p.next()); err != nil {
			return err
		}
		if err := p.needSpace(p.peek()); err != nil {
			return err
		}
		if err := operand(); err != nil {
			return err
		}
	}
	return nil
}

func (p *filterSyntax) enter(t filterToken) error {
	p.depth++
	if p.depth > maxFilterDepth {
		return filterError("the filter is nested more than %d levels deep at position %d", maxFilterDepth, filterPos(p.text, t.start))
	}
	return nil
}

// term checks "(" filter ")", not "(" filter ")" or an attribute expression.
func (p *filterSyntax) term() error {
	t := p.next()
	switch {
	case t.kind == ftLParen:
		return p.group(t)
	case p.isKeyword(t, "not") && p.peek().kind == ftLParen:
		return p.group(p.next())
	case t.kind == ftWord:
		return p.attrExp(t)
	}
	return p.unexpected(t, "expected an attribute name, \"(\" or \"not (\"")
}

// group checks the rest of a parenthesised filter whose "(" is open.
func (p *filterSyntax) group(open filterToken) error {
	if err := p.enter(open); err != nil {
		return err
	}
	if err := p.or(); err != nil {
		return err
	}
	if t := p.next(); t.kind != ftRParen {
		if t.kind == ftEOF {
			return filterError(`missing ")" to close the "(" at position %d`, filterPos(p.text, open.start))
		}
		return p.unexpected(t, `expected "and", "or" or ")"`)
	}
	p.depth--
	return nil
}

// attrExp checks what follows the attribute path t: "[" filter "]", "pr",
// or a comparison operator and a value.
func (p *filterSyntax) attrExp(t filterToken) error {
	if !filterAttrPathRE.MatchString(t.text) {
		return filterError("invalid attribute name %s at position %d", quoteClipped(t.text), filterPos(p.text, t.start))
	}
	if p.peek().kind == ftLBracket {
		return p.valuePath()
	}
	op := p.next()
	if op.kind != ftWord || !filterCompareOps[strings.ToLower(op.text)] && !strings.EqualFold(op.text, "pr") {
		return p.unexpected(op, fmt.Sprintf("expected an operator after %s (eq, ne, co, sw, ew, gt, ge, lt, le or pr)", quoteClipped(t.text)))
	}
	if err := p.needSpace(op); err != nil {
		return err
	}
	p.terms++
	if p.terms > maxFilterTerms {
		return filterError("the filter has more than %d comparisons", maxFilterTerms)
	}
	if strings.EqualFold(op.text, "pr") {
		return nil
	}
	v := p.next()
	switch {
	case v.kind == ftString:
	case v.kind == ftNumber && filterNumberRE.MatchString(v.text):
	case v.kind == ftNumber:
		return filterError("invalid number %s at position %d", quoteClipped(v.text), filterPos(p.text, v.start))
	case p.isKeyword(v, "true") || p.isKeyword(v, "false") || p.isKeyword(v, "null"):
	default:
		return p.unexpected(v, fmt.Sprintf("expected a value after %s: a string in double quotes, a number, true, false or null", quoteClipped(op.text)))
	}
	return p.needSpace(v)
}

// valuePath checks "[" filter "]" after an attribute path.
func (p *filterSyntax) valuePath() error {
	openIdx := p.i
	open := p.next()
	if p.inBracket {
		return filterError(`"[" at position %d: brackets cannot be nested`, filterPos(p.text, open.start))
	}
	if err := p.enter(open); err != nil {
		return err
	}
	p.inBracket = true
	if err := p.or(); err != nil {
		return err
	}
	closeIdx := p.i
	if t := p.next(); t.kind != ftRBracket {
		if t.kind == ftEOF {
			return filterError(`missing "]" to close the "[" at position %d`, filterPos(p.text, open.start))
		}
		return p.unexpected(t, `expected "and", "or" or "]"`)
	}
	p.inBracket = false
	p.depth--
	p.brackets = append(p.brackets, [2]int{openIdx, closeIdx})
	if t := p.peek(); t.kind == ftWord && !t.spaced && strings.HasPrefix(t.text, ".") {
		return filterError(`%s at position %d: a sub-attribute after "[...]" is only allowed in a PATCH path; in a filter, compare the sub-attribute inside the brackets`,
			quoteClipped(t.text), filterPos(p.text, t.start))
	}
	return nil
}

// split returns the filter with the inside of each [...] replaced by the
// placeholder "vfN pr" (N counting from 0), and the insides themselves.
func (p *filterSyntax) split(norm string) (outer string, inner []string) {
	if len(p.brackets) == 0 {
		return norm, nil
	}
	var b strings.Builder
	prev := 0
	for n, br := range p.brackets {
		open, shut := p.toks[br[0]], p.toks[br[1]]
		b.WriteString(norm[prev:open.end])
		b.WriteString(filterPlaceholder + strconv.Itoa(n) + " pr")
		inner = append(inner, strings.Trim(norm[open.end:shut.start], " "))
		prev = shut.start
	}
	b.WriteString(norm[prev:])
	return b.String(), inner
}

// filterPlaceholder names the attribute that stands for the inside of a
// bracket. Client text never reaches the parser in that position, so it
// cannot collide with a client's attribute.
const filterPlaceholder = "vf"

// --- Translation ------------------------------------------------------------

// filterTranslator turns a parsed filter into a store.Cond.
type filterTranslator struct {
	cat   *catalog
	inner []filter.Expression // the parsed insides of the brackets
}

func (t *filterTranslator) expr(e filter.Expression) (store.Cond, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		return t.logical(e, t.expr)
	case *filter.NotExpression:
		c, err := t.expr(e.Expression)
		if err != nil {
			return nil, err
		}
		return notCond(c), nil
	case *filter.AttributeExpression:
		return t.attrExp(e)
	case *filter.ValuePath:
		return t.valuePath(e)
	}
	return nil, errFilterSyntax
}

func (t *filterTranslator) logical(e *filter.LogicalExpression, operand func(filter.Expression) (store.Cond, error)) (store.Cond, error) {
	l, err := operand(e.Left)
	if err != nil {
		return nil, err
	}
	r, err := operand(e.Right)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(string(e.Operator), string(filter.OR)) {
		return orCond(l, r), nil
	}
	return andCond(l, r), nil
}

// attrExp translates `attrPath op value` and `attrPath pr` outside brackets.
func (t *filterTranslator) attrExp(e *filter.AttributeExpression) (store.Cond, error) {
	ap := e.AttributePath
	attr, sub, err := t.cat.resolve(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		return nil, filterError("%s", err)
	}
	op, v := e.Operator, e.CompareValue
	switch {
	case t.isMembership(attr):
		return t.membership(attr, sub, op, v)
	case attr.Schema == "" && attr.Name == "schemas":
		return t.schemas(attr, op, v)
	case attr.Schema == "" && attr.Name == "meta" && sub == nil:
		// meta itself is always there, though not in the JSON document.
		if op == filter.PR || v == nil {
			return presenceCond(attr, op, v, constCond(true))
		}
		return nil, complexWithoutSubError(attr)
	case attr.Schema == "" && attr.Name == "meta" && sub.Name == "resourceType":
		return t.resourceType(sub, op, v)
	}
	target := attr
	if sub != nil {
		target = sub
	}
	if err := checkFilterable(target); err != nil {
		return nil, err
	}

	if !attr.MultiValued {
		if target.Type == attrTypeComplex {
			if op == filter.PR || v == nil {
				return presenceCond(target, op, v, store.Present{Field: fieldFor(target)})
			}
			return nil, complexWithoutSubError(target)
		}
		return leafCond(fieldFor(target), target, op, v)
	}

	// Multi-valued: some element must match.
	path := attr.jsonPath()
	if attr.Type != attrTypeComplex { // elements are simple values
		if op == filter.PR || v == nil {
			return presenceCond(attr, op, v, store.AnyOf{Path: path})
		}
		where, err := compareCond(store.Field{}, attr, op, v)
		if err != nil {
			return nil, err
		}
		return store.AnyOf{Path: path, Where: where}, nil
	}
	if sub == nil {
		if op == filter.PR || v == nil {
			return presenceCond(attr, op, v, store.AnyOf{Path: path})
		}
		if sub = attr.subAttr("value"); sub == nil {
			return nil, complexWithoutSubError(attr)
		}
		if err := checkFilterable(sub); err != nil {
			return nil, err
		}
	}
	elem := store.Field{Path: []string{sub.Name}}
	if op == filter.PR || v == nil {
		return presenceCond(sub, op, v, store.AnyOf{Path: path, Where: store.Present{Field: elem}})
	}
	where, err := compareCond(elem, sub, op, v)
	if err != nil {
		return nil, err
	}
	return store.AnyOf{Path: path, Where: where}, nil
}

// valuePath translates `attr[filter]`.
func (t *filterTranslator) valuePath(e *filter.ValuePath) (store.Cond, error) {
	inner, ok := t.placeholder(e.ValueFilter)
	if !ok {
		return nil, errFilterSyntax
	}
	ap := e.AttributePath
	attr, sub, err := t.cat.resolve(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		return nil, filterError("%s", err)
	}
	if sub != nil {
		return nil, filterError("%s[...]: brackets follow a multi-valued attribute, not a sub-attribute", strconv.Quote(sub.fullName()))
	}
	if t.isMembership(attr) {
		x, ok := inner.(*filter.AttributeExpression)
		if !ok || x.AttributePath.URI() != "" || x.AttributePath.SubAttribute != nil ||
			!strings.EqualFold(x.AttributePath.AttributeName, "value") {
			return nil, t.membershipUsage(attr)
		}
		return t.membership(attr, attr.subAttr("value"), x.Operator, x.CompareValue)
	}
	if !attr.MultiValued || attr.Type != attrTypeComplex {
		return nil, filterError("%s is not a multi-valued complex attribute: brackets do not apply to it", strconv.Quote(attr.fullName()))
	}
	if err := checkFilterable(attr); err != nil {
		return nil, err
	}
	where, err := t.elemExpr(attr, inner)
	if err != nil {
		return nil, err
	}
	return store.AnyOf{Path: attr.jsonPath(), Where: where}, nil
}

// placeholder returns the parsed inside of the bracket that vf stands for.
func (t *filterTranslator) placeholder(vf filter.Expression) (filter.Expression, bool) {
	x, ok := vf.(*filter.AttributeExpression)
	if !ok || x.Operator != filter.PR || x.AttributePath.URIPrefix != nil || x.AttributePath.SubAttribute != nil {
		return nil, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(x.AttributePath.AttributeName, filterPlaceholder))
	if err != nil || n < 0 || n >= len(t.inner) {
		return nil, false
	}
	return t.inner[n], true
}

// elemExpr translates the inside of parent[...]: fields are relative to an
// element of parent and must be its sub-attributes.
func (t *filterTranslator) elemExpr(parent *attrDef, e filter.Expression) (store.Cond, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		return t.logical(e, func(x filter.Expression) (store.Cond, error) { return t.elemExpr(parent, x) })
	case *filter.NotExpression:
		c, err := t.elemExpr(parent, e.Expression)
		if err != nil {
			return nil, err
		}
		return notCond(c), nil
	case *filter.AttributeExpression:
		ap := e.AttributePath
		if ap.URIPrefix != nil || ap.SubAttribute != nil {
			return nil, filterError("inside %s[...] name only sub-attributes of %s, such as %q; %s is not one",
				parent.Name, parent.Name, parent.Sub[0].Name, quoteClipped(ap.String()))
		}
		sub := parent.subAttr(ap.AttributeName)
		if sub == nil {
			return nil, filterError("unknown sub-attribute %s of %s", quoteClipped(ap.AttributeName), strconv.Quote(parent.fullName()))
		}
		if err := checkFilterable(sub); err != nil {
			return nil, err
		}
		return leafCond(store.Field{Path: []string{sub.Name}}, sub, e.Operator, e.CompareValue)
	}
	return nil, errFilterSyntax
}

// isMembership reports whether attr is the computed membership attribute:
// a user's groups or a group's members.
func (t *filterTranslator) isMembership(attr *attrDef) bool {
	if attr.Schema != t.cat.Schema {
		return false
	}
	return t.cat.Kind == kindUser && attr.Name == "groups" || t.cat.Kind == kindGroup && attr.Name == "members"
}

func (t *filterTranslator) membershipUsage(attr *attrDef) error {
	if t.cat.Kind == kindUser {
		return filterError(`groups can only be filtered as groups.value eq "<group id>" or groups[value eq "<group id>"]`)
	}
	return filterError(`members can only be filtered as members.value eq "<user id>" or members[value eq "<user id>"]`)
}

// membership translates `groups.value eq "id"` and `members.value eq "id"`
// (sub is nil for the implied value sub-attribute).
func (t *filterTranslator) membership(attr, sub *attrDef, op filter.CompareOperator, v any) (store.Cond, error) {
	if sub != nil && sub.Name != "value" || op != filter.EQ || v == nil {
		return nil, t.membershipUsage(attr)
	}
	id, ok := v.(string)
	if !ok {
		return nil, filterError("%s: %s is not a string", strconv.Quote(attr.Name+".value"), filterValueText(v))
	}
	id, err := decodeFilterString(attr.Name+".value", id)
	if err != nil {
		return nil, err
	}
	if t.cat.Kind == kindUser {
		return store.InGroup{GroupID: id}, nil
	}
	return store.HasMember{UserID: id}, nil
}

// schemas decides a filter on the schemas attribute: every resource has its
// core schema, and has an extension when its JSON document holds the
// extension's object. As for any multi-valued attribute, eq and ne match
// when some value matches.
func (t *filterTranslator) schemas(attr *attrDef, op filter.CompareOperator, v any) (store.Cond, error) {
	if op == filter.PR || v == nil {
		return presenceCond(attr, op, v, constCond(true))
	}
	if op != filter.EQ && op != filter.NE {
		return nil, filterError(`"schemas" can only be filtered with eq, ne or pr`)
	}
	s, ok := v.(string)
	if !ok {
		return nil, filterError(`"schemas": %s is not a string`, filterValueText(v))
	}
	s, err := decodeFilterString("schemas", s)
	if err != nil {
		return nil, err
	}
	isCore := strings.EqualFold(s, t.cat.Schema)
	var has []store.Cond // some extension's object is present
	for _, ext := range t.cat.Extensions {
		present := store.Present{Field: store.Field{Path: []string{ext}}}
		if op == filter.EQ && strings.EqualFold(s, ext) || op == filter.NE && isCore {
			has = append(has, present)
		}
	}
	if op == filter.EQ && isCore || op == filter.NE && !isCore {
		return constCond(true), nil
	}
	return orCond(has...), nil
}

// resourceType decides meta.resourceType, which is the kind's name.
func (t *filterTranslator) resourceType(attr *attrDef, op filter.CompareOperator, v any) (store.Cond, error) {
	if op == filter.PR || v == nil {
		return presenceCond(attr, op, v, constCond(true))
	}
	s, ok := v.(string)
	if !ok {
		return nil, filterError("%s: %s is not a string", strconv.Quote(attr.fullName()), filterValueText(v))
	}
	s, err := decodeFilterString(attr.fullName(), s)
	if err != nil {
		return nil, err
	}
	rt := t.cat.Kind.String()
	if !attr.CaseExact {
		rt, s = strings.ToLower(rt), strings.ToLower(s)
	}
	var m bool
	switch op {
	case filter.EQ:
		m = rt == s
	case filter.NE:
		m = rt != s
	case filter.CO:
		m = strings.Contains(rt, s)
	case filter.SW:
		m = strings.HasPrefix(rt, s)
	case filter.EW:
		m = strings.HasSuffix(rt, s)
	case filter.GT:
		m = rt > s
	case filter.GE:
		m = rt >= s
	case filter.LT:
		m = rt < s
	case filter.LE:
		m = rt <= s
	default:
		return nil, errFilterSyntax
	}
	return constCond(m), nil
}

// checkFilterable rejects attributes that cannot be filtered.
func checkFilterable(a *attrDef) error {
	switch {
	case a.Mutability == "writeOnly" || a.Returned == "never":
		return filterError("%s cannot be filtered", strconv.Quote(a.fullName()))
	case a.Type == attrTypeBinary:
		return filterError("%s is binary and cannot be filtered", strconv.Quote(a.fullName()))
	case a.Parent != nil && a.Parent.Schema == "" && a.Parent.Name == "meta" && a.Column == "" && a.Name != "resourceType":
		// meta.location and meta.version are computed when a resource is
		// written out; they are in no column and not in the document.
		return filterError("%s cannot be filtered", strconv.Quote(a.fullName()))
	}
	return nil
}

func complexWithoutSubError(a *attrDef) error {
	example := a.Sub[0]
	for _, s := range a.Sub {
		if s.Column != "" { // meta.created rather than meta.resourceType
			example = s
			break
		}
	}
	return filterError("%s is complex: name one of its sub-attributes, such as %s",
		strconv.Quote(a.fullName()), strconv.Quote(example.fullName()))
}

// fieldFor locates a single-valued attribute: its column, or its JSON path.
func fieldFor(a *attrDef) store.Field {
	if a.Column != "" {
		return store.Field{Column: a.Column}
	}
	return store.Field{Path: a.jsonPath()}
}

// presenceCond translates `pr`, `eq null` and `ne null` given the condition
// that says the attribute is present.
func presenceCond(a *attrDef, op filter.CompareOperator, v any, present store.Cond) (store.Cond, error) {
	switch {
	case op == filter.PR:
		return present, nil
	case v == nil && op == filter.EQ:
		return notCond(present), nil
	case v == nil && op == filter.NE:
		return present, nil
	case v == nil:
		return nil, filterError("%s: null can only be compared with eq or ne", strconv.Quote(a.fullName()))
	}
	return nil, errFilterSyntax
}

// leafCond translates a comparison on a single-valued simple attribute a
// found at f.
func leafCond(f store.Field, a *attrDef, op filter.CompareOperator, v any) (store.Cond, error) {
	if op == filter.PR || v == nil {
		return presenceCond(a, op, v, store.Present{Field: f})
	}
	return compareCond(f, a, op, v)
}

// compareCond type-checks `a op v` and builds the comparison on f.
func compareCond(f store.Field, a *attrDef, op filter.CompareOperator, v any) (store.Cond, error) {
	if !filterCompareOps[string(op)] {
		return nil, errFilterSyntax
	}
	name := a.fullName()
	ordering := op == filter.GT || op == filter.GE || op == filter.LT || op == filter.LE
	substring := op == filter.CO || op == filter.SW || op == filter.EW
	if a.Type == attrTypeBoolean && (ordering || substring) ||
		a.Type != attrTypeString && a.Type != attrTypeReference && substring {
		return nil, filterError("%s is %s: %s is not defined for it", strconv.Quote(name), a.Type, op)
	}
	c := store.Compare{Field: f, Op: store.Op(op), CaseExact: a.CaseExact}
	switch a.Type {
	case attrTypeString, attrTypeReference:
		s, ok := v.(string)
		if !ok {
			return nil, filterError("%s: %s is not a string", strconv.Quote(name), filterValueText(v))
		}
		s, err := decodeFilterString(name, s)
		if err != nil {
			return nil, err
		}
		c.Kind, c.Value = store.KindString, s
	case attrTypeBoolean:
		b, ok := filterBool(v)
		if !ok {
			return nil, filterError("%s: %s is not a boolean", strconv.Quote(name), filterValueText(v))
		}
		c.Kind, c.Value = store.KindBoolean, b
	case attrTypeDecimal, attrTypeInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, filterError("%s: %s is not a number", strconv.Quote(name), filterValueText(v))
		}
		x, err := filterNumber(n, a.Type == attrTypeInteger)
		if err != nil {
			return nil, filterError("%s: %s %s", strconv.Quote(name), filterValueText(v), err)
		}
		c.Kind, c.Value = store.KindNumber, x
	case attrTypeDateTime:
		s, ok := v.(string)
		var tm time.Time
		if ok {
			s, _ = decodeFilterString(name, s)
			tm, ok = parseFilterDateTime(s)
		}
		if !ok {
			return nil, filterError("%s: %s is not a dateTime", strconv.Quote(name), filterValueText(v))
		}
		c.Kind, c.Value = store.KindDateTime, tm
	default:
		return nil, filterError("%s cannot be filtered", strconv.Quote(name))
	}
	return c, nil
}

// decodeFilterString resolves the JSON escapes the parser leaves in a string
// value. The scanner has checked the escapes, so decoding cannot fail on
// them; a NUL character is refused because databases cannot hold it in text.
func decodeFilterString(name, raw string) (string, error) {
	s := raw
	if strings.IndexByte(raw, '\\') >= 0 {
		if err := json.Unmarshal([]byte(`"`+raw+`"`), &s); err != nil {
			return "", filterError("%s: invalid string %s", strconv.Quote(name), quoteClipped(raw))
		}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "", filterError("%s: a string value cannot contain the NUL character", strconv.Quote(name))
	}
	return s, nil
}

// filterBool accepts JSON booleans and, as Microsoft Entra ID sends them,
// the strings "true" and "false" in any case.
func filterBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch {
		case strings.EqualFold(v, "true"):
			return true, true
		case strings.EqualFold(v, "false"):
			return false, true
		}
	}
	return false, false
}

// filterNumber converts a JSON number for a decimal or integer attribute.
func filterNumber(n json.Number, integer bool) (float64, error) {
	if integer {
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("is not an integer")
		}
		return float64(i), nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("is out of range")
	}
	return f, nil
}

// parseFilterDateTime parses an xsd:dateTime as RFC 7643 §2.3.5 uses it:
// RFC 3339 with any number of fractional digits (Microsoft sends seven), or
// without a zone, which we read as UTC.
func parseFilterDateTime(s string) (time.Time, bool) {
	if strings.ContainsRune(s, ',') { // time.Parse takes a decimal comma; xsd does not
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// filterValueText renders a compare value for an error message.
func filterValueText(v any) string {
	switch v := v.(type) {
	case string:
		return quoteClipped(v)
	case json.Number:
		if len(v) > maxQuoted {
			return string(v[:maxQuoted]) + "..."
		}
		return string(v)
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}

// --- Condition algebra ------------------------------------------------------
//
// During translation an empty store.And stands for "always true" and an
// empty store.Or for "always false" (the identities of and and or); the
// helpers fold them away, so only a whole filter can end up constant, and
// concreteCond then replaces it with a condition every store can render.

func constCond(b bool) store.Cond {
	if b {
		return store.And{}
	}
	return store.Or{}
}

func isConstCond(c store.Cond) (value, ok bool) {
	switch c := c.(type) {
	case store.And:
		return true, len(c) == 0
	case store.Or:
		return false, len(c) == 0
	}
	return false, false
}

// andCond returns the conjunction of cs, flattened.
func andCond(cs ...store.Cond) store.Cond {
	out := store.And{}
	for _, c := range cs {
		switch c := c.(type) {
		case store.And:
			out = append(out, c...)
		case store.Or:
			if len(c) == 0 {
				return c
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// orCond returns the disjunction of cs, flattened.
func orCond(cs ...store.Cond) store.Cond {
	out := store.Or{}
	for _, c := range cs {
		switch c := c.(type) {
		case store.Or:
			out = append(out, c...)
		case store.And:
			if len(c) == 0 {
				return c
			}
			out = append(out, c)
		default:
			out = append(out, c)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// notCond negates c, removing double negation.
func notCond(c store.Cond) store.Cond {
	if b, ok := isConstCond(c); ok {
		return constCond(!b)
	}
	if n, ok := c.(store.Not); ok {
		return n.Cond
	}
	return store.Not{Cond: c}
}

// condDepth returns the nesting of c as the store counts it: one level per
// And, Or, Not and AnyOf.
func condDepth(c store.Cond) int {
	var inner int
	switch c := c.(type) {
	case store.And:
		for _, x := range c {
			inner = max(inner, condDepth(x))
		}
	case store.Or:
		for _, x := range c {
			inner = max(inner, condDepth(x))
		}
	case store.Not:
		inner = condDepth(c.Cond)
	case store.AnyOf:
		if c.Where != nil {
			inner = condDepth(c.Where)
		}
	default:
		return 0
	}
	return inner + 1
}

// concreteCond replaces a constant filter with `id pr` (always true) or
// `not (id pr)` (always false).
func concreteCond(c store.Cond) store.Cond {
	b, ok := isConstCond(c)
	if !ok {
		return c
	}
	present := store.Present{Field: store.Field{Column: "id"}}
	if b {
		return present
	}
	return store.Not{Cond: present}
}

// --- Rendering -------------------------------------------------------------

// formatCond renders a condition in a compact SCIM-like notation for logs,
// tests and examples: columns by name, JSON paths as $.a.b, AnyOf as
// $.path[where] ($.path[*] when any element will do, @ for the element
// itself), case-insensitive string comparisons marked /i, times in RFC 3339.
func formatCond(c store.Cond) string {
	var b strings.Builder
	writeCond(&b, c, false)
	return b.String()
}

func writeCond(b *strings.Builder, c store.Cond, inner bool) {
	switch c := c.(type) {
	case nil:
		b.WriteString("<nil>")
	case store.Compare:
		writeField(b, c.Field, inner)
		fmt.Fprintf(b, " %s ", c.Op)
		switch v := c.Value.(type) {
		case string:
			b.WriteString(strconv.Quote(v))
			if !c.CaseExact {
				b.WriteString("/i")
			}
		case time.Time:
			b.WriteString(v.Format(time.RFC3339Nano))
		default:
			fmt.Fprint(b, v)
		}
	case store.Present:
		writeField(b, c.Field, inner)
		b.WriteString(" pr")
	case store.And:
		writeJoined(b, []store.Cond(c), " and ", inner)
	case store.Or:
		writeJoined(b, []store.Cond(c), " or ", inner)
	case store.Not:
		b.WriteString("not (")
		writeCond(b, c.Cond, inner)
		b.WriteString(")")
	case store.AnyOf:
		b.WriteString("$." + strings.Join(c.Path, "."))
		if c.Where == nil {
			b.WriteString("[*]")
			return
		}
		b.WriteString("[")
		writeCond(b, c.Where, true)
		b.WriteString("]")
	case store.HasMember:
		fmt.Fprintf(b, "member(%q)", c.UserID)
	case store.InGroup:
		fmt.Fprintf(b, "inGroup(%q)", c.GroupID)
	default:
		fmt.Fprintf(b, "%#v", c)
	}
}

func writeJoined(b *strings.Builder, cs []store.Cond, sep string, inner bool) {
	b.WriteString("(")
	for i, c := range cs {
		if i > 0 {
			b.WriteString(sep)
		}
		writeCond(b, c, inner)
	}
	b.WriteString(")")
}

func writeField(b *strings.Builder, f store.Field, inner bool) {
	switch {
	case f.Column != "":
		b.WriteString(f.Column)
	case inner && len(f.Path) == 0:
		b.WriteString("@")
	case inner:
		b.WriteString(strings.Join(f.Path, "."))
	default:
		b.WriteString("$." + strings.Join(f.Path, "."))
	}
}
