package scim

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

// lister reads one page of one resource type.
type lister interface {
	kind() resourceKind
	resourceType() elimity.ResourceType
	page(ctx context.Context, q store.ListQuery, p projection, base string) (int, []elimity.Resource, error)
}

// list answers GET /Users and GET /Groups (RFC 7644 §3.4.2).
func (h *Handler) list(w http.ResponseWriter, r *http.Request, base string, l lister) {
	q, err := listQuery(r, l.kind())
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	p := parseProjection(r)
	total, resources, err := l.page(r.Context(), q, p, base)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	rt := l.resourceType()
	bodies := make([]map[string]any, 0, len(resources))
	for _, res := range resources {
		p.apply(res.Attributes)
		if !p.wants("externalId") {
			res.ExternalID = elimity.Resource{}.ExternalID
		}
		bodies = append(bodies, resourceBody(rt, res, base))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": total,
		"itemsPerPage": len(bodies),
		"startIndex":   q.StartIndex,
		"Resources":    bodies,
	})
}

// listQuery reads filter, startIndex and count. A startIndex below 1 means 1
// and a negative count means 0 (RFC 7644 §3.4.2.4); a count above maxCount is
// lowered to it; text that is not a number is a 400.
func listQuery(r *http.Request, kind resourceKind) (store.ListQuery, error) {
	v := r.URL.Query()
	q := store.ListQuery{StartIndex: 1, Count: defaultCount}
	var err error
	if q.StartIndex, err = intParam(v.Get("startIndex"), "startIndex", 1); err != nil {
		return q, err
	}
	if q.Count, err = intParam(v.Get("count"), "count", defaultCount); err != nil {
		return q, err
	}
	q.StartIndex = max(q.StartIndex, 1)
	q.Count = min(max(q.Count, 0), maxCount)
	if f := strings.TrimSpace(v.Get("filter")); f != "" {
		if q.Filter, err = parseFilter(kind, f); err != nil {
			return q, err
		}
	}
	return q, nil
}

func intParam(s, name string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an integer", name)
	}
	return n, nil
}

type userList struct{ h *Handler }

func (userList) kind() resourceKind                   { return kindUser }
func (l userList) resourceType() elimity.ResourceType { return l.h.types[0] }

func (l userList) page(ctx context.Context, q store.ListQuery, _ projection, base string) (int, []elimity.Resource, error) {
	page, err := l.h.store.ListUsers(ctx, q)
	if err != nil {
		return 0, nil, err
	}
	out := make([]elimity.Resource, 0, len(page.Resources))
	for _, u := range page.Resources {
		out = append(out, userResource(u, base))
	}
	return page.Total, out, nil
}

type groupList struct{ h *Handler }

func (groupList) kind() resourceKind                   { return kindGroup }
func (l groupList) resourceType() elimity.ResourceType { return l.h.types[1] }

func (l groupList) page(ctx context.Context, q store.ListQuery, p projection, base string) (int, []elimity.Resource, error) {
	withMembers := p.wants("members")
	page, err := l.h.store.ListGroups(ctx, q, store.GroupOptions{WithMembers: withMembers})
	if err != nil {
		return 0, nil, err
	}
	out := make([]elimity.Resource, 0, len(page.Resources))
	for _, g := range page.Resources {
		out = append(out, groupResource(g, base, withMembers))
	}
	return page.Total, out, nil
}
