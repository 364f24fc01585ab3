package scim

import (
	"fmt"
	"net/http"
	"strings"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

// groupHandler implements the library's ResourceHandler for /Groups.
// Members are kept in the store's membership table, never in the group's
// attributes.
type groupHandler struct{ h *Handler }

func (g *groupHandler) Create(r *http.Request, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	m, ids, err := groupAttributes(attrs)
	group := &store.Group{Attributes: m}
	ev := g.h.event(r, "group.create", "Group", "", http.StatusCreated,
		fmt.Sprintf("created group %s with %d members", quote(group.DisplayName()), len(ids)))
	if err != nil {
		return elimity.Resource{}, g.h.fail(r, ev, err)
	}
	for _, id := range ids {
		group.Members = append(group.Members, store.Member{Value: id})
	}
	if err := g.h.store.CreateGroup(r.Context(), group, ev); err != nil {
		return elimity.Resource{}, g.h.fail(r, ev, err)
	}
	p := parseProjection(r)
	if !p.wants("members") {
		return g.render(r, group, false), nil
	}
	// Reload for the members' display names.
	return g.get(r, group.ID)
}

func (g *groupHandler) Get(r *http.Request, id string) (elimity.Resource, error) {
	return g.get(r, id)
}

func (g *groupHandler) get(r *http.Request, id string) (elimity.Resource, error) {
	withMembers := parseProjection(r).wants("members")
	group, err := g.h.store.GetGroup(r.Context(), id, store.GroupOptions{WithMembers: withMembers})
	if err != nil {
		return elimity.Resource{}, g.h.scimError(r, err)
	}
	return g.render(r, group, withMembers), nil
}

// GetAll is never reached: Handler.ServeHTTP answers list requests itself.
func (g *groupHandler) GetAll(r *http.Request, _ elimity.ListRequestParams) (elimity.Page, error) {
	return elimity.Page{}, g.h.scimError(r, fmt.Errorf("scim: group GetAll called; lists are served by Handler.list"))
}

func (g *groupHandler) Replace(r *http.Request, id string, attrs elimity.ResourceAttributes) (elimity.Resource, error) {
	m, ids, err := groupAttributes(attrs)
	ev := g.h.event(r, "group.replace", "Group", id, http.StatusOK,
		fmt.Sprintf("replaced group %s with %d members", quote(stringAttr(m, "displayName")), len(ids)))
	if err != nil {
		return elimity.Resource{}, g.h.fail(r, ev, err)
	}
	withMembers := parseProjection(r).wants("members")
	group, err := g.update(r, id, ev, withMembers, func(cur *store.Group) (store.MemberChanges, error) {
		cur.Attributes = m
		return store.MemberChanges{Replace: true, Add: ids}, nil
	})
	if err != nil {
		return elimity.Resource{}, err
	}
	return g.render(r, group, withMembers), nil
}

func (g *groupHandler) Patch(r *http.Request, id string, ops []elimity.PatchOperation) (elimity.Resource, error) {
	ev := g.h.event(r, "group.patch", "Group", id, patchStatus(r), "patched group: "+describeOps(ops))
	// Without a body to answer, the members are not even read.
	withMembers := patchWantsBody(r) && parseProjection(r).wants("members")
	group, err := g.update(r, id, ev, withMembers, func(cur *store.Group) (store.MemberChanges, error) {
		next, changes, err := applyGroupPatch(cur.Attributes, ops)
		if err != nil {
			return store.MemberChanges{}, err
		}
		cur.Attributes = next
		return changes, nil
	})
	if err != nil {
		return elimity.Resource{}, err
	}
	return patchResult(r, group.Version, func() elimity.Resource { return g.render(r, group, withMembers) }), nil
}

// update runs fn on the group id under the request's If-Match, if any, and
// returns the group, with its members when withMembers.
func (g *groupHandler) update(r *http.Request, id string, ev store.Event, withMembers bool, fn func(*store.Group) (store.MemberChanges, error)) (*store.Group, error) {
	group, err := g.h.store.UpdateGroup(r.Context(), id, fn, ev, store.GroupOptions{WithMembers: withMembers}, preconditions(r)...)
	if err != nil {
		return nil, g.h.fail(r, ev, err)
	}
	return group, nil
}

func (g *groupHandler) Delete(r *http.Request, id string) error {
	ev := g.h.event(r, "group.delete", "Group", id, http.StatusNoContent, "deleted group")
	if err := g.h.store.DeleteGroup(r.Context(), id, ev, preconditions(r)...); err != nil {
		return g.h.fail(r, ev, err)
	}
	return nil
}

func (g *groupHandler) render(r *http.Request, group *store.Group, withMembers bool) elimity.Resource {
	res := groupResource(group, g.h.baseURL(r), withMembers)
	p := parseProjection(r)
	p.apply(res.Attributes)
	if !p.wants("externalId") {
		res.ExternalID = elimity.Resource{}.ExternalID
	}
	return res
}

// groupAttributes splits a validated group body into the attributes the
// store keeps and the member user ids.
func groupAttributes(attrs elimity.ResourceAttributes) (map[string]any, []string, error) {
	m := wrapSingles(kindGroup, map[string]any(attrs))
	raw, _ := m["members"].([]any)
	delete(m, "members")
	ids, err := memberIDs(raw)
	return m, ids, err
}

// memberIDs reads the value of each member object. Only users can be
// members: Onramp maps groups to learning bundles, and nested groups would
// make "who is in this group" a graph question no IdP integration needs.
func memberIDs(members []any) ([]string, error) {
	ids := make([]string, 0, len(members))
	for _, raw := range members {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "members: each member must be an object with a value")
		}
		id, _ := m["value"].(string)
		if id == "" {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "members: each member needs a non-empty value (the user's id)")
		}
		if t, _ := m["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "members: only users can be members (nested groups are not supported)")
		}
		ids = append(ids, id)
	}
	return ids, nil
}
