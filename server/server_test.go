package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// testBundle is a server on a real SQLite store with two tokens.
type testBundle struct {
	srv      *httptest.Server
	writer   string // secret with every scope
	readOnly string // secret with scim:read only
}

func setup(t *testing.T, cfg server.Config) *testBundle {
	t.Helper()
	st := storetest.OpenSQLite(t)
	b := &testBundle{writer: server.NewTokenSecret(), readOnly: server.NewTokenSecret()}
	for name, tok := range map[string]struct {
		secret string
		scopes []string
	}{
		"writer": {b.writer, server.AllScopes()},
		"reader": {b.readOnly, []string{server.ScopeSCIMRead}},
	} {
		if err := st.EnsureToken(t.Context(), store.Token{Name: name, Scopes: tok.scopes, Hash: server.HashTokenSecret(tok.secret)}); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Store = st
	h, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(h)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *testBundle) do(t *testing.T, method, path, token string, body io.Reader, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// scimErrorBody checks resp is a SCIM error with the given status.
func scimErrorBody(t *testing.T, resp *http.Response, status int) map[string]any {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("error body is not JSON: %v", err)
	}
	if s, _ := body["status"].(string); s != strconv.Itoa(status) {
		t.Errorf("status field %v, want %q", body["status"], strconv.Itoa(status))
	}
	schemas, _ := body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("schemas %v", body["schemas"])
	}
	if d, _ := body["detail"].(string); d == "" {
		t.Errorf("no detail in %v", body)
	}
	return body
}

func TestCorrelationID(t *testing.T) {
	b := setup(t, server.Config{})
	minted := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name   string
		header http.Header
		want   string // "" means a freshly minted id
	}{
		{"none sent", nil, ""},
		{"correlation id adopted", http.Header{"X-Correlation-Id": {"okta-req-42"}}, "okta-req-42"},
		{"request id adopted", http.Header{"X-Request-Id": {"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}, "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		{"spaces refused", http.Header{"X-Correlation-Id": {"a b"}}, ""},
		{"too long refused", http.Header{"X-Correlation-Id": {strings.Repeat("a", 129)}}, ""},
		{"newline smuggling refused", http.Header{"X-Correlation-Id": {"abc%0d%0aSet-Cookie"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/healthz", "/scim/v2/Users", "/nowhere"} {
				resp := b.do(t, "GET", path, "", nil, tt.header)
				got := resp.Header.Get("X-Correlation-ID")
				if tt.want != "" && got != tt.want {
					t.Errorf("%s: X-Correlation-ID %q, want %q", path, got, tt.want)
				}
				if tt.want == "" && !minted.MatchString(got) {
					t.Errorf("%s: X-Correlation-ID %q is not a fresh id", path, got)
				}
			}
		})
	}
}

func TestAuth(t *testing.T) {
	b := setup(t, server.Config{})
	user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"auth-test"}`
	tests := []struct {
		name, method, token string
		body                string
		status              int
	}{
		{"no token", "GET", "", "", http.StatusUnauthorized},
		{"unknown token", "GET", "onr_not-a-token", "", http.StatusUnauthorized},
		{"reader reads", "GET", b.readOnly, "", http.StatusOK},
		{"reader cannot write", "POST", b.readOnly, user, http.StatusForbidden},
		{"writer writes", "POST", b.writer, user, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := b.do(t, tt.method, "/scim/v2/Users", tt.token, strings.NewReader(tt.body), nil)
			if tt.status >= 400 {
				scimErrorBody(t, resp, tt.status)
			} else if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("basic auth is not a bearer token", func(t *testing.T) {
		resp := b.do(t, "GET", "/scim/v2/Users", "", nil, http.Header{"Authorization": {"Basic " + b.writer}})
		scimErrorBody(t, resp, http.StatusUnauthorized)
	})
}

func TestBodyLimit(t *testing.T) {
	b := setup(t, server.Config{MaxBodyBytes: 1024})
	big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + strings.Repeat("x", 2048) + `"}`
	t.Run("declared length over the limit", func(t *testing.T) {
		scimErrorBody(t, b.do(t, "POST", "/scim/v2/Users", b.writer, strings.NewReader(big), nil), http.StatusRequestEntityTooLarge)
	})
	t.Run("chunked body over the limit", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(big)) // unknown length: sent chunked
		scimErrorBody(t, b.do(t, "POST", "/scim/v2/Users", b.writer, body, nil), http.StatusRequestEntityTooLarge)
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		bad := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + "\xff\xfe" + `"}`
		scimErrorBody(t, b.do(t, "POST", "/scim/v2/Users", b.writer, strings.NewReader(bad), nil), http.StatusBadRequest)
	})
	t.Run("nothing was written", func(t *testing.T) {
		resp := b.do(t, "GET", "/scim/v2/Users", b.writer, nil, nil)
		var list struct{ TotalResults int }
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		if list.TotalResults != 0 {
			t.Errorf("totalResults %d after refused writes, want 0", list.TotalResults)
		}
	})
}

func TestHealth(t *testing.T) {
	b := setup(t, server.Config{Version: "v-test"})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp := b.do(t, "GET", path, "", nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
	}
}
