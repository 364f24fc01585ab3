package scim

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"time"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"
)

// matchValue evaluates a value filter (the part of emails[type eq "work"]
// in brackets) against one value e of the multi-valued attribute def. Names
// in the filter are e's sub-attributes, or "value" for e itself when def is
// not complex.
func matchValue(def *attrDef, expr filter.Expression, e any) (bool, error) {
	switch x := expr.(type) {
	case *filter.AttributeExpression:
		return matchComparison(def, x, e)
	case *filter.LogicalExpression:
		left, err := matchValue(def, x.Left, e)
		if err != nil {
			return false, err
		}
		right, err := matchValue(def, x.Right, e)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(x.Operator), string(filter.AND)) {
			return left && right, nil
		}
		return left || right, nil
	case *filter.NotExpression:
		ok, err := matchValue(def, x.Expression, e)
		return !ok, err
	default:
		return false, badRequest(scimerrors.ScimTypeInvalidFilter, "unsupported filter in the path of %s", def.fullName())
	}
}

func matchComparison(def *attrDef, x *filter.AttributeExpression, e any) (bool, error) {
	ap := x.AttributePath
	if ap.URIPrefix != nil || ap.SubAttribute != nil {
		return false, badRequest(scimerrors.ScimTypeInvalidFilter, "a filter in the path of %s may name only its sub-attributes", def.fullName())
	}
	var (
		sd     *attrDef
		actual any
	)
	if def.Type == attrTypeComplex {
		if sd = def.subAttr(ap.AttributeName); sd == nil {
			return false, badRequest(scimerrors.ScimTypeInvalidFilter, "unknown sub-attribute %s of %s",
				quoteClipped(ap.AttributeName), def.fullName())
		}
		if m, ok := e.(map[string]any); ok {
			actual = m[sd.Name]
		}
	} else {
		if !strings.EqualFold(ap.AttributeName, "value") {
			return false, badRequest(scimerrors.ScimTypeInvalidFilter, "a filter on %s may only name value", def.fullName())
		}
		sd, actual = def, e
	}
	return evalCompare(sd, strings.ToLower(string(x.Operator)), actual, x.CompareValue)
}

// evalCompare evaluates `actual op want` for the attribute def (RFC 7644
// §3.4.2.2). A missing value matches only ne.
func evalCompare(def *attrDef, op string, actual, want any) (bool, error) {
	bad := func() (bool, error) {
		return false, badRequest(scimerrors.ScimTypeInvalidFilter, "operator %s cannot compare %s", op, def.fullName())
	}
	switch op {
	case "pr":
		return !isEmptyValue(actual) && actual != "", nil
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
	default:
		return bad()
	}
	if want == nil { // eq null, ne null
		switch op {
		case "eq":
			return actual == nil, nil
		case "ne":
			return actual != nil, nil
		}
		return bad()
	}
	if actual == nil {
		return op == "ne", nil
	}
	if ws, ok := want.(string); ok {
		want = unquoteFilterString(ws)
	}
	if def.Type == attrTypeBoolean {
		a, aerr := coerceSimple(def, actual)
		w, werr := coerceSimple(def, want)
		switch {
		case aerr != nil || werr != nil:
			return op == "ne", nil
		case op == "eq":
			return a == w, nil
		case op == "ne":
			return a != w, nil
		}
		return bad()
	}
	if def.Type == attrTypeInteger || def.Type == attrTypeDecimal {
		a, aok := numberOf(actual)
		w, wok := numberOf(want)
		if !aok || !wok {
			return op == "ne", nil
		}
		return evalOrder(op, cmpNumbers(a, w))
	}
	a, aok := actual.(string)
	w, wok := want.(string)
	if !aok || !wok {
		return op == "ne", nil
	}
	if def.Type == attrTypeDateTime {
		at, aerr := time.Parse(time.RFC3339Nano, a)
		wt, werr := time.Parse(time.RFC3339Nano, w)
		if aerr == nil && werr == nil {
			switch op {
			case "co", "sw", "ew":
				return bad()
			}
			return evalOrder(op, at.Compare(wt))
		}
	}
	if !def.CaseExact {
		a, w = strings.ToLower(a), strings.ToLower(w)
	}
	switch op {
	case "co":
		return strings.Contains(a, w), nil
	case "sw":
		return strings.HasPrefix(a, w), nil
	case "ew":
		return strings.HasSuffix(a, w), nil
	}
	return evalOrder(op, strings.Compare(a, w))
}

// evalOrder applies eq, ne, gt, ge, lt or le to the result of a comparison.
func evalOrder(op string, c int) (bool, error) {
	switch op {
	case "eq":
		return c == 0, nil
	case "ne":
		return c != 0, nil
	case "gt":
		return c > 0, nil
	case "ge":
		return c >= 0, nil
	case "lt":
		return c < 0, nil
	case "le":
		return c <= 0, nil
	}
	return false, badRequest(scimerrors.ScimTypeInvalidFilter, "operator %s applies only to strings", op)
}

func cmpNumbers(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numberOf reads a number, or a string holding one, as a float64.
func numberOf(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(n, 64)
		return f, err == nil
	}
	return 0, false
}

// equalitySeed returns the value that a filter of equality tests joined by
// "and" describes (type eq "work" gives {"type": "work"}), and false for any
// other filter.
func equalitySeed(def *attrDef, expr filter.Expression) (map[string]any, bool) {
	if def.Type != attrTypeComplex {
		return nil, false
	}
	seed := map[string]any{}
	var walk func(filter.Expression) bool
	walk = func(expr filter.Expression) bool {
		switch x := expr.(type) {
		case *filter.AttributeExpression:
			ap := x.AttributePath
			if !strings.EqualFold(string(x.Operator), string(filter.EQ)) || x.CompareValue == nil ||
				ap.URIPrefix != nil || ap.SubAttribute != nil {
				return false
			}
			sd := def.subAttr(ap.AttributeName)
			if sd == nil || sd.Mutability == "readOnly" {
				return false
			}
			want := x.CompareValue
			if s, ok := want.(string); ok {
				want = unquoteFilterString(s)
			}
			v, err := coerceSimple(sd, want)
			if err != nil {
				return false
			}
			if prev, dup := seed[sd.Name]; dup && !reflect.DeepEqual(prev, v) {
				return false
			}
			seed[sd.Name] = v
			return true
		case *filter.LogicalExpression:
			return strings.EqualFold(string(x.Operator), string(filter.AND)) && walk(x.Left) && walk(x.Right)
		}
		return false
	}
	if !walk(expr) {
		return nil, false
	}
	return seed, true
}

// unquoteFilterString undoes JSON escapes in a filter's string literal: the
// parser strips the quotes but keeps `\"` as it was written.
func unquoteFilterString(s string) string {
	if !strings.ContainsRune(s, '\\') {
		return s
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}
