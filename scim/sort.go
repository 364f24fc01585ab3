package scim

// sortBy and sortOrder (RFC 7644 §3.4.2.3).
//
// Any attribute a filter can compare can be sorted by, named as in a
// filter (case-insensitive, with or without its schema URN): a column
// (id, userName, displayName, externalId, active, meta.created,
// meta.lastModified) or a value in the resource's document
// (name.familyName, title, the enterprise extension's employeeNumber,
// ...). Strings sort as the schema says: ignoring case when caseExact is
// false (userName and a group's displayName for every script, through the
// store's folded keys; other strings for ASCII letters), else exactly; by
// code point, with no locale.
//
// A multi-valued attribute sorts by its primary value, else its first one
// (RFC 7644 §3.4.2.3): `emails` and `emails.value` sort by the primary
// e-mail address, `emails.type` by the type of that same element. A
// complex attribute that is not multi-valued needs a sub-attribute
// (`name` alone is refused; `name.familyName` is fine).
//
// Not sortable, each a 400 invalidValue that names the attribute: unknown
// attributes, a User's groups and a Group's members (they are a relation,
// not a value), schemas, meta.resourceType, meta.location and
// meta.version, binary and never-returned attributes (password).
//
// Missing values come last in ascending order and first in descending
// order; ties, missing values included, are ordered by id ascending, so
// pages of a sorted list are stable (see store.Sort).

import (
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

// parseSort checks sortBy and sortOrder against the catalog of kind and
// returns the store's sort: nil when sortBy is empty (sortOrder alone
// changes nothing). sortOrder is "ascending" (the default) or
// "descending", in any case.
func parseSort(kind resourceKind, sortBy, sortOrder string) (*store.Sort, error) {
	desc, err := parseSortOrder(sortOrder)
	if err != nil {
		return nil, err
	}
	sortBy = strings.TrimSpace(sortBy)
	if sortBy == "" {
		return nil, nil
	}
	attr, sub, err := catalogFor(kind).resolve(splitAttrPath(sortBy))
	if err != nil {
		return nil, sortError("%s", err)
	}
	s, err := sortFor(attr, sub)
	if err != nil {
		return nil, err
	}
	s.Desc = desc
	return s, nil
}

func parseSortOrder(order string) (bool, error) {
	switch {
	case order == "" || strings.EqualFold(order, "ascending"):
		return false, nil
	case strings.EqualFold(order, "descending"):
		return true, nil
	}
	return false, badRequest(scimerrors.ScimTypeInvalidValue,
		`sortOrder must be "ascending" or "descending", not %s`, quoteClipped(order))
}

// sortFor builds the sort on attr (and its sub-attribute sub, if named).
func sortFor(attr, sub *attrDef) (*store.Sort, error) {
	if attr.MultiValued {
		return multiValuedSort(attr, sub)
	}
	target := attr
	if sub != nil {
		target = sub
	}
	if err := checkSortable(target); err != nil {
		return nil, err
	}
	if target.Type == attrTypeComplex {
		return nil, sortError("%s is complex: sort by one of its sub-attributes, such as %s",
			strconv.Quote(target.fullName()), strconv.Quote(target.Sub[0].fullName()))
	}
	kind, err := sortKind(target)
	if err != nil {
		return nil, err
	}
	return &store.Sort{Field: fieldFor(target), Kind: kind, CaseExact: target.CaseExact}, nil
}

// multiValuedSort sorts by a value of the primary, else first, element:
// the named sub-attribute, or "value" when none is named.
func multiValuedSort(attr, sub *attrDef) (*store.Sort, error) {
	if err := checkSortable(attr); err != nil {
		return nil, err
	}
	elem := []string{}
	target := attr
	if attr.Type == attrTypeComplex {
		if sub == nil {
			sub = attr.subAttr("value")
		}
		if sub == nil {
			return nil, sortError("%s is complex: sort by one of its sub-attributes", strconv.Quote(attr.fullName()))
		}
		if err := checkSortable(sub); err != nil {
			return nil, err
		}
		elem, target = []string{sub.Name}, sub
	}
	kind, err := sortKind(target)
	if err != nil {
		return nil, err
	}
	return &store.Sort{Field: store.Field{Path: attr.jsonPath()}, Element: elem, Kind: kind, CaseExact: target.CaseExact}, nil
}

// checkSortable refuses attributes that hold no sortable value.
func checkSortable(a *attrDef) error {
	name := strconv.Quote(a.fullName())
	switch {
	case a.Mutability == "writeOnly" || a.Returned == "never":
		return sortError("%s cannot be sorted by", name)
	case a.Type == attrTypeBinary:
		return sortError("%s is binary and cannot be sorted by", name)
	case a.Schema == "" && a.Parent == nil && a.Name == "schemas",
		a.Parent != nil && a.Parent.Schema == "" && a.Parent.Name == "meta" && a.Column == "":
		return sortError("%s is the same kind of value for every resource and cannot be sorted by", name)
	case isMembershipAttr(a):
		return sortError("%s is a relation, not a value, and cannot be sorted by", name)
	}
	return nil
}

// isMembershipAttr reports whether a is a User's groups or a Group's
// members, or one of their sub-attributes.
func isMembershipAttr(a *attrDef) bool {
	top := a
	for top.Parent != nil {
		top = top.Parent
	}
	return !top.isExtension() && (top.Schema == userSchemaURN && top.Name == "groups" ||
		top.Schema == groupSchemaURN && top.Name == "members")
}

// sortKind is the store kind a value of a's type sorts as. A dateTime
// sorts as an instant only in the timestamp columns.
func sortKind(a *attrDef) (store.Kind, error) {
	switch a.Type {
	case attrTypeString, attrTypeReference:
		return store.KindString, nil
	case attrTypeBoolean:
		return store.KindBoolean, nil
	case attrTypeDecimal, attrTypeInteger:
		return store.KindNumber, nil
	case attrTypeDateTime:
		if a.Column != "" {
			return store.KindDateTime, nil
		}
	}
	return 0, sortError("%s cannot be sorted by", strconv.Quote(a.fullName()))
}

// sortError is a 400 invalidValue about sortBy.
func sortError(format string, args ...any) error {
	return badRequest(scimerrors.ScimTypeInvalidValue, "sortBy: "+format, args...)
}
