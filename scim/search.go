package scim

// Searches: POST /Users/.search, POST /Groups/.search, POST /.search
// (RFC 7644 §3.4.3) and GET / (§3.4.2.1), answered here rather than by the
// library, whose search validation refuses valid filters and whose
// itemsPerPage is wrong. A SearchRequest body is the query string of a
// GET list in JSON: both become one listRequest and share the list code.
//
// The body is checked strictly. Not a JSON object, a member that is not a
// SearchRequest parameter, or schemas other than exactly
// ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"] is 400
// invalidSyntax. A parameter of the wrong type (startIndex or count not an
// integer, filter, sortBy or sortOrder not a string) or a sortOrder other
// than "ascending" or "descending" is 400 invalidValue. attributes and
// excludedAttributes are arrays of strings; a single comma-separated string
// is accepted too, as in a query string. Member names ignore case, as SCIM
// attribute names do.
//
// Queries across resource types (POST /.search, GET /) return Users, then
// Groups, each with its own schemas and meta.resourceType, paginated as
// one list with one totalResults. The filter applies to each type for
// which it is valid: an attribute one type lacks (members, userName) makes
// that type match nothing; a filter valid for neither type is the User
// type's 400 invalidFilter. sortBy is limited to the attributes every
// resource has (id, externalId, meta.created, meta.lastModified); a sorted
// query across types merges the two sorted lists, so startIndex+count may
// not exceed maxRootSortWindow there (400 tooMany beyond).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store"
)

// searchRequestURN is the schema of a SearchRequest body.
const searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

// maxRootSortWindow bounds startIndex+count of a sorted query across
// resource types, which reads that many resources of each type to merge them.
const maxRootSortWindow = 10 * maxCount

// search answers POST /Users/.search and POST /Groups/.search.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, base string, l lister) {
	lr, err := listRequestFromBody(r)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	h.serveList(w, r, base, l, lr)
}

// rootSearch answers POST /.search.
func (h *Handler) rootSearch(w http.ResponseWriter, r *http.Request, base string) {
	lr, err := listRequestFromBody(r)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	h.serveRoot(w, r, base, lr)
}

// rootList answers GET / with a query string.
func (h *Handler) rootList(w http.ResponseWriter, r *http.Request, base string) {
	lr, err := listRequestFromQuery(r)
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	h.serveRoot(w, r, base, lr)
}

// listRequestFromBody reads a SearchRequest body.
func listRequestFromBody(r *http.Request) (listRequest, error) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		// The server's body limit has read the body already; this is ours.
		return listRequest{}, fmt.Errorf("read search body: %w", err)
	}
	members, err := searchMembers(raw)
	if err != nil {
		return listRequest{}, err
	}
	lr := listRequest{startIndex: 1, count: defaultCount}
	var include, exclude []string
	for _, p := range []struct {
		name  string
		parse func(json.RawMessage) error
	}{
		{"filter", stringMember("filter", &lr.filter)},
		{"sortBy", stringMember("sortBy", &lr.sortBy)},
		{"sortOrder", stringMember("sortOrder", &lr.sortOrder)},
		{"startIndex", intMember("startIndex", &lr.startIndex)},
		{"count", intMember("count", &lr.count)},
		{"attributes", listMember("attributes", &include)},
		{"excludedAttributes", listMember("excludedAttributes", &exclude)},
	} {
		if v, ok := members[strings.ToLower(p.name)]; ok && !isJSONNull(v) {
			if err := p.parse(v); err != nil {
				return listRequest{}, err
			}
		}
	}
	if _, err := parseSortOrder(lr.sortOrder); err != nil {
		return listRequest{}, err
	}
	lr.startIndex = max(lr.startIndex, 1)
	lr.count = min(max(lr.count, 0), maxCount)
	lr.proj = projection{include: parseAttrRefs(strings.Join(include, ",")), exclude: parseAttrRefs(strings.Join(exclude, ","))}
	return lr, nil
}

// searchMembers parses a SearchRequest into its members, keyed in lower
// case, after checking its structure and schemas.
func searchMembers(raw []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&obj); err != nil || obj == nil || dec.More() {
		return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "the body must be one JSON object, a SearchRequest")
	}
	members := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		key := strings.ToLower(k)
		switch key {
		case "schemas", "filter", "sortby", "sortorder", "startindex", "count", "attributes", "excludedattributes":
		default:
			return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%s is not a SearchRequest parameter", quoteClipped(k))
		}
		if _, dup := members[key]; dup {
			return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%s is given twice", quoteClipped(k))
		}
		members[key] = v
	}
	var schemas []string
	if err := json.Unmarshal(members["schemas"], &schemas); err != nil || len(schemas) != 1 || schemas[0] != searchRequestURN {
		return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "schemas must be [%q]", searchRequestURN)
	}
	return members, nil
}

func isJSONNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

func stringMember(name string, dst *string) func(json.RawMessage) error {
	return func(v json.RawMessage) error {
		if err := json.Unmarshal(v, dst); err != nil {
			return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be a string", name)
		}
		return nil
	}
}

func intMember(name string, dst *int) func(json.RawMessage) error {
	return func(v json.RawMessage) error {
		var n json.Number // which would also take a numeric string
		if err := json.Unmarshal(v, &n); err != nil || bytes.HasPrefix(bytes.TrimSpace(v), []byte(`"`)) {
			return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an integer", name)
		}
		i, err := n.Int64()
		if err != nil || i != int64(int32(i)) {
			return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an integer", name)
		}
		*dst = int(i)
		return nil
	}
}

// listMember reads an array of strings, or one comma-separated string.
func listMember(name string, dst *[]string) func(json.RawMessage) error {
	return func(v json.RawMessage) error {
		var s string
		if json.Unmarshal(v, &s) == nil {
			*dst = []string{s}
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an array of attribute names", name)
		}
		return nil
	}
}

// rootPart is one resource type's share of a query across types.
type rootPart struct {
	l lister
	q store.ListQuery
}

// serveRoot answers a query across Users and Groups.
func (h *Handler) serveRoot(w http.ResponseWriter, r *http.Request, base string, lr listRequest) {
	parts, srt, err := rootParts(lr, userList{h}, groupList{h})
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	var total int
	var found []typedResource
	if srt == nil {
		total, found, err = h.rootPage(r, parts, lr, base)
	} else {
		total, found, err = h.rootSortedPage(r, parts, lr, srt, base)
	}
	if err != nil {
		WriteError(w, h.scimError(r, err))
		return
	}
	bodies := make([]map[string]any, 0, len(found))
	for _, f := range found {
		bodies = append(bodies, projectedBody(f.rt, f.res, lr.proj, base))
	}
	writeList(w, total, lr.startIndex, bodies)
}

// rootParts translates lr for each type where its filter is valid.
func rootParts(lr listRequest, listers ...lister) ([]rootPart, *store.Sort, error) {
	srt, err := parseRootSort(lr.sortBy, lr.sortOrder)
	if err != nil {
		return nil, nil, err
	}
	var parts []rootPart
	var firstErr error
	for _, l := range listers {
		q, err := listRequest{filter: lr.filter}.storeQuery(l.kind())
		if err != nil {
			firstErr = cmpOr(firstErr, err)
			continue
		}
		q.Sort = srt
		parts = append(parts, rootPart{l: l, q: q})
	}
	if len(parts) == 0 {
		return nil, nil, firstErr
	}
	return parts, srt, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// parseRootSort accepts, across types, only the attributes every resource
// has, which are columns of both tables.
func parseRootSort(sortBy, sortOrder string) (*store.Sort, error) {
	s, err := parseSort(kindUser, sortBy, sortOrder)
	if err != nil || s == nil {
		return s, err
	}
	switch s.Field.Column {
	case "id", "external_id", "created", "last_modified":
		return s, nil
	}
	return nil, sortError("queries across resource types sort only by id, externalId, meta.created or meta.lastModified, not %s", quoteClipped(sortBy))
}

// typedResource is a resource with its type, in a list across types.
type typedResource struct {
	rt  elimity.ResourceType
	res elimity.Resource
}

// rootPage pages through Users then Groups as one list.
func (h *Handler) rootPage(r *http.Request, parts []rootPart, lr listRequest, base string) (int, []typedResource, error) {
	total, skip, left := 0, lr.startIndex-1, lr.count
	var out []typedResource
	for _, p := range parts {
		q := p.q
		q.StartIndex, q.Count = skip+1, left
		n, res, err := p.l.page(r.Context(), q, lr.proj, base)
		if err != nil {
			return 0, nil, err
		}
		for _, x := range res {
			out = append(out, typedResource{p.l.resourceType(), x})
		}
		total += n
		skip, left = max(skip-n, 0), left-len(res)
	}
	return total, out, nil
}

// rootSortedPage reads the first startIndex+count-1 resources of each type
// in order and merges them.
func (h *Handler) rootSortedPage(r *http.Request, parts []rootPart, lr listRequest, srt *store.Sort, base string) (int, []typedResource, error) {
	window := lr.startIndex - 1 + lr.count
	if window > maxRootSortWindow {
		return 0, nil, badRequest(scimerrors.ScimTypeTooMany,
			"a sorted query across resource types reaches at most %d resources (startIndex+count-1); query /Users or /Groups to go further", maxRootSortWindow)
	}
	total := 0
	var all []typedResource
	for _, p := range parts {
		q := p.q
		q.StartIndex, q.Count = 1, window
		n, res, err := p.l.page(r.Context(), q, lr.proj, base)
		if err != nil {
			return 0, nil, err
		}
		for _, x := range res {
			all = append(all, typedResource{p.l.resourceType(), x})
		}
		total += n
	}
	sort.SliceStable(all, func(i, j int) bool { return lessBy(srt, all[i].res, all[j].res) })
	if lr.startIndex-1 >= len(all) {
		return total, nil, nil
	}
	return total, all[lr.startIndex-1 : min(window, len(all))], nil
}

// lessBy orders two resources as the store orders each type's list under
// s (one of the common columns): missing values last ascending and first
// descending, ties by id ascending.
func lessBy(s *store.Sort, a, b elimity.Resource) bool {
	c := compareBy(s.Field.Column, a, b)
	if s.Desc {
		c = -c
	}
	if c != 0 {
		return c < 0
	}
	return a.ID < b.ID
}

// compareBy compares a common attribute of two resources; a missing value
// is greater than any value.
func compareBy(column string, a, b elimity.Resource) int {
	switch column {
	case "external_id":
		switch ap, bp := a.ExternalID.Present(), b.ExternalID.Present(); {
		case !ap && !bp:
			return 0
		case !ap:
			return 1
		case !bp:
			return -1
		}
		return strings.Compare(a.ExternalID.Value(), b.ExternalID.Value())
	case "created":
		return compareTime(a.Meta.Created, b.Meta.Created)
	case "last_modified":
		return compareTime(a.Meta.LastModified, b.Meta.LastModified)
	}
	return strings.Compare(a.ID, b.ID)
}

func compareTime(a, b *time.Time) int {
	if a == nil || b == nil {
		return 0
	}
	return a.Compare(*b)
}
