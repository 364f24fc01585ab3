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
	"fmt"
	"maps"
	"slices"
	"strings"

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
