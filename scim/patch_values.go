package scim

import (
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

// coerceSimple converts a single value to def's type (a complex def takes an
// object). Strings are accepted for booleans and numbers: Entra ID sends
// "True" and "False".
func coerceSimple(def *attrDef, v any) (any, error) {
	wrong := func(what string) error {
		return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be %s", def.fullName(), what)
	}
	switch def.Type {
	case attrTypeComplex:
		return coerceComplex(def, v)
	case attrTypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			switch {
			case strings.EqualFold(b, "true"):
				return true, nil
			case strings.EqualFold(b, "false"):
				return false, nil
			}
		}
		return nil, wrong("a boolean")
	case attrTypeInteger:
		switch n := v.(type) {
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int64(n), nil
			}
		case string:
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				return i, nil
			}
		}
		return nil, wrong("an integer")
	case attrTypeDecimal:
		switch n := v.(type) {
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case string:
			if f, err := strconv.ParseFloat(n, 64); err == nil {
				return f, nil
			}
		}
		return nil, wrong("a number")
	default: // string, reference, binary, dateTime
		s, ok := v.(string)
		if !ok {
			return nil, wrong("a string")
		}
		return s, nil
	}
}

// coerceComplex converts an object to def's sub-attributes with canonical
// names. Unknown sub-attributes, null ones and read-only ones are ignored,
// as the library does. A string given for a single-valued complex attribute
// with a value sub-attribute becomes {"value": s}: Entra ID sends the
// enterprise manager that way.
func coerceComplex(def *attrDef, v any) (map[string]any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			sub := def.subAttr(k)
			if sub == nil || v[k] == nil || sub.Mutability == "readOnly" {
				continue
			}
			if _, dup := out[sub.Name]; dup {
				return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%s is given twice", sub.fullName())
			}
			cv, err := coerceSimple(sub, v[k])
			if err != nil {
				return nil, err
			}
			out[sub.Name] = cv
		}
		return out, nil
	case string:
		if !def.MultiValued && def.subAttr("value") != nil {
			return map[string]any{"value": v}, nil
		}
	}
	if def.MultiValued {
		return nil, badRequest(scimerrors.ScimTypeInvalidValue, "each value of %s must be an object", def.fullName())
	}
	return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an object", def.fullName())
}

// coerceList converts the value of a multi-valued attribute: a list, or one
// value standing for a list of one. Null and empty values are dropped.
func coerceList(def *attrDef, v any) ([]any, error) {
	var in []any
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		in = v
	default:
		in = []any{v}
	}
	out := make([]any, 0, len(in))
	for _, e := range in {
		if e == nil {
			continue
		}
		cv, err := coerceSimple(def, e)
		if err != nil {
			return nil, err
		}
		if !isEmptyValue(cv) {
			out = append(out, cv)
		}
	}
	return out, nil
}

// isEmptyValue reports whether v counts as unassigned (RFC 7643 §2.5): null,
// an empty list or an empty object.
func isEmptyValue(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// valuesOf returns a stored multi-valued attribute as a list.
func valuesOf(v any) []any {
	switch v := v.(type) {
	case []any:
		return v
	case nil:
		return nil
	default:
		return []any{v}
	}
}

// sameValue reports whether the new value v of a multi-valued attribute
// stands for the existing value e: the same "value" and, if either has one,
// the same "type"; values without a "value" must be equal.
func sameValue(def *attrDef, e, v any) bool {
	em, eok := e.(map[string]any)
	vm, vok := v.(map[string]any)
	if !eok || !vok {
		return equalScalar(def, e, v)
	}
	valueDef := def.subAttr("value")
	if valueDef == nil || em["value"] == nil || vm["value"] == nil {
		return reflect.DeepEqual(em, vm)
	}
	if !equalScalar(valueDef, em["value"], vm["value"]) {
		return false
	}
	typeDef := def.subAttr("type")
	if typeDef == nil || (em["type"] == nil && vm["type"] == nil) {
		return true
	}
	return equalScalar(typeDef, em["type"], vm["type"])
}

// containsValue reports whether every sub-attribute given in v has the same
// value in e.
func containsValue(def *attrDef, e, v any) bool {
	em, eok := e.(map[string]any)
	vm, vok := v.(map[string]any)
	if !eok || !vok {
		return equalScalar(def, e, v)
	}
	for k, want := range vm {
		if !equalScalar(def.subAttr(k), em[k], want) {
			return false
		}
	}
	return true
}

// equalScalar compares two simple values, ignoring case unless def is
// case-exact.
func equalScalar(def *attrDef, a, b any) bool {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok && def != nil && !def.CaseExact {
		return strings.EqualFold(as, bs)
	}
	return reflect.DeepEqual(a, b)
}

// mergeValue returns cur with v's sub-attributes set over it (v itself when
// either is not an object).
func mergeValue(cur, v any) any {
	cm, cok := cur.(map[string]any)
	vm, vok := v.(map[string]any)
	if !vok {
		return v
	}
	out := map[string]any{}
	if cok {
		maps.Copy(out, cm)
	}
	maps.Copy(out, copyMap(vm))
	return out
}

// fixPrimary keeps at most one value of a multi-valued attribute primary
// (RFC 7643 §2.4): when one of the values just written (touched) is
// primary, every other value's primary is cleared.
func fixPrimary(def *attrDef, list []any, touched []int) error {
	if def.subAttr("primary") == nil {
		return nil
	}
	winner := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			if winner >= 0 && winner != i {
				return badRequest(scimerrors.ScimTypeInvalidValue, "only one value of %s may be primary", def.fullName())
			}
			winner = i
		}
	}
	if winner < 0 {
		return nil
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != winner && m["primary"] == true {
			m["primary"] = false
		}
	}
	return nil
}

// allIndexes returns 0, 1, ..., n-1.
func allIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// deleteIndexes returns list without the elements at the (ascending) indexes.
func deleteIndexes(list []any, idx []int) []any {
	out := make([]any, 0, len(list)-len(idx))
	for i, e := range list {
		if !slices.Contains(idx, i) {
			out = append(out, e)
		}
	}
	return out
}
