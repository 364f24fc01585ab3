package scim

// Entity tags (RFC 7644 §3.14, RFC 7232).
//
// A resource's ETag is W/"n", n being its store version (see etag in
// render.go), also its meta.version. The library neither checks
// preconditions nor lets a handler answer 304 or 412 from GET, so
// Handler.ServeHTTP deals with them before the library runs:
//
//   - If-None-Match on GET /Users/{id} and /Groups/{id}: the current version
//     is read alone (one column of one row) and, when a listed tag matches
//     it, the answer is 304 with the ETag and no body. Comparison is weak
//     (RFC 7232 §2.3.2): W/"3" and "3" both match version 3. "*" matches any
//     existing resource. A missing resource, or no match, gets the usual GET.
//   - If-Match on PUT, PATCH and DELETE of /Users/{id} and /Groups/{id}: the
//     acceptable versions travel in the request context to the handlers,
//     which pass them to the store as a store.Precondition. The store checks
//     them in the writing transaction, under the row lock, and writes with
//     "AND version = ?", so of two writers that read the same version only
//     one wins. A mismatch is 412 with a SCIM error body. Both W/"n" and "n"
//     are accepted, although RFC 7232 asks for strong comparison in
//     If-Match: every tag Onramp issues is weak, so strict comparison would
//     make If-Match never succeed, and clients (Entra ID among them) echo
//     meta.version as they got it. "*" matches any existing resource. A tag
//     Onramp did not issue never matches. A missing resource is 404, not
//     412, as SCIM clients expect.
//
// A group's ETag changes with its membership. A user's does not change when
// only its computed groups attribute does (see store.User): clients that
// cache users by ETag read memberships from /Groups.

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// etagList is a parsed If-Match or If-None-Match header.
type etagList struct {
	// any is true for "*".
	any bool
	// versions are the versions named by tags of the form W/"n" or "n".
	// Tags of any other form name no version of ours and are dropped.
	versions []int64
}

// parseETags reads a comma-separated list of entity tags. Unparsable
// entries are dropped: they can match no resource.
func parseETags(header string) etagList {
	var l etagList
	for _, part := range strings.Split(header, ",") {
		tag := strings.TrimSpace(part)
		if tag == "*" {
			l.any = true
			continue
		}
		if v, ok := tagVersion(tag); ok {
			l.versions = append(l.versions, v)
		}
	}
	return l
}

// tagVersion returns the version named by W/"n" or "n".
func tagVersion(tag string) (int64, bool) {
	tag = strings.TrimPrefix(tag, "W/")
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return 0, false
	}
	v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64)
	if err != nil || v < 1 {
		return 0, false
	}
	return v, true
}

// matches reports whether the list matches a resource at version.
func (l etagList) matches(version int64) bool {
	if l.any {
		return true
	}
	for _, v := range l.versions {
		if v == version {
			return true
		}
	}
	return false
}

// precondition turns an If-Match list into the store's precondition.
// Versions start at 1, so a list that names none of ours becomes version
// 0, which no resource has.
func (l etagList) precondition() store.Precondition {
	switch {
	case l.any:
		return store.Precondition{}
	case len(l.versions) == 0:
		return store.Precondition{IfVersion: []int64{0}}
	default:
		return store.Precondition{IfVersion: l.versions}
	}
}

// preconditionKey carries a request's If-Match precondition in its context.
type preconditionKey struct{}

// withIfMatch returns r with its If-Match header, if any, parsed into its
// context for the resource handlers.
func withIfMatch(r *http.Request) *http.Request {
	values := r.Header.Values("If-Match")
	if len(values) == 0 {
		return r
	}
	pre := parseETags(strings.Join(values, ",")).precondition()
	return r.WithContext(context.WithValue(r.Context(), preconditionKey{}, pre))
}

// preconditions returns the store preconditions of r: none, or its If-Match.
func preconditions(r *http.Request) []store.Precondition {
	if pre, ok := r.Context().Value(preconditionKey{}).(store.Precondition); ok {
		return []store.Precondition{pre}
	}
	return nil
}

// resourceRef is the resource a /Users/{id} or /Groups/{id} path names.
type resourceRef struct {
	kind resourceKind
	id   string
}

// parseResourcePath reads /Users/{id} and /Groups/{id}, unescaping the id
// as the library does.
func parseResourcePath(path string) (resourceRef, bool) {
	for _, e := range []struct {
		kind   resourceKind
		prefix string
	}{{kindUser, "/Users/"}, {kindGroup, "/Groups/"}} {
		rest, ok := strings.CutPrefix(path, e.prefix)
		if !ok || rest == "" || rest == ".search" {
			continue
		}
		id, err := url.PathUnescape(rest)
		if err != nil {
			return resourceRef{}, false
		}
		return resourceRef{kind: e.kind, id: id}, true
	}
	return resourceRef{}, false
}

// notModified answers 304 when r (a GET of ref) has an If-None-Match that
// matches the resource's current version, and reports whether it did. A
// resource that cannot be read is left to the usual GET, which answers it.
func (h *Handler) notModified(w http.ResponseWriter, r *http.Request, ref resourceRef) bool {
	values := r.Header.Values("If-None-Match")
	if len(values) == 0 {
		return false
	}
	version, err := h.resourceVersion(r.Context(), ref)
	if err != nil || !parseETags(strings.Join(values, ",")).matches(version) {
		return false
	}
	w.Header().Set("ETag", etag(version))
	w.WriteHeader(http.StatusNotModified)
	return true
}

func (h *Handler) resourceVersion(ctx context.Context, ref resourceRef) (int64, error) {
	if ref.kind == kindGroup {
		return h.store.GroupVersion(ctx, ref.id)
	}
	return h.store.UserVersion(ctx, ref.id)
}

// written records, for the response writer, the version a handler wrote:
// when the library answers 204 (a PATCH without a body), it sets no ETag
// itself.
type written struct{ version int64 }

type writtenKey struct{}

// withWritten returns r with a fresh record of the written version.
func withWritten(r *http.Request) (*http.Request, *written) {
	rec := &written{}
	return r.WithContext(context.WithValue(r.Context(), writtenKey{}, rec)), rec
}

// recordWritten notes the version a successful write left, if r carries a record.
func recordWritten(r *http.Request, version int64) {
	if rec, ok := r.Context().Value(writtenKey{}).(*written); ok {
		rec.version = version
	}
}

// etagWriter adds the ETag of the written version to a 204 answer.
type etagWriter struct {
	http.ResponseWriter
	rec *written
}

func (w etagWriter) WriteHeader(status int) {
	if status == http.StatusNoContent && w.rec.version > 0 && w.Header().Get("ETag") == "" {
		w.Header().Set("ETag", etag(w.rec.version))
	}
	w.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w etagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
