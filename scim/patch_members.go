package scim

import (
	"slices"
	"strings"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
)

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
