package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// This file serves what bundles and rules have in common: both are named
// definitions kept as versioned documents, listed, read, put whole and
// deleted, with ETags, conditional writes and an audit event per change.
// admin_bundles.go and admin_rules.go supply what differs, as a kind.

// kind is one kind of definition, D, as the admin API serves it.
type kind[D any] interface {
	// noun names the kind in URLs, messages and audit actions: "bundle".
	// Its plural adds an s.
	noun() string
	get(ctx context.Context, name string) (*stored[D], error)
	list(ctx context.Context) ([]stored[D], error)
	put(ctx context.Context, d D, ev store.Event, pre store.Precondition) (*stored[D], error)
	del(ctx context.Context, name string, ev store.Event, pre store.Precondition) error
	name(d D) string
	withName(d D, name string) D
	// prepare normalises d as it is stored and reports every problem
	// with it.
	prepare(d D) (D, []fieldProblem)
	// describe says what d does, for audit summaries.
	describe(d D) string
	// changed names the fields in which d differs from old.
	changed(old, d D) []string
}

// stored is a definition as stored: the definition and its version (its
// ETag) and times.
type stored[D any] struct {
	def          D
	version      int64
	created      time.Time
	lastModified time.Time
}

// MarshalJSON writes the definition's fields, then version, created and
// last_modified.
func (s stored[D]) MarshalJSON() ([]byte, error) {
	def, err := json.Marshal(s.def)
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(struct {
		Version      int64     `json:"version"`
		Created      time.Time `json:"created"`
		LastModified time.Time `json:"last_modified"`
	}{s.version, s.created.UTC(), s.lastModified.UTC()})
	if err != nil {
		return nil, err
	}
	if len(def) < 2 || def[0] != '{' {
		return nil, fmt.Errorf("definition %T is not a JSON object", s.def)
	}
	if len(def) == 2 {
		return meta, nil
	}
	return append(append(def[:len(def)-1:len(def)-1], ','), meta[1:]...), nil
}

// definitions serves the definitions of one kind.
type definitions[D any] struct {
	a *admin
	k kind[D]
}

func (d definitions[D]) list(w http.ResponseWriter, r *http.Request) error {
	items, err := d.k.list(r.Context())
	if err != nil {
		return err
	}
	// By byte order, not the database's collation, so that both dialects
	// list alike.
	slices.SortFunc(items, func(x, y stored[D]) int { return strings.Compare(d.k.name(x.def), d.k.name(y.def)) })
	return writeJSON(w, http.StatusOK, map[string]any{d.k.noun() + "s": items})
}

func (d definitions[D]) get(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["name"]
	s, err := d.k.get(r.Context(), name)
	if err != nil {
		return d.storeError(err, name)
	}
	w.Header().Set("ETag", etag(s.version))
	if parseConditions(r).ifNoneMatch.has(s.version) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return writeJSON(w, http.StatusOK, s)
}

// put creates or replaces a definition: 201 with Location when created,
// 200 when replaced or already as sent (then nothing is written or
// audited).
func (d definitions[D]) put(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["name"]
	cond := parseConditions(r)
	var def D
	if err := decodeObject(w, r, d.a.maxBody, &def); err != nil {
		return err
	}
	def, err := d.prepare(name, def)
	if err != nil {
		return err
	}
	var (
		s      *stored[D]
		status int
	)
	err = retryConflicts(func() (err error) {
		s, status, err = d.putOnce(r, name, def, cond)
		return err
	})
	if err != nil {
		return d.storeError(err, name)
	}
	w.Header().Set("ETag", etag(s.version))
	if status == http.StatusCreated {
		w.Header().Set("Location", "/admin/v1/"+d.k.noun()+"s/"+url.PathEscape(name))
	}
	return writeJSON(w, status, s)
}

// prepare fills in or checks the name against the path's, normalises def
// and reports every problem with it as one 400.
func (d definitions[D]) prepare(name string, def D) (D, error) {
	var problems []fieldProblem
	switch n := d.k.name(def); n {
	case "":
		def = d.k.withName(def, name)
	case name:
	default:
		problems = append(problems, fieldProblem{Field: "name",
			Detail: fmt.Sprintf("%q differs from the name in the URL, %q; leave it out or make them equal", n, name)})
	}
	def, more := d.k.prepare(def)
	if problems = append(problems, more...); len(problems) > 0 {
		return def, invalid(d.k.noun(), problems)
	}
	return def, nil
}

// putOnce reads the current definition, checks the request's conditions
// against it and writes def on condition that it has not changed since, so
// that the audit event (create or update, and what changed) is exact.
func (d definitions[D]) putOnce(r *http.Request, name string, def D, cond conditions) (*stored[D], int, error) {
	old, err := d.k.get(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, 0, err
	}
	version := old.versionOrZero()
	if !cond.hold(version) {
		return nil, 0, d.preconditionFailed(name, version, cond)
	}
	noun := d.k.noun()
	status := http.StatusCreated
	ev := event(r, noun+".create", status, fmt.Sprintf("created %s %q: %s", noun, name, d.k.describe(def)))
	if old != nil {
		status = http.StatusOK
		ev = event(r, noun+".update", status, fmt.Sprintf("updated %s %q (changed %s): %s",
			noun, name, strings.Join(d.k.changed(old.def, def), ", "), d.k.describe(def)))
	}
	s, err := d.k.put(r.Context(), def, ev, store.Precondition{IfVersion: []int64{version}})
	return s, status, err
}

func (d definitions[D]) delete(w http.ResponseWriter, r *http.Request) error {
	name := mux.Vars(r)["name"]
	cond := parseConditions(r)
	if err := retryConflicts(func() error { return d.deleteOnce(r, name, cond) }); err != nil {
		return d.storeError(err, name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (d definitions[D]) deleteOnce(r *http.Request, name string, cond conditions) error {
	old, err := d.k.get(r.Context(), name)
	if err != nil {
		return err
	}
	if !cond.hold(old.version) {
		return d.preconditionFailed(name, old.version, cond)
	}
	noun := d.k.noun()
	ev := event(r, noun+".delete", http.StatusNoContent, fmt.Sprintf("deleted %s %q: %s", noun, name, d.k.describe(old.def)))
	return d.k.del(r.Context(), name, ev, store.Precondition{IfVersion: []int64{old.version}})
}

func (s *stored[D]) versionOrZero() int64 {
	if s == nil {
		return 0
	}
	return s.version
}

// writeAttempts bounds how often a write is tried because another request
// changed the same definition between its read and its write. A write
// loses only to a write that commits, once, so up to writeAttempts
// concurrent writers of one definition all succeed.
const writeAttempts = 5

// retryConflicts runs write again while it fails with
// store.ErrVersionMismatch, a few times, so that concurrent writers are
// ordered rather than refused.
func retryConflicts(write func() error) error {
	var err error
	for range writeAttempts {
		if err = write(); !errors.Is(err, store.ErrVersionMismatch) {
			return err
		}
	}
	return err
}

func (d definitions[D]) preconditionFailed(name string, version int64, cond conditions) *httpError {
	noun := d.k.noun()
	detail := fmt.Sprintf("The %s %q does not exist, and If-Match requires it to.", noun, name)
	switch {
	case version == 0:
	case cond.ifNoneMatch.has(version):
		detail = fmt.Sprintf("The %s %q exists (ETag %s), and If-None-Match forbids that.", noun, name, etag(version))
	default:
		detail = fmt.Sprintf("The %s %q is at ETag %s, which If-Match does not name; read it again and retry.", noun, name, etag(version))
	}
	return &httpError{status: http.StatusPreconditionFailed, detail: detail}
}

// storeError answers the store's errors for the definition name.
func (d definitions[D]) storeError(err error, name string) error {
	noun := d.k.noun()
	switch {
	case errors.Is(err, store.ErrNotFound):
		return &httpError{status: http.StatusNotFound, detail: fmt.Sprintf("There is no %s named %q.", noun, name)}
	case errors.Is(err, store.ErrVersionMismatch):
		return &httpError{status: http.StatusConflict, err: err,
			detail: fmt.Sprintf("The %s %q is being changed by other requests; try again.", noun, name)}
	case errors.Is(err, store.ErrInvalidValue):
		if fields := fieldProblems(err); len(fields) > 0 {
			return invalid(noun, fields)
		}
		// The store's sentinel texts are written for clients.
		return badRequest("The %s is not valid: %v.", noun, err)
	}
	return err
}

// fieldProblems lists the mapping.FieldErrors in err.
func fieldProblems(err error) []fieldProblem {
	var out []fieldProblem
	for _, fe := range mapping.FieldErrors(err) {
		out = append(out, fieldProblem{Field: fe.Field, Detail: fe.Msg})
	}
	return out
}

// etag is the entity tag of a version: weak, because the representation
// is not byte-for-byte stable (key order, spacing).
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// conditions are a request's If-Match and If-None-Match (RFC 9110 §13.1),
// compared weakly: W/"3" and "3" both name version 3. A missing
// definition has version 0, which no entity tag names.
type conditions struct {
	ifMatch, ifNoneMatch *etagSet // nil: header absent
}

// etagSet is the value of If-Match or If-None-Match.
type etagSet struct {
	any      bool // "*"
	versions []int64
}

func parseConditions(r *http.Request) conditions {
	return conditions{
		ifMatch:     parseETags(r.Header.Values("If-Match")),
		ifNoneMatch: parseETags(r.Header.Values("If-None-Match")),
	}
}

// parseETags parses the lists in values. An entity tag that is not one of
// ours is kept as matching nothing, so that If-Match with it fails.
func parseETags(values []string) *etagSet {
	var s *etagSet
	for _, v := range values {
		for tag := range strings.SplitSeq(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" {
				continue
			}
			if s == nil {
				s = &etagSet{}
			}
			if tag == "*" {
				s.any = true
				continue
			}
			opaque := strings.TrimPrefix(tag, "W/")
			if len(opaque) < 2 || opaque[0] != '"' || opaque[len(opaque)-1] != '"' {
				continue
			}
			if n, err := strconv.ParseInt(opaque[1:len(opaque)-1], 10, 64); err == nil && n > 0 {
				s.versions = append(s.versions, n)
			}
		}
	}
	return s
}

// has reports whether the set names an existing definition at version.
func (s *etagSet) has(version int64) bool {
	return s != nil && version > 0 && (s.any || slices.Contains(s.versions, version))
}

// hold reports whether a write may go ahead on a definition at version.
func (c conditions) hold(version int64) bool {
	if c.ifMatch != nil && !c.ifMatch.has(version) {
		return false
	}
	return !c.ifNoneMatch.has(version)
}

// plural is "1 course", "2 courses".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
