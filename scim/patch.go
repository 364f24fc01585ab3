package scim

// The PATCH applier (RFC 7644 §3.5.2).
//
// The library has parsed and validated every operation before the handlers
// call us: op is lower case, path is a parsed *filter.Path, and value has
// been checked against the attribute it targets. What it hands over is not
// normalised, though, and the applier relies on none of it:
//
//   - Names in a path keep the client's case ("Emails[Type eq "work"].Value").
//   - A path-less value is a map keyed by whatever the client wrote: "Active",
//     "name.givenName", "urn:...:enterprise:2.0:User:employeeNumber", or a
//     schema URN whose value is an object of that schema's attributes. The
//     values are converted ("False" becomes false), and the sub-attributes of
//     complex values carry canonical names, but the keys do not.
//   - A multi-valued attribute's value is a []any, a single object wrapped in
//     one; with a value filter in the path it is the bare element.
//   - "id" has been removed from a path-less value (Okta sends it).
//
// So every name is resolved here through the attribute catalog
// (attributes.go), every value is converted to the attribute's type again,
// and results always use canonical names.
//
// Choices where RFC 7644 is silent or where clients depart from it:
//
//   - add or replace with a filter of equality tests joined by "and"
//     (emails[type eq "work"].value) that matches no value creates one,
//     seeded from the filter: Entra ID sends exactly that to set a user's
//     first work e-mail. Any other filter that matches nothing is noTarget.
//   - remove with a filter that matches nothing is noTarget, except for group
//     members, where removing a non-member is harmless (store.MemberChanges).
//   - remove of an absent attribute is not an error.
//   - add to a multi-valued attribute merges a value into an existing one
//     with the same "value" (and "type", if either has one) instead of
//     appending a duplicate.
//   - A value set to primary clears primary on the attribute's other values
//     (RFC 7643 §2.4); two primary values in one operation are invalidValue.
//   - password is never stored: an operation on it succeeds and its value is
//     dropped. It never reaches an error message either.
//   - Group members support add and replace with a list of {"value": id},
//     remove with such a list, remove without a value (all members) and
//     remove with members[value eq "id"] filters joined by "or". Operations
//     are folded into one store.MemberChanges, so no operation reads the
//     group's membership.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

// applyUserPatch applies ops, in order, to a copy of attrs (a user's stored
// attributes, canonical names, without id/meta/schemas/groups) and returns
// the result. Any failing op fails the whole patch (the caller discards the
// result), so partial application is impossible; attrs is never modified.
//
// Errors are scimerrors.ScimError values with status 400 whose Detail names
// the operation and the attribute.
func applyUserPatch(attrs map[string]any, ops []elimity.PatchOperation) (map[string]any, error) {
	p := newPatcher(kindUser, attrs)
	if err := p.run(ops); err != nil {
		return nil, err
	}
	return p.attrs, nil
}

// applyGroupPatch does the same for a group's attributes (without members)
// and folds every operation on members into one net store.MemberChanges (so
// adding one member never reads the group's membership).
func applyGroupPatch(attrs map[string]any, ops []elimity.PatchOperation) (map[string]any, store.MemberChanges, error) {
	p := newPatcher(kindGroup, attrs)
	if err := p.run(ops); err != nil {
		return nil, store.MemberChanges{}, err
	}
	return p.attrs, p.members.changes(), nil
}

// patcher applies operations to a private deep copy of a resource's
// attributes.
type patcher struct {
	cat     *catalog
	attrs   map[string]any
	members memberFold // groups only
}

func newPatcher(kind resourceKind, attrs map[string]any) *patcher {
	return &patcher{cat: catalogFor(kind), attrs: copyMap(attrs)}
}

func (p *patcher) run(ops []elimity.PatchOperation) error {
	for i, op := range ops {
		if err := p.apply(op); err != nil {
			return inOperation(i, op, err)
		}
	}
	return nil
}

// inOperation prefixes an error's detail with the operation it comes from:
// `operation 2 (replace emails[type eq "work"].value): ...`.
func inOperation(i int, op elimity.PatchOperation, err error) error {
	se, ok := err.(scimerrors.ScimError)
	if !ok {
		return err
	}
	target := "without path"
	if op.Path != nil {
		target = clipDetail(op.Path.String())
	}
	se.Detail = fmt.Sprintf("operation %d (%s %s): %s", i+1, op.Op, target, se.Detail)
	return se
}

// clipDetail cuts s to maxQuoted characters for an error message.
func clipDetail(s string) string {
	if r := []rune(s); len(r) > maxQuoted {
		return string(r[:maxQuoted]) + "..."
	}
	return s
}

func (p *patcher) apply(op elimity.PatchOperation) error {
	name := strings.ToLower(op.Op)
	switch name {
	case elimity.PatchOperationAdd, elimity.PatchOperationReplace, elimity.PatchOperationRemove:
	default:
		return badRequest(scimerrors.ScimTypeInvalidSyntax, "unknown op %s; use add, remove or replace", quoteClipped(op.Op))
	}
	if op.Path == nil {
		if name == elimity.PatchOperationRemove {
			return badRequest(scimerrors.ScimTypeNoTarget, "remove needs a path naming what to remove")
		}
		return p.applyObject(name, op.Value)
	}
	return p.applyPath(name, *op.Path, op.Value)
}

// applyObject applies add or replace without a path: value is an object of
// attribute paths (any case, dotted, URN-qualified or even filtered) and
// schema URNs holding objects of that schema's attributes. Keys are applied
// in sorted order, so that "name" comes before "name.givenName".
func (p *patcher) applyObject(op string, value any) error {
	obj, ok := value.(map[string]any)
	if !ok {
		return badRequest(scimerrors.ScimTypeInvalidValue, "without a path, value must be an object of attributes and their values")
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		v := obj[key]
		if urn := p.schemaURN(key); urn != "" {
			if err := p.applySchemaObject(op, urn, v); err != nil {
				return err
			}
			continue
		}
		// Okta sends the resource's own id (the library usually strips it);
		// schemas is the server's. Neither is an attribute to change.
		if strings.EqualFold(key, "id") || strings.EqualFold(key, "schemas") {
			continue
		}
		path, err := filter.ParsePath([]byte(key))
		if err != nil {
			return badRequest(scimerrors.ScimTypeInvalidPath, "%s is not an attribute path", quoteClipped(key))
		}
		if err := p.applyPath(op, path, v); err != nil {
			return err
		}
	}
	return nil
}

// applySchemaObject applies the attributes in value, an object keyed by
// attribute names of the schema urn.
func (p *patcher) applySchemaObject(op, urn string, value any) error {
	if value == nil && op == elimity.PatchOperationReplace && urn != p.cat.Schema {
		delete(p.attrs, urn)
		return nil
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return badRequest(scimerrors.ScimTypeInvalidValue, "the value of %s must be an object of its attributes", quoteClipped(urn))
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if urn == p.cat.Schema && (strings.EqualFold(key, "id") || strings.EqualFold(key, "schemas")) {
			continue
		}
		path, err := filter.ParsePath([]byte(urn + ":" + key))
		if err != nil {
			return badRequest(scimerrors.ScimTypeInvalidPath, "%s is not an attribute path", quoteClipped(urn+":"+key))
		}
		if err := p.applyPath(op, path, obj[key]); err != nil {
			return err
		}
	}
	return nil
}

// schemaURN returns the canonical URN of the core schema or an extension
// when s names one (case-insensitively), else "".
func (p *patcher) schemaURN(s string) string {
	if strings.EqualFold(s, p.cat.Schema) {
		return p.cat.Schema
	}
	for _, ext := range p.cat.Extensions {
		if strings.EqualFold(s, ext) {
			return ext
		}
	}
	return ""
}

// patchTarget is what a path resolves to.
type patchTarget struct {
	attr   *attrDef          // the top-level attribute
	sub    *attrDef          // its sub-attribute (name.givenName, emails[...].value), or nil
	filter filter.Expression // the value filter (emails[type eq "work"]), or nil
}

func (p *patcher) applyPath(op string, path filter.Path, value any) error {
	ap := path.AttributePath
	// A path may be a whole extension ("urn:...:enterprise:2.0:User"), which
	// the parser reads as URI "urn:...:2.0" and attribute "User".
	if ap.URIPrefix != nil && ap.SubAttribute == nil && path.ValueExpression == nil && path.SubAttribute == nil {
		if urn := p.schemaURN(ap.URI() + ":" + ap.AttributeName); urn != "" {
			if op == elimity.PatchOperationRemove {
				if urn == p.cat.Schema {
					return badRequest(scimerrors.ScimTypeMutability, "the core schema %s cannot be removed", quoteClipped(urn))
				}
				delete(p.attrs, urn)
				return nil
			}
			return p.applySchemaObject(op, urn, value)
		}
	}
	if (ap.URIPrefix == nil || strings.EqualFold(ap.URI(), p.cat.Schema)) && strings.EqualFold(ap.AttributeName, "schemas") {
		return badRequest(scimerrors.ScimTypeMutability, "schemas is set by the server and cannot be changed")
	}
	attr, sub, err := p.cat.resolve(ap.URI(), ap.AttributeName, ap.SubAttributeName())
	if err != nil {
		return badRequest(scimerrors.ScimTypeInvalidPath, "%v", err)
	}
	t := patchTarget{attr: attr, sub: sub, filter: path.ValueExpression}
	if t.filter != nil {
		if sub != nil {
			return badRequest(scimerrors.ScimTypeInvalidPath, "a value filter must follow the attribute name, as in %s[type eq \"work\"].%s",
				attr.fullName(), sub.Name)
		}
		if name := path.SubAttributeName(); name != "" {
			_, t.sub, err = p.cat.resolve(ap.URI(), ap.AttributeName, name)
			if err != nil {
				return badRequest(scimerrors.ScimTypeInvalidPath, "%v", err)
			}
		}
	}

	switch {
	case attr.Mutability == "writeOnly":
		return nil // password: accepted and dropped, see the file comment
	case p.cat.Kind == kindGroup && attr.Name == "members" && attr.Schema == p.cat.Schema:
		return p.applyMembers(op, t, value)
	case !clientMutable(attr):
		return notMutable(attr)
	case t.sub != nil && !clientMutable(t.sub):
		return notMutable(t.sub)
	}

	container := p.attrs
	if attr.isExtension() {
		ext, _ := p.attrs[attr.Schema].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
		}
		container = ext
		defer func() {
			if len(ext) == 0 {
				delete(p.attrs, attr.Schema)
			} else {
				p.attrs[attr.Schema] = ext
			}
		}()
	}

	switch {
	case t.filter != nil:
		return patchFiltered(op, container, t, value)
	case t.sub != nil:
		return patchSub(op, container, t.attr, t.sub, value)
	default:
		return patchAttr(op, container, t.attr, value)
	}
}

// clientMutable reports whether a client may change a's value.
func clientMutable(a *attrDef) bool { return a.Mutability != "readOnly" && a.Mutability != "immutable" }

// notMutable is the error for an operation on a read-only or immutable
// attribute.
func notMutable(a *attrDef) error {
	what := "read-only"
	if a.Mutability == "immutable" {
		what = "immutable"
	}
	return badRequest(scimerrors.ScimTypeMutability, "%s is %s and cannot be changed", a.fullName(), what)
}

// patchAttr applies an operation to a whole attribute.
func patchAttr(op string, c map[string]any, attr *attrDef, value any) error {
	op, value = emptyValueOp(op, value)
	switch {
	case op == "":
		return nil
	case op == elimity.PatchOperationRemove && attr.MultiValued && value != nil:
		return removeListed(c, attr, value)
	case op == elimity.PatchOperationRemove:
		if attr.Required && !attr.isExtension() {
			return badRequest(scimerrors.ScimTypeInvalidValue, "%s is required and cannot be removed", attr.fullName())
		}
		delete(c, attr.Name)
		return nil
	}
	switch {
	case attr.MultiValued:
		values, err := coerceList(attr, value)
		if err != nil {
			return err
		}
		if op == elimity.PatchOperationReplace {
			if len(values) == 0 {
				delete(c, attr.Name)
				return nil
			}
			if err := fixPrimary(attr, values, allIndexes(len(values))); err != nil {
				return err
			}
			c[attr.Name] = values
			return nil
		}
		list := valuesOf(c[attr.Name])
		var touched []int
		for _, v := range values {
			if i := slices.IndexFunc(list, func(e any) bool { return sameValue(attr, e, v) }); i >= 0 {
				list[i] = mergeValue(list[i], v)
				touched = append(touched, i)
				continue
			}
			list = append(list, v)
			touched = append(touched, len(list)-1)
		}
		if err := fixPrimary(attr, list, touched); err != nil {
			return err
		}
		if len(list) > 0 {
			c[attr.Name] = list
		}
		return nil
	case attr.Type == attrTypeComplex:
		// Add and replace both merge sub-attributes into a complex
		// attribute (RFC 7644 §3.5.2.1, §3.5.2.3).
		v, err := coerceComplex(attr, value)
		if err != nil {
			return err
		}
		cur, _ := c[attr.Name].(map[string]any)
		merged := mergeValue(cur, v).(map[string]any)
		if len(merged) == 0 {
			delete(c, attr.Name)
		} else {
			c[attr.Name] = merged
		}
		return nil
	default:
		v, err := coerceSimple(attr, value)
		if err != nil {
			return err
		}
		c[attr.Name] = v
		return nil
	}
}

// emptyValueOp interprets add and replace with a null or empty value: add
// adds nothing (op ""), replace unassigns the target (RFC 7643 §2.5), that
// is, removes it.
func emptyValueOp(op string, value any) (string, any) {
	if op == elimity.PatchOperationRemove || !isEmptyValue(value) {
		return op, value
	}
	if op == elimity.PatchOperationAdd {
		return "", nil
	}
	return elimity.PatchOperationRemove, nil
}

// removeListed removes the listed values from a multi-valued attribute
// (Entra ID's form: remove emails with value [{"value": "a@example.com"}]).
// A listed value removes every value whose sub-attributes include all of its
// own; listing a value that is not there is not an error.
func removeListed(c map[string]any, attr *attrDef, value any) error {
	values, err := coerceList(attr, value)
	if err != nil {
		return err
	}
	list := slices.DeleteFunc(valuesOf(c[attr.Name]), func(e any) bool {
		return slices.ContainsFunc(values, func(v any) bool { return containsValue(attr, e, v) })
	})
	if len(list) == 0 {
		delete(c, attr.Name)
	} else {
		c[attr.Name] = list
	}
	return nil
}

// patchSub applies an operation to a sub-attribute without a value filter:
// name.givenName, or emails.type (every value of emails).
func patchSub(op string, c map[string]any, attr, sub *attrDef, value any) error {
	op, value = emptyValueOp(op, value)
	if op == "" {
		return nil
	}
	remove := op == elimity.PatchOperationRemove
	var v any
	if !remove {
		var err error
		if v, err = coerceSimple(sub, value); err != nil {
			return err
		}
	}
	if !attr.MultiValued {
		m, _ := c[attr.Name].(map[string]any)
		if remove {
			delete(m, sub.Name)
		} else {
			if m == nil {
				m = map[string]any{}
			}
			m[sub.Name] = v
		}
		if len(m) == 0 {
			delete(c, attr.Name)
		} else {
			c[attr.Name] = m
		}
		return nil
	}
	list := valuesOf(c[attr.Name])
	if len(list) == 0 && !remove {
		list = []any{map[string]any{}}
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			if remove {
				delete(m, sub.Name)
			} else {
				m[sub.Name] = v
			}
		}
	}
	list = slices.DeleteFunc(list, isEmptyValue)
	if !remove && sub.Name == "primary" {
		if err := fixPrimary(attr, list, allIndexes(len(list))); err != nil {
			return err
		}
	}
	if len(list) == 0 {
		delete(c, attr.Name)
	} else {
		c[attr.Name] = list
	}
	return nil
}

// patchFiltered applies an operation to the values of a multi-valued
// attribute that match a value filter, or to their sub-attribute t.sub.
func patchFiltered(op string, c map[string]any, t patchTarget, value any) error {
	attr := t.attr
	if !attr.MultiValued {
		return badRequest(scimerrors.ScimTypeInvalidPath, "%s is not multi-valued; a value filter applies only to multi-valued attributes", attr.fullName())
	}
	op, value = emptyValueOp(op, value)
	if op == "" {
		return nil
	}
	list := valuesOf(c[attr.Name])
	var matched []int
	for i, e := range list {
		if _, isObj := e.(map[string]any); attr.Type == attrTypeComplex && !isObj {
			continue // not a value this server would have stored
		}
		ok, err := matchValue(attr, t.filter, e)
		if err != nil {
			return err
		}
		if ok {
			matched = append(matched, i)
		}
	}
	remove := op == elimity.PatchOperationRemove
	seeded := false
	if len(matched) == 0 {
		seed, ok := equalitySeed(attr, t.filter)
		if remove || !ok {
			return badRequest(scimerrors.ScimTypeNoTarget, "no value of %s matches the filter", attr.fullName())
		}
		list = append(list, seed)
		matched = []int{len(list) - 1}
		seeded = true
	}

	switch {
	case remove && t.sub == nil:
		list = deleteIndexes(list, matched)
	case remove:
		for _, i := range matched {
			if m, ok := list[i].(map[string]any); ok {
				delete(m, t.sub.Name)
			}
		}
		list = slices.DeleteFunc(list, isEmptyValue)
	case t.sub != nil:
		v, err := coerceSimple(t.sub, value)
		if err != nil {
			return err
		}
		for _, i := range matched {
			list[i].(map[string]any)[t.sub.Name] = v
		}
		if t.sub.Name == "primary" {
			if err := fixPrimary(attr, list, matched); err != nil {
				return err
			}
		}
	default:
		// The value is one element: it replaces each matched value
		// (RFC 7644 §3.5.2.3) or, for add, is merged into it.
		values, err := coerceList(attr, value)
		if err != nil {
			return err
		}
		if len(values) != 1 {
			return badRequest(scimerrors.ScimTypeInvalidValue, "a filtered path selects values of %s one by one: value must be a single value", attr.fullName())
		}
		for _, i := range matched {
			if op == elimity.PatchOperationAdd || seeded {
				list[i] = mergeValue(list[i], values[0])
			} else {
				list[i] = copyValue(values[0])
			}
		}
		if err := fixPrimary(attr, list, matched); err != nil {
			return err
		}
	}
	if len(list) == 0 {
		delete(c, attr.Name)
	} else {
		c[attr.Name] = list
	}
	return nil
}

// applyMembers folds an operation on a group's members into p.members.
func (p *patcher) applyMembers(op string, t patchTarget, value any) error {
	if t.sub != nil {
		return badRequest(scimerrors.ScimTypeInvalidPath,
			"members: a member's %s cannot be changed; add or remove the member instead", t.sub.Name)
	}
	if t.filter != nil {
		if op != elimity.PatchOperationRemove {
			return badRequest(scimerrors.ScimTypeInvalidPath,
				"members: a filtered path is supported only with remove; use add or replace with a list of members")
		}
		ids, err := memberFilterIDs(t.filter)
		if err != nil {
			return err
		}
		for _, id := range ids {
			p.members.remove(id)
		}
		return nil
	}
	if value == nil {
		if op == elimity.PatchOperationAdd {
			return badRequest(scimerrors.ScimTypeInvalidValue, "members: add needs a value listing the members to add")
		}
		p.members.removeAll() // remove, or replace with null: no members
		return nil
	}
	ids, err := memberValues(value)
	if err != nil {
		return err
	}
	switch op {
	case elimity.PatchOperationAdd:
		for _, id := range ids {
			p.members.add(id)
		}
	case elimity.PatchOperationRemove:
		for _, id := range ids {
			p.members.remove(id)
		}
	default:
		p.members.removeAll()
		for _, id := range ids {
			p.members.add(id)
		}
	}
	return nil
}

// memberValues reads the user ids of a members value: a list of objects with
// a value (the library wraps a single object in a list).
func memberValues(value any) ([]string, error) {
	var list []any
	switch v := value.(type) {
	case []any:
		list = v
	case map[string]any:
		list = []any{v}
	default:
		return nil, badRequest(scimerrors.ScimTypeInvalidValue,
			`members: value must be a list of member objects, as in [{"value": "<user id>"}]`)
	}
	return memberIDs(list)
}

// memberFilterIDs reads the ids of members[value eq "a" or value eq "b"].
// Only that form is supported: membership lives in its own table, and other
// filters would need every member read.
func memberFilterIDs(expr filter.Expression) ([]string, error) {
	unsupported := badRequest(scimerrors.ScimTypeInvalidFilter,
		`members: the only supported filter is value eq "<user id>", possibly joined by or`)
	switch e := expr.(type) {
	case *filter.AttributeExpression:
		id, ok := e.CompareValue.(string)
		if e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil ||
			!strings.EqualFold(e.AttributePath.AttributeName, "value") ||
			!strings.EqualFold(string(e.Operator), string(filter.EQ)) || !ok {
			return nil, unsupported
		}
		id = unquoteFilterString(id)
		if id == "" {
			return nil, badRequest(scimerrors.ScimTypeInvalidFilter, "members: the member id in the filter is empty")
		}
		return []string{id}, nil
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(e.Operator), string(filter.OR)) {
			return nil, unsupported
		}
		left, err := memberFilterIDs(e.Left)
		if err != nil {
			return nil, err
		}
		right, err := memberFilterIDs(e.Right)
		if err != nil {
			return nil, err
		}
		return append(left, right...), nil
	default:
		return nil, unsupported
	}
}

// memberFold is the net effect of a request's operations on a group's
// membership, in the terms of store.MemberChanges: drop all (replace), then
// remove, then add. The zero value changes nothing.
type memberFold struct {
	replace bool
	adds    memberSet
	removes memberSet
}

func (f *memberFold) add(id string) {
	f.removes.delete(id)
	f.adds.insert(id)
}

func (f *memberFold) remove(id string) {
	f.adds.delete(id)
	if !f.replace { // after a replace the member is gone already
		f.removes.insert(id)
	}
}

func (f *memberFold) removeAll() {
	*f = memberFold{replace: true}
}

func (f *memberFold) changes() store.MemberChanges {
	return store.MemberChanges{Replace: f.replace, Remove: f.removes.list(), Add: f.adds.list()}
}

// memberSet is a set of ids that remembers insertion order.
type memberSet struct {
	order []string
	in    map[string]bool
}

func (s *memberSet) insert(id string) {
	if s.in == nil {
		s.in = map[string]bool{}
	}
	if !s.in[id] {
		s.in[id] = true
		s.order = append(s.order, id)
	}
}

func (s *memberSet) delete(id string) {
	if s.in[id] {
		delete(s.in, id)
		s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	}
}

// list returns the ids in insertion order, nil when there are none.
func (s *memberSet) list() []string {
	if len(s.order) == 0 {
		return nil
	}
	return slices.Clone(s.order)
}

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

// normalizePatchBody rewrites the forms of a PATCH /Users body that real
// clients send but the library's validation rejects, so that the request
// reaches the applier; other bodies, and anything that is not a JSON object,
// are returned unchanged for the library to judge. Call it on the body of
// every PATCH to /Users/{id} before the library sees it.
//
//   - Entra ID sends the enterprise manager as a bare id:
//     {"op":"Add","path":"urn:...:enterprise:2.0:User:manager","value":"<id>"}.
//     The schema makes manager complex, so the library answers 400. The id
//     becomes {"value": "<id>"}; an empty id, Entra's way of clearing the
//     manager, becomes a remove.
//   - Onramp's User schema leaves out password (see userSchema), so the
//     library rejects any operation on it, which Okta sends when password
//     sync is on. Such operations, and password keys of path-less values,
//     are dropped here: the password is never stored and never reaches the
//     audit trail. A request left without operations gets a no-op in their
//     place, since the library insists on at least one.
func normalizePatchBody(body []byte) []byte {
	var req map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&req); err != nil || d.More() {
		return body
	}
	opsKey, rawOps, _ := lookupFold(req, "Operations")
	ops, ok := rawOps.([]any)
	if !ok {
		return body
	}
	var (
		out     []any
		changed bool
	)
	for _, raw := range ops {
		op, isObj := raw.(map[string]any)
		if !isObj {
			out = append(out, raw)
			continue
		}
		rewritten, opChanged := normalizePatchOp(op)
		out = append(out, rewritten...)
		changed = changed || opChanged
	}
	if !changed {
		return body
	}
	if len(out) == 0 {
		// Every operation was on the password: change nothing.
		out = []any{map[string]any{"op": elimity.PatchOperationAdd, "value": map[string]any{}}}
	}
	req[opsKey] = out
	rewritten, err := json.Marshal(req)
	if err != nil {
		return body
	}
	return rewritten
}

// managerPath is the full path of the enterprise extension's manager.
const managerPath = enterpriseSchemaURN + ":manager"

// isPasswordPath reports whether a path or path-less key names password.
func isPasswordPath(path string) bool {
	return strings.EqualFold(path, "password") || strings.EqualFold(path, userSchemaURN+":password")
}

// normalizePatchOp rewrites one operation of a PATCH /Users body for
// normalizePatchBody into the operations that replace it (none, itself, or
// itself followed by a remove of the manager), and reports whether it
// changed anything.
func normalizePatchOp(op map[string]any) ([]any, bool) {
	opKey, rawName, _ := lookupFold(op, "op")
	name, _ := rawName.(string)
	_, rawPath, _ := lookupFold(op, "path")
	path, _ := rawPath.(string)
	valueKey, value, _ := lookupFold(op, "value")

	switch {
	case isPasswordPath(path):
		return nil, true
	case strings.EqualFold(path, managerPath):
		id, isStr := value.(string)
		if !isStr {
			return []any{op}, false
		}
		if id == "" || strings.EqualFold(name, elimity.PatchOperationRemove) {
			if opKey == "" {
				opKey = "op"
			}
			op[opKey] = elimity.PatchOperationRemove
			delete(op, valueKey)
		} else {
			op[valueKey] = map[string]any{"value": id}
		}
		return []any{op}, true
	case path != "":
		return []any{op}, false
	}

	obj, isObj := value.(map[string]any)
	if !isObj {
		return []any{op}, false
	}
	changed, clearManager := false, false
	// managerID rewrites a manager given as a bare id in obj under key.
	managerID := func(obj map[string]any, key string) {
		id, isStr := obj[key].(string)
		if !isStr {
			return
		}
		changed = true
		if id == "" {
			delete(obj, key)
			clearManager = true
		} else {
			obj[key] = map[string]any{"value": id}
		}
	}
	for _, k := range slices.Collect(maps.Keys(obj)) {
		switch {
		case isPasswordPath(k):
			delete(obj, k)
			changed = true
		case strings.EqualFold(k, managerPath):
			managerID(obj, k)
		case strings.EqualFold(k, userSchemaURN):
			if core, isObj := obj[k].(map[string]any); isObj {
				if pk, _, found := lookupFold(core, "password"); found {
					delete(core, pk)
					changed = true
				}
			}
		case strings.EqualFold(k, enterpriseSchemaURN):
			if ext, isObj := obj[k].(map[string]any); isObj {
				if mk, _, found := lookupFold(ext, "manager"); found {
					managerID(ext, mk)
				}
			}
		}
	}
	if !clearManager {
		return []any{op}, changed
	}
	remove := map[string]any{"op": elimity.PatchOperationRemove, "path": managerPath}
	if len(obj) == 0 {
		return []any{remove}, true
	}
	return []any{op, remove}, true
}
