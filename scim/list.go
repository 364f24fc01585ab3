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

// listRequest is a query over resources, as GET /Users?... (RFC 7644
// §3.4.2) and POST /Users/.search (§3.4.3) both express it: the query
// string and the SearchRequest body are two spellings of the same thing.
type listRequest struct {
	filter     string
	startIndex int // 1-based, at least 1
	count      int // 0 to maxCount
	sortBy     string
	sortOrder  string // "", "ascending" or "descending", checked by parseSort
	proj       projection
}

// listRequestFromQuery reads filter, startIndex, count, sortBy, sortOrder,
// attributes and excludedAttributes from r's query string. A startIndex
// below 1 means 1 and a negative count means 0 (RFC 7644 §3.4.2.4); a count
// above maxCount is lowered to it; text that is not a number is a 400.
func listRequestFromQuery(r *http.Request) (listRequest, error) {
	v := r.URL.Query()
	start, err := intParam(v.Get("startIndex"), "startIndex", 1)
	if err != nil {
		return listRequest{}, err
	}
	count, err := intParam(v.Get("count"), "count", defaultCount)
	if err != nil {
		return listRequest{}, err
	}
	return listRequest{
		filter:     v.Get("filter"),
		startIndex: max(start, 1),
		count:      min(max(count, 0), maxCount),
		sortBy:     v.Get("sortBy"),
		sortOrder:  v.Get("sortOrder"),
		proj:       parseProjection(r),
	}, nil
}

// storeQuery translates the request for resources of kind: the filter to
// a store condition, sortBy and sortOrder to a store sort.
func (lr listRequest) storeQuery(kind resourceKind) (store.ListQuery, error) {
	q := store.ListQuery{StartIndex: lr.startIndex, Count: lr.count}
	var err error
	if f := strings.TrimSpace(lr.filter); f != "" {
		if q.Filter, err = parseFilter(kind, f); err != nil {
			return q, err
		}
	}
	q.Sort, err = parseSort(kind, lr.sortBy, lr.sortOrder)
	return q, err
}

// list answers GET /Users and GET /Groups (RFC 7644 §3.4.2).
func (h *Handler) list(w http.ResponseWriter, r *http.Request, base string, l lister) {
	lr, err := listRequestFromQuery(r)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	h.serveList(w, r, base, l, lr)
}

// serveList answers a list request about one resource type.
func (h *Handler) serveList(w http.ResponseWriter, r *http.Request, base string, l lister, lr listRequest) {
	q, err := lr.storeQuery(l.kind())
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	total, resources, err := l.page(r.Context(), q, lr.proj, base)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	bodies := make([]map[string]any, 0, len(resources))
	for _, res := range resources {
		bodies = append(bodies, projectedBody(l.resourceType(), res, lr.proj, base))
	}
	writeList(w, total, lr.startIndex, bodies)
}

// projectedBody applies p to a resource and renders it for a list.
func projectedBody(rt elimity.ResourceType, res elimity.Resource, p projection, base string) map[string]any {
	p.apply(res.Attributes)
	if !p.wants("externalId") {
		res.ExternalID = elimity.Resource{}.ExternalID
	}
	return resourceBody(rt, res, base)
}

// writeList writes a ListResponse: itemsPerPage is the number of resources
// returned, and Resources is [] when there are none.
func writeList(w http.ResponseWriter, total, startIndex int, bodies []map[string]any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": total,
		"itemsPerPage": len(bodies),
		"startIndex":   startIndex,
		"Resources":    bodies,
	})
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
