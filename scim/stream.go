package scim

// Streaming GET /Groups/{id}.
//
// A group of 100,000 members rendered the library's way is held several
// times over: the store's []Member, the []any of maps render.go makes of
// it, and the marshalled document. So GET /Groups/{id}, when its answer
// includes members, is served here instead: the group's scalar part is
// rendered as for every other answer (render.go, projection included), and
// the members are encoded one by one as the store reads them from a cursor
// (store.ReadGroup), through a bounded buffer that is flushed to the client
// as it fills. Memory stays flat in the size of the group.
//
// The document is byte for byte what the library writes for the same group:
// the object's keys in sorted order (the library marshals a map), meta as
// the library's struct, members as objects with keys $ref, display, type,
// value, strings escaped by encoding/json. Headers are the library's too
// (Content-Type, ETag); If-None-Match has been answered before (etag.go).
//
// An error before anything has reached the client is answered as usual
// (404 for a missing group, else a 500 with the correlation id). An error
// once the body has started cannot change the status any more: it is
// logged, and the handler panics with http.ErrAbortHandler, so that the
// client sees a truncated response (a connection reset, or a chunked body
// without its last chunk), never a document that looks complete.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/onramp-dev/onramp/store"
)

// streamBufferSize is the buffer between the encoder and the client: the
// most of the document held at once.
const streamBufferSize = 32 << 10

// streamsGroup reports whether r is a GET /Groups/{id} that streamGroup
// answers: one whose answer includes members. Without members the group is
// one row, and the library serves it.
func streamsGroup(r *http.Request, ref resourceRef) bool {
	return r.Method == http.MethodGet && ref.kind == kindGroup && parseProjection(r).wants("members")
}

// streamGroup answers GET /Groups/{id} with members (see the top of this file).
func (h *Handler) streamGroup(w http.ResponseWriter, r *http.Request, base, id string) {
	h.serveGroupStream(w, r, base, func(fn groupReader) error { return h.store.ReadGroup(r.Context(), id, fn) })
}

// groupReader receives a group and its members, as store.ReadGroup gives them.
type groupReader = func(g *store.Group, members iter.Seq2[store.Member, error]) error

// serveGroupStream answers with the group that read hands over; tests pass
// their own read.
func (h *Handler) serveGroupStream(w http.ResponseWriter, r *http.Request, base string, read func(groupReader) error) {
	sw := &startedWriter{w: w}
	err := read(func(g *store.Group, members iter.Seq2[store.Member, error]) error {
		return h.writeGroup(sw, r, base, g, members)
	})
	if err == nil {
		return
	}
	if !sw.started {
		w.Header().Del("Etag")
		WriteError(w, h.scimError(r, err))
		return
	}
	var we writeError
	if errors.As(err, &we) || r.Context().Err() != nil {
		// The client went away, or the connection broke: nobody to tell.
		h.log.InfoContext(r.Context(), "scim response not delivered", "method", r.Method, "path", r.URL.Path, "error", err)
	} else {
		h.log.ErrorContext(r.Context(), "scim response aborted after it started; the client gets a truncated body",
			"method", r.Method, "path", r.URL.Path, "error", err)
	}
	panic(http.ErrAbortHandler)
}

// writeGroup writes the document of group g, whose members are members,
// with its headers, to w.
func (h *Handler) writeGroup(w *startedWriter, r *http.Request, base string, g *store.Group, members iter.Seq2[store.Member, error]) error {
	p := parseProjection(r)
	res := h.groups.render(r, g, false)
	head := resourceBody(h.types[1], res, base)
	w.Header().Set("Content-Type", "application/scim+json")
	if res.Meta.Version != "" {
		w.Header().Set("Etag", res.Meta.Version)
	}
	bw := bufio.NewWriterSize(w, streamBufferSize)
	rc := http.NewResponseController(w.w)
	flush := func() error {
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return writeError{err}
		}
		return nil
	}
	if err := encodeGroup(bw, head, members, memberShapeOf(p), base, flush); err != nil {
		return err
	}
	return flush()
}

// memberShape is what a projection keeps of members: which sub-attributes
// of each, and whether an empty list is written as [] or left out.
type memberShape struct {
	ref, display, typ, value bool
	// emptyList writes "members":[] for a group without members. The
	// library leaves the attribute out when only sub-attributes of it were
	// asked for (attributes=members.value), and so does this.
	emptyList bool
}

// memberShapeOf reads p's wishes about members, which p.wants("members")
// has already said to return.
func memberShapeOf(p projection) memberShape {
	whole := len(p.include) == 0
	named := map[string]bool{}
	for _, ref := range p.include {
		if ref.ext != "" || !strings.EqualFold(ref.attr, "members") {
			continue
		}
		if ref.sub == "" {
			whole = true
		} else {
			named[strings.ToLower(ref.sub)] = true
		}
	}
	keep := func(sub string) bool {
		for _, ref := range p.exclude {
			if ref.ext == "" && strings.EqualFold(ref.attr, "members") && strings.EqualFold(ref.sub, sub) {
				return false
			}
		}
		return whole || named[strings.ToLower(sub)]
	}
	return memberShape{
		ref: keep("$ref"), display: keep("display"), typ: keep("type"), value: keep("value"),
		emptyList: whole,
	}
}

// encodeGroup writes the JSON object head with a "members" array added in
// its sorted place, encoded from members as they come. Keys are written in
// sorted order and values as json.Marshal writes them, so the document is
// the bytes json.Marshal would make of head with the members in it. flush
// is called every streamBufferSize/2 bytes or so. A member error, or an
// error writing, ends it.
func encodeGroup(w *bufio.Writer, head map[string]any, members iter.Seq2[store.Member, error], shape memberShape, base string, flush func() error) error {
	keys := make([]string, 0, len(head))
	for k := range head {
		if k != "members" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	buf := make([]byte, 0, 512)
	n := 0 // keys written
	writeKey := func(k string) {
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		n++
	}
	put := func() error {
		_, err := w.Write(buf)
		buf = buf[:0]
		if err != nil {
			return writeError{err}
		}
		if w.Buffered() >= streamBufferSize/2 {
			return flush()
		}
		return nil
	}
	buf = append(buf, '{')
	membersDone := false
	writeMembers := func() error {
		membersDone = true
		count := 0
		for m, err := range members {
			if err != nil {
				return err
			}
			if count == 0 {
				writeKey("members")
				buf = append(buf, '[')
			} else {
				buf = append(buf, ',')
			}
			count++
			buf = appendMember(buf, m, shape, base)
			if err := put(); err != nil {
				return err
			}
		}
		switch {
		case count > 0:
			buf = append(buf, ']')
		case shape.emptyList:
			writeKey("members")
			buf = append(buf, "[]"...)
		}
		return nil
	}
	for _, k := range keys {
		if !membersDone && k > "members" {
			if err := writeMembers(); err != nil {
				return err
			}
		}
		v, err := json.Marshal(head[k])
		if err != nil {
			return fmt.Errorf("encode %s: %w", k, err)
		}
		writeKey(k)
		buf = append(buf, v...)
	}
	if !membersDone {
		if err := writeMembers(); err != nil {
			return err
		}
	}
	buf = append(buf, '}')
	return put()
}

// appendMember appends one member object, keys in sorted order as
// json.Marshal writes a map.
func appendMember(buf []byte, m store.Member, shape memberShape, base string) []byte {
	buf = append(buf, '{')
	sep := false
	field := func(k, v string) {
		if sep {
			buf = append(buf, ',')
		}
		sep = true
		buf = appendJSONString(buf, k)
		buf = append(buf, ':')
		buf = appendJSONString(buf, v)
	}
	if shape.ref {
		field("$ref", base+"/Users/"+url.PathEscape(m.Value))
	}
	if shape.display {
		field("display", m.Display)
	}
	if shape.typ {
		field("type", "User")
	}
	if shape.value {
		field("value", m.Value)
	}
	return append(buf, '}')
}

// appendJSONString appends s as encoding/json writes it. Plain ASCII, the
// usual case (ids, most names), is copied as is; anything else goes
// through encoding/json itself, so the escaping (HTML characters, control
// characters, U+2028, invalid UTF-8) is exactly the library's.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			v, _ := json.Marshal(s) // a string always marshals
			return append(buf, v...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// startedWriter records whether anything has been written to the client:
// until then, an error can still be answered with its own status.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Header() http.Header { return s.w.Header() }

func (s *startedWriter) Write(p []byte) (int, error) {
	s.started = true
	n, err := s.w.Write(p)
	if err != nil {
		return n, writeError{err}
	}
	return n, nil
}

// writeError is a failure to write the response: the client has gone.
type writeError struct{ err error }

func (e writeError) Error() string { return "write response: " + e.err.Error() }
func (e writeError) Unwrap() error { return e.err }
