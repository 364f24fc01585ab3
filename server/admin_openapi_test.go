package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

// TestOpenAPIDocumentIsTrue sends real requests through every admin
// route and validates each request and response against the document the
// server serves at /admin/v1/openapi.json.
func TestOpenAPIDocumentIsTrue(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{Delivery: startEngine(t, st)})
		auditor := server.NewTokenSecret()
		if err := st.EnsureToken(t.Context(), store.Token{Name: "auditor-3", Scopes: []string{server.ScopeAuditRead}, Hash: server.HashTokenSecret(auditor)}); err != nil {
			t.Fatal(err)
		}
		spec := b.call(t, "GET", "/admin/v1/openapi.json", b.reader, "").want(t, http.StatusOK).body
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(spec)
		if err != nil {
			t.Fatalf("load the document: %v", err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("the document is not valid OpenAPI: %v", err)
		}
		doc.Servers = openapi3.Servers{{URL: b.srv.URL + "/admin/v1"}}
		router, err := gorillamux.NewRouter(doc)
		if err != nil {
			t.Fatal(err)
		}
		check := func(method, path, token, body string, want int, header ...string) reply {
			t.Helper()
			r := b.call(t, method, path, token, body, header...)
			if r.status != want {
				t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
			}
			validate(t, router, method, b.srv.URL+path, body, header, r)
			return r
		}
		users := hire(t, b, "oa@example.com")
		b.waitDead(t, "the dead letter", func(ds []delivery.DeadLetter) bool { return len(deadOf(ds, users[0])) == 1 })

		check("GET", "/admin/v1/bundles", b.reader, "", 200)
		check("PUT", "/admin/v1/bundles/oa", b.admin, `{"connector":"demo","courses":["A","B"],"description":"d"}`, 201, "Content-Type", "application/json")
		check("PUT", "/admin/v1/bundles/oa", b.admin, `{"connector":"demo","courses":["A"],"on_deactivate":"keep"}`, 200, "Content-Type", "application/json", "If-Match", `W/"1"`)
		check("GET", "/admin/v1/bundles/oa", b.reader, "", 200)
		check("PUT", "/admin/v1/bundles/oa", b.admin, `{"connector":"nope","courses":[]}`, 400, "Content-Type", "application/json")
		check("PUT", "/admin/v1/bundles/oa", b.admin, `{"connector":"demo","courses":["A"]}`, 412, "Content-Type", "application/json", "If-Match", `W/"9"`)
		check("GET", "/admin/v1/bundles/missing", b.reader, "", 404)
		check("GET", "/admin/v1/rules", b.reader, "", 200)
		check("PUT", "/admin/v1/rules/oa", b.admin, `{"group_id":"g-1","bundles":["oa"]}`, 201, "Content-Type", "application/json")
		check("GET", "/admin/v1/rules/oa", b.reader, "", 200)
		check("DELETE", "/admin/v1/rules/oa", b.admin, "", 204)
		check("DELETE", "/admin/v1/bundles/oa", b.admin, "", 204)
		check("GET", "/admin/v1/connectors", b.reader, "", 200)
		dead := check("GET", "/admin/v1/deliveries?state=dead&limit=10", b.reader, "", 200)
		id := string(bytes.TrimSuffix(bytes.SplitN(bytes.SplitN(dead.body, []byte(`"id":`), 2)[1], []byte(","), 2)[0], []byte("}")))
		check("GET", "/admin/v1/deliveries?state=alive", b.reader, "", 400)
		check("GET", "/admin/v1/users/"+users[0]+"/enrollments", b.reader, "", 200)
		check("GET", "/admin/v1/audit?correlation_id=group-1&limit=5", auditor, "", 200)
		check("GET", "/admin/v1/audit?outcome=maybe", auditor, "", 400)
		check("POST", "/admin/v1/deliveries/"+id+"/replay", b.admin, "", 202)
		check("DELETE", "/admin/v1/deliveries/"+id, b.admin, "", 404)
		check("GET", "/admin/v1/bundles", "", "", 401)
	})
}

// validate checks one exchange against the document.
func validate(t *testing.T, router routers.Router, method, url, body string, header []string, r reply) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in the document: %v", method, url, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}}
	if r.status < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s: the request does not match the document: %v", method, url, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)),
		Options: in.Options,
	})
	if err != nil {
		t.Errorf("%s %s: the %d response does not match the document: %v\n%s", method, url, r.status, err, r.body)
	}
}
