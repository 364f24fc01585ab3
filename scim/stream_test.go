package scim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/reqctx"
	"github.com/onramp-dev/onramp/store"
)

// members returns an iterator over ms, failing with err after them when
// err is not nil.
func members(ms []store.Member, err error) iter.Seq2[store.Member, error] {
	return func(yield func(store.Member, error) bool) {
		for _, m := range ms {
			if !yield(m, nil) {
				return
			}
		}
		if err != nil {
			yield(store.Member{}, err)
		}
	}
}

func manyMembers(n int) []store.Member {
	ms := make([]store.Member, n)
	for i := range ms {
		ms[i] = store.Member{Value: fmt.Sprintf("u-%06d", i), Display: fmt.Sprintf("User %d", i)}
	}
	return ms
}

// TestEncodeGroup checks the streaming encoder against json.Marshal of the
// document the library would build from the same group.
func TestEncodeGroup(t *testing.T) {
	const base = "https://onramp.test/scim/v2"
	head := map[string]any{
		"id":          "g1",
		"displayName": "Eng <&> \"core\"",
		"schemas":     []string{groupSchemaURN},
		"meta":        libraryMeta{ResourceType: "Group", Location: base + "/Groups/g1", Version: `W/"3"`},
	}
	// want renders members as render.go does, for json.Marshal.
	want := func(ms []store.Member, keep func(k string) bool, omitEmpty bool) map[string]any {
		doc := copyMap(head)
		doc["meta"] = head["meta"]
		list := []any{}
		for _, m := range ms {
			obj := map[string]any{}
			for k, v := range map[string]string{"value": m.Value, "display": m.Display, "$ref": base + "/Users/" + m.Value, "type": "User"} {
				if keep(k) {
					obj[k] = v
				}
			}
			list = append(list, obj)
		}
		if len(list) > 0 || !omitEmpty {
			doc["members"] = list
		}
		return doc
	}
	all := func(string) bool { return true }
	full := memberShape{ref: true, display: true, typ: true, value: true, emptyList: true}
	tests := []struct {
		name  string
		ms    []store.Member
		shape memberShape
		want  map[string]any
	}{
		{"empty group", nil, full, want(nil, all, false)},
		{"one member", manyMembers(1), full, want(manyMembers(1), all, false)},
		{"many members", manyMembers(2000), full, want(manyMembers(2000), all, false)},
		{"display escaped", []store.Member{{Value: "u1", Display: "<script>\"Zoë\" & O'Brien\\\u2028\x01"}}, full,
			want([]store.Member{{Value: "u1", Display: "<script>\"Zoë\" & O'Brien\\\u2028\x01"}}, all, false)},
		{"value only", manyMembers(3), memberShape{value: true},
			want(manyMembers(3), func(k string) bool { return k == "value" }, true)},
		{"value only, empty group: no members", nil, memberShape{value: true},
			want(nil, func(k string) bool { return k == "value" }, true)},
		{"without display", manyMembers(3), memberShape{ref: true, typ: true, value: true, emptyList: true},
			want(manyMembers(3), func(k string) bool { return k != "display" }, false)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			bw := bufio.NewWriterSize(&out, streamBufferSize)
			flushes := 0
			flush := func() error { flushes++; return bw.Flush() }
			if err := encodeGroup(bw, head, members(tc.ms, nil), tc.shape, base, flush); err != nil {
				t.Fatal(err)
			}
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			wantJSON, err := json.Marshal(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), wantJSON) {
				t.Fatalf("encoded:\n%.2000s\nwant (json.Marshal):\n%.2000s", out.Bytes(), wantJSON)
			}
			if len(wantJSON) > streamBufferSize && flushes == 0 {
				t.Errorf("%d bytes written without a flush", len(wantJSON))
			}
		})
	}

	t.Run("member error ends it", func(t *testing.T) {
		boom := errors.New("boom")
		bw := bufio.NewWriter(io.Discard)
		err := encodeGroup(bw, head, members(manyMembers(10), boom), full, base, bw.Flush)
		if !errors.Is(err, boom) {
			t.Fatalf("got %v, want the member error", err)
		}
	})
}

func TestMemberShape(t *testing.T) {
	tests := []struct {
		query string
		want  memberShape
	}{
		{"", memberShape{ref: true, display: true, typ: true, value: true, emptyList: true}},
		{"attributes=members", memberShape{ref: true, display: true, typ: true, value: true, emptyList: true}},
		{"attributes=displayName,Members", memberShape{ref: true, display: true, typ: true, value: true, emptyList: true}},
		{"attributes=members.value", memberShape{value: true}},
		{"attributes=members.value,members.DISPLAY", memberShape{value: true, display: true}},
		{"attributes=urn:ietf:params:scim:schemas:core:2.0:Group:members.$ref", memberShape{ref: true}},
		{"excludedAttributes=members.display", memberShape{ref: true, typ: true, value: true, emptyList: true}},
		{"excludedAttributes=externalId", memberShape{ref: true, display: true, typ: true, value: true, emptyList: true}},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodGet, "/Groups/x?"+tc.query, nil)
		if got := memberShapeOf(parseProjection(r)); got != tc.want {
			t.Errorf("%q: got %+v, want %+v", tc.query, got, tc.want)
		}
	}
}

// TestStreamGroupMatchesLibrary GETs groups through the streaming path and
// through the library, and requires the same status, headers and bytes.
func TestStreamGroupMatchesLibrary(t *testing.T) {
	s := newTestServer(t)
	alice := s.createUser("alice", `"displayName":"Alice <A> & \"Q\" \u2028 Zoë"`)
	bob := s.createUser("bob", "") // no displayName: display is the userName
	carol := s.createUser("carol", `"displayName":""`)
	var many []string
	for i := range 300 {
		many = append(many, s.createUser(fmt.Sprintf("user%03d", i), `"displayName":"User Number `+fmt.Sprint(i)+`"`))
	}
	groupWith := func(name, extra string, ids ...string) string {
		var ms []string
		for _, id := range ids {
			ms = append(ms, `{"value":"`+id+`"}`)
		}
		return s.create("/Groups", `{"schemas":["`+groupSchemaURN+`"],"displayName":"`+name+`"`+extra+`,"members":[`+strings.Join(ms, ",")+`]}`)
	}
	groups := map[string]string{
		"empty":   groupWith("Empty", ""),
		"one":     groupWith("One", `,"externalId":"ext-1"`, bob),
		"special": groupWith("R&D <\\\"Ω\\\">", "", alice, bob, carol),
		"many":    groupWith("Many", `,"externalId":"many"`, append([]string{alice, bob}, many...)...),
	}
	queries := []string{
		"",
		"?attributes=members",
		"?attributes=displayName,members",
		"?attributes=members.value",
		"?attributes=members.display",
		"?attributes=members.value,members.display",
		"?attributes=members.type,members,displayName",
		"?excludedAttributes=members.display",
		"?excludedAttributes=externalId,displayName",
		"?attributes=id",
	}
	for name, id := range groups {
		for _, q := range queries {
			target := "/Groups/" + id + q
			req := httptest.NewRequest(http.MethodGet, target, nil)
			if !streamsGroup(req, resourceRef{kind: kindGroup, id: id}) {
				continue // served by the library anyway
			}
			t.Run(name+q, func(t *testing.T) {
				got := s.do(http.MethodGet, target, "")
				lib := httptest.NewRecorder()
				s.h.viaLibrary(lib, httptest.NewRequest(http.MethodGet, target, nil), s.h.baseURL(req))
				if got.status != lib.Code || got.body != lib.Body.String() {
					t.Fatalf("streamed %d:\n%.3000s\nlibrary %d:\n%.3000s", got.status, got.body, lib.Code, lib.Body.String())
				}
				for _, h := range []string{"Content-Type", "Etag"} {
					if got.header.Get(h) != lib.Header().Get(h) {
						t.Errorf("%s: streamed %q, library %q", h, got.header.Get(h), lib.Header().Get(h))
					}
				}
			})
		}
	}

	t.Run("several member sub-attributes", func(t *testing.T) {
		doc := s.do(http.MethodGet, "/Groups/"+groups["one"]+"?attributes=members.value,members.display", "").json(t)
		want := []any{map[string]any{"value": bob, "display": "bob"}}
		if got := doc["members"]; !equalJSONValues(got, want) {
			t.Fatalf("members: got %v, want %v", got, want)
		}
	})

	t.Run("not found", func(t *testing.T) {
		scimErrorOf(t, s.do(http.MethodGet, "/Groups/nope", ""), http.StatusNotFound, "")
	})

	t.Run("If-None-Match", func(t *testing.T) {
		r := s.do(http.MethodGet, "/Groups/"+groups["many"], "", "If-None-Match", `W/"1"`)
		if r.status != http.StatusNotModified || r.body != "" || r.header.Get("Etag") != `W/"1"` {
			t.Fatalf("got %d %q etag %q, want 304 with the ETag and no body", r.status, r.body, r.header.Get("Etag"))
		}
		r = s.do(http.MethodGet, "/Groups/"+groups["many"], "", "If-None-Match", `W/"2"`)
		if r.status != http.StatusOK || len(r.json(t)["members"].([]any)) != 302 {
			t.Fatalf("a stale tag: got %d, want 200 with 302 members", r.status)
		}
	})

	t.Run("excludedAttributes=members", func(t *testing.T) {
		doc := s.do(http.MethodGet, "/Groups/"+groups["many"]+"?excludedAttributes=members", "").json(t)
		if _, ok := doc["members"]; ok || doc["displayName"] != "Many" {
			t.Fatalf("got %v, want the group without members", doc)
		}
	})
}

func equalJSONValues(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// syncBuffer is a bytes.Buffer safe for a server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStreamGroupFailure checks what a client sees when reading members
// fails: a SCIM 500 while nothing has been sent, a truncated body after.
func TestStreamGroupFailure(t *testing.T) {
	var logs syncBuffer
	h := NewHandler(Config{
		Logger:  slog.New(reqctx.LogHandler(slog.NewJSONHandler(&logs, nil))),
		BaseURL: "https://onramp.test/scim/v2",
	})
	boom := errors.New("disk on fire")
	group := &store.Group{ID: "g1", Version: 4, Created: time.Unix(1700000000, 0), LastModified: time.Unix(1700000000, 0),
		Attributes: map[string]any{"displayName": "Big"}}
	var failAfter int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(reqctx.WithCorrelationID(r.Context(), r.Header.Get("X-Correlation-ID")))
		h.serveGroupStream(w, r, "https://onramp.test/scim/v2", func(fn groupReader) error {
			return fn(group, members(manyMembers(failAfter), boom))
		})
	}))
	defer srv.Close()

	get := func(corr string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/Groups/g1", nil)
		req.Header.Set("X-Correlation-ID", corr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	t.Run("before the body", func(t *testing.T) {
		failAfter = 0
		resp, body, err := get("corr-early")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "corr-early") ||
			strings.Contains(string(body), "disk on fire") || resp.Header.Get("Etag") != "" {
			t.Fatalf("got %d %s (etag %q), want a SCIM 500 naming the correlation id, no cause, no ETag",
				resp.StatusCode, body, resp.Header.Get("Etag"))
		}
	})

	t.Run("after the body started", func(t *testing.T) {
		failAfter = 5000 // well past the first flush
		resp, body, err := get("corr-late")
		if resp == nil {
			t.Fatalf("no response at all: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want the 200 already sent", resp.StatusCode)
		}
		if err == nil {
			t.Fatalf("read the whole body (%d bytes) without an error; want a truncated response", len(body))
		}
		if len(body) == 0 || json.Valid(body) {
			t.Fatalf("body of %d bytes (valid JSON: %v); want a truncated document", len(body), json.Valid(body))
		}
		if !strings.Contains(logs.String(), `"correlation_id":"corr-late"`) || !strings.Contains(logs.String(), "disk on fire") {
			t.Fatalf("log lacks the correlation id or the cause:\n%s", logs.String())
		}
	})
}
