package scim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/onramp-dev/onramp/store/storetest"
)

// testServer is a Handler on a fresh SQLite store, driven in-process.
type testServer struct {
	t *testing.T
	h *Handler
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return &testServer{t: t, h: NewHandler(Config{Store: storetest.OpenSQLite(t), BaseURL: "https://onramp.test/scim/v2"})}
}

// testResponse is a recorded answer.
type testResponse struct {
	status int
	header http.Header
	body   string
}

func (r testResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request; body is sent as is, header is pairs of name, value.
func (s *testServer) do(method, target, body string, header ...string) testResponse {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return testResponse{status: w.Code, header: w.Header(), body: w.Body.String()}
}

// create POSTs body to path, requires 201 and returns the id.
func (s *testServer) create(path, body string) string {
	s.t.Helper()
	r := s.do(http.MethodPost, path, body)
	if r.status != http.StatusCreated {
		s.t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	id, _ := r.json(s.t)["id"].(string)
	return id
}

func (s *testServer) createUser(userName, extra string) string {
	s.t.Helper()
	if extra != "" {
		extra = "," + extra
	}
	return s.create("/Users", `{"schemas":["`+userSchemaURN+`"],"userName":"`+userName+`"`+extra+`}`)
}

func (s *testServer) createGroup(displayName string) string {
	s.t.Helper()
	return s.create("/Groups", `{"schemas":["`+groupSchemaURN+`"],"displayName":"`+displayName+`"}`)
}

// scimErrorOf checks that r is a SCIM error with status and scimType.
func scimErrorOf(t *testing.T, r testResponse, status int, scimType string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["status"] != http.StatusText(0)+itoa(status) || m["scimType"] != nilIfEmpty(scimType) {
		t.Fatalf("error body %s: want status %q, scimType %q", r.body, itoa(status), scimType)
	}
	return m
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// asScimError returns err as a ScimError value.
func asScimError(err error) (scimerrors.ScimError, bool) {
	var se scimerrors.ScimError
	ok := errors.As(err, &se)
	return se, ok
}
