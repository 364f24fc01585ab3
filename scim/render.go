package scim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	elimity "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"

	"github.com/onramp-dev/onramp/store"
)

// userResource renders a stored user for the library, with its computed
// groups.
func userResource(u *store.User, base string) elimity.Resource {
	attrs := copyMap(u.Attributes)
	if len(u.Groups) > 0 {
		groups := make([]any, 0, len(u.Groups))
		for _, g := range u.Groups {
			groups = append(groups, map[string]any{
				"value":   g.ID,
				"display": g.DisplayName,
				"$ref":    base + "/Groups/" + url.PathEscape(g.ID),
				"type":    "direct",
			})
		}
		attrs["groups"] = groups
	}
	return resource(u.ID, u.Version, u.Created, u.LastModified, attrs)
}

// groupResource renders a stored group; members appear when they were loaded.
func groupResource(g *store.Group, base string, withMembers bool) elimity.Resource {
	attrs := copyMap(g.Attributes)
	if withMembers {
		members := make([]any, 0, len(g.Members))
		for _, m := range g.Members {
			members = append(members, map[string]any{
				"value":   m.Value,
				"display": m.Display,
				"$ref":    base + "/Users/" + url.PathEscape(m.Value),
				"type":    "User",
			})
		}
		attrs["members"] = members
	}
	return resource(g.ID, g.Version, g.Created, g.LastModified, attrs)
}

func resource(id string, version int64, created, modified time.Time, attrs map[string]any) elimity.Resource {
	var ext optional.String
	if s, ok := attrs["externalId"].(string); ok {
		ext = optional.NewString(s)
	}
	return elimity.Resource{
		ID:         id,
		ExternalID: ext,
		Attributes: attrs,
		Meta: elimity.Meta{
			Created:      &created,
			LastModified: &modified,
			Version:      etag(version),
		},
	}
}

// etag is the weak entity tag of a resource version, also its meta.version.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// PATCH answers 204 No Content, with the new ETag, unless the request asks
// for attributes with an `attributes` or `excludedAttributes` query
// parameter; then it answers 200 with the resource so projected. RFC 7644
// §3.5.2 requires 200 and the resource when `attributes` is given and
// otherwise leaves 200 or 204 to the server. The Microsoft SCIM suite
// requires 204 for plain PATCHes ("Patch user omalley new username",
// "patch user omalley active with boolean"), and Okta and Entra ID accept
// either; a PATCH that answers no body also need not read a group's
// members.
func patchWantsBody(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("attributes") || q.Has("excludedAttributes")
}

// patchStatus is the status a successful PATCH of r answers.
func patchStatus(r *http.Request) int {
	if patchWantsBody(r) {
		return http.StatusOK
	}
	return http.StatusNoContent
}

// patchResult is what a PATCH handler returns to the library after writing
// version: no attributes, which the library answers with 204 (the ETag is
// added by etagWriter), or the rendered resource, never empty, so that the
// library answers 200 with it.
func patchResult(r *http.Request, version int64, render func() elimity.Resource) elimity.Resource {
	recordWritten(r, version)
	if !patchWantsBody(r) {
		return elimity.Resource{}
	}
	res := render()
	if len(res.Attributes) == 0 {
		// A projection such as attributes=id leaves nothing but what the
		// library adds; one placeholder key, which the library overwrites
		// with the real schemas, keeps it from answering 204.
		res.Attributes = elimity.ResourceAttributes{"schemas": nil}
	}
	return res
}

// resourceBody is the JSON object of a resource as the library renders a
// single resource (its Resource.response): the attributes, id, externalId,
// schemas and meta. Lists and the streamed group GET use it, so that a
// client sees the same document from GET /Users/{id} and GET /Users.
func resourceBody(rt elimity.ResourceType, res elimity.Resource, base string) map[string]any {
	body := make(map[string]any, len(res.Attributes)+4)
	for k, v := range res.Attributes {
		body[k] = v
	}
	body["id"] = res.ID
	if res.ExternalID.Present() {
		body["externalId"] = res.ExternalID.Value()
	}
	schemas := []string{rt.Schema.ID}
	for _, e := range rt.SchemaExtensions {
		schemas = append(schemas, e.Schema.ID)
	}
	body["schemas"] = schemas
	m := libraryMeta{
		ResourceType: rt.Name,
		Location:     base + rt.Endpoint + "/" + url.PathEscape(res.ID),
		Version:      res.Meta.Version,
	}
	if res.Meta.Created != nil {
		m.Created = res.Meta.Created.Format(time.RFC3339)
	}
	if res.Meta.LastModified != nil {
		m.LastModified = res.Meta.LastModified.Format(time.RFC3339)
	}
	body["meta"] = m
	return body
}

// libraryMeta is the library's meta object, field for field, so that its
// JSON is the same.
type libraryMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location"`
	Version      string `json:"version,omitempty"`
}

// projection is a request's attributes / excludedAttributes (RFC 7644
// §3.4.2.5), applied to rendered attributes. Names are matched without
// regard to case; a value filter in a name (`emails[type eq "work"]`, which
// some clients send) is read as the attribute it filters.
type projection struct {
	include, exclude []attrRef
}

// attrRef is one attribute named in a projection: a top-level attribute,
// optionally a sub-attribute of it. Extension attributes are addressed
// inside the extension's object.
type attrRef struct {
	ext  string // extension URN when the attribute belongs to one
	attr string
	sub  string
}

func parseProjection(r *http.Request) projection {
	q := r.URL.Query()
	return projection{
		include: parseAttrRefs(q.Get("attributes")),
		exclude: parseAttrRefs(q.Get("excludedAttributes")),
	}
}

func parseAttrRefs(list string) []attrRef {
	var refs []attrRef
	for _, name := range strings.Split(list, ",") {
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i]
		}
		if name = strings.TrimSpace(name); name != "" {
			refs = append(refs, parseAttrRef(name))
		}
	}
	return refs
}

func parseAttrRef(name string) attrRef {
	var ref attrRef
	for _, urn := range []string{userSchemaURN, groupSchemaURN} {
		if hasPrefixFold(name, urn+":") {
			name = name[len(urn)+1:]
		}
	}
	if hasPrefixFold(name, enterpriseSchemaURN) {
		ref.ext = enterpriseSchemaURN
		name = strings.TrimPrefix(name[len(enterpriseSchemaURN):], ":")
	}
	ref.attr, ref.sub, _ = strings.Cut(name, ".")
	return ref
}

// wants reports whether attr (a top-level core attribute) will be in the
// response, so that expensive ones (a group's members) are not even read.
func (p projection) wants(attr string) bool {
	for _, ref := range p.exclude {
		if ref.ext == "" && ref.sub == "" && strings.EqualFold(ref.attr, attr) {
			return false
		}
	}
	if len(p.include) == 0 {
		return true
	}
	for _, ref := range p.include {
		if ref.ext == "" && strings.EqualFold(ref.attr, attr) {
			return true
		}
	}
	return false
}

// apply narrows attrs in place. id, schemas and meta are always returned;
// the library adds them after this runs.
func (p projection) apply(attrs map[string]any) {
	if len(p.include) > 0 {
		keep := make(map[string]any, len(p.include))
		for _, ref := range p.include {
			copyRef(keep, attrs, ref)
		}
		clear(attrs)
		for k, v := range keep {
			attrs[k] = v
		}
	}
	for _, ref := range p.exclude {
		removeRef(attrs, ref)
	}
}

// copyRef copies the attribute ref names from src into dst.
func copyRef(dst, src map[string]any, ref attrRef) {
	if ref.ext != "" {
		extSrc, ok := src[ref.ext].(map[string]any)
		if !ok {
			return
		}
		if ref.attr == "" {
			dst[ref.ext] = extSrc
			return
		}
		extDst, _ := dst[ref.ext].(map[string]any)
		if extDst == nil {
			extDst = make(map[string]any)
			dst[ref.ext] = extDst
		}
		copyRef(extDst, extSrc, attrRef{attr: ref.attr, sub: ref.sub})
		return
	}
	key, v, ok := lookupFold(src, ref.attr)
	if !ok {
		return
	}
	if ref.sub == "" {
		dst[key] = v
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if subKey, subV, ok := lookupFold(v, ref.sub); ok {
			m, _ := dst[key].(map[string]any)
			if m == nil {
				m = make(map[string]any)
				dst[key] = m
			}
			m[subKey] = subV
		}
	case []any:
		// Several sub-attributes of one multi-valued attribute
		// (emails.value,emails.type) are kept together: the elements are
		// made again from src with every sub-attribute kept so far. The
		// whole attribute, once kept, stays whole.
		subs := []string{ref.sub}
		if prev, ok := dst[key].([]any); ok {
			if len(prev) > 0 && len(v) > 0 && &prev[0] == &v[0] {
				return
			}
			subs = append(keysOf(prev), ref.sub)
		}
		var out []any
		for _, e := range v {
			em, ok := e.(map[string]any)
			if !ok {
				continue
			}
			picked := map[string]any{}
			for _, sub := range subs {
				if subKey, subV, ok := lookupFold(em, sub); ok {
					picked[subKey] = subV
				}
			}
			if len(picked) > 0 {
				out = append(out, picked)
			}
		}
		if out != nil {
			dst[key] = out
		}
	}
}

// keysOf returns the keys of the objects in list.
func keysOf(list []any) []string {
	var keys []string
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			for k := range m {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	return keys
}

// removeRef deletes the attribute ref names from attrs.
func removeRef(attrs map[string]any, ref attrRef) {
	if ref.ext != "" {
		ext, ok := attrs[ref.ext].(map[string]any)
		if !ok {
			return
		}
		if ref.attr == "" {
			delete(attrs, ref.ext)
			return
		}
		removeRef(ext, attrRef{attr: ref.attr, sub: ref.sub})
		return
	}
	key, v, ok := lookupFold(attrs, ref.attr)
	if !ok || strings.EqualFold(key, "id") {
		return
	}
	if ref.sub == "" {
		delete(attrs, key)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		if subKey, _, ok := lookupFold(v, ref.sub); ok {
			delete(v, subKey)
		}
	case []any:
		for _, e := range v {
			if em, ok := e.(map[string]any); ok {
				if subKey, _, ok := lookupFold(em, ref.sub); ok {
					delete(em, subKey)
				}
			}
		}
	}
}

// lookupFold finds name in m without regard to case.
func lookupFold(m map[string]any, name string) (string, any, bool) {
	if v, ok := m[name]; ok {
		return name, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return k, v, true
		}
	}
	return "", nil, false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// copyMap deep-copies a JSON object so that rendering and projection never
// change what the store handed over.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	default:
		return v
	}
}
