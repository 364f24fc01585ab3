package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// client talks SCIM to one server over keep-alive connections.
type client struct {
	base  string // http://127.0.0.1:PORT
	token string
	hc    *http.Client
}

// newClient returns a client whose pool keeps a connection per worker:
// without MaxIdleConnsPerHost ≥ concurrency, net/http closes and redials
// connections under load and the figures measure TCP set-up instead.
func newClient(base, token string, concurrency int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy: nil, // loopback only: never through a proxy from the environment
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 4 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &client{base: base, token: token, hc: &http.Client{Transport: tr, Timeout: timeout}}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// do sends one request and returns the body. A status other than want (any
// 2xx when want is 0) is an *errStatus.
func (c *client) do(ctx context.Context, method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body) // read to the end so the connection is reused
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if (want == 0 && resp.StatusCode/100 != 2) || (want != 0 && resp.StatusCode != want) {
		return out, &errStatus{method: method, path: truncate(path, 120), status: resp.StatusCode, body: truncate(string(out), 300)}
	}
	return out, nil
}

// doJSON is do with a JSON-encoded body and a JSON-decoded answer (into out,
// when not nil).
func (c *client) doJSON(ctx context.Context, method, path string, in any, want int, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	b, err := c.do(ctx, method, path, body, want)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, truncate(path, 120), err)
		}
	}
	return nil
}

// SCIM message URNs.
const (
	userURN     = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN    = "urn:ietf:params:scim:schemas:core:2.0:Group"
	patchURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	bulkReqURN  = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	enterprise  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	userNameFmt = "%s%07d@bench.example.com"
)

// userName is the userName of population member i (prefix separates the
// population from bulk-loaded users).
func userName(prefix string, i int) string { return fmt.Sprintf(userNameFmt, prefix, i) }

// userBody is a user as an IdP sends one: core and enterprise attributes.
func userBody(prefix string, i int) map[string]any {
	name := userName(prefix, i)
	return map[string]any{
		"schemas":     []string{userURN, enterprise},
		"userName":    name,
		"externalId":  fmt.Sprintf("%s-ext-%07d", prefix, i),
		"active":      true,
		"displayName": fmt.Sprintf("Bench User %d", i),
		"name":        map[string]any{"givenName": "Bench", "familyName": fmt.Sprintf("User%d", i)},
		"emails":      []any{map[string]any{"value": name, "type": "work", "primary": true}},
		enterprise:    map[string]any{"employeeNumber": fmt.Sprintf("%07d", i), "department": fmt.Sprintf("Dept %d", i%50)},
	}
}

// patchOp is a PatchOp message with one operation.
func patchOp(op, path string, value any) map[string]any {
	o := map[string]any{"op": op, "path": path}
	if value != nil {
		o["value"] = value
	}
	return map[string]any{"schemas": []string{patchURN}, "Operations": []any{o}}
}

// createUser creates user i and returns its id.
func (c *client) createUser(ctx context.Context, prefix string, i int) (string, error) {
	var res struct {
		ID string `json:"id"`
	}
	if err := c.doJSON(ctx, http.MethodPost, "/scim/v2/Users", userBody(prefix, i), http.StatusCreated, &res); err != nil {
		return "", err
	}
	if res.ID == "" {
		return "", fmt.Errorf("POST /Users: answer without an id")
	}
	return res.ID, nil
}

// spc is what the load generator reads of /ServiceProviderConfig.
type spc struct {
	Bulk struct {
		Supported      bool  `json:"supported"`
		MaxOperations  int   `json:"maxOperations"`
		MaxPayloadSize int64 `json:"maxPayloadSize"`
	} `json:"bulk"`
	Etag struct {
		Supported bool `json:"supported"`
	} `json:"etag"`
	Sort struct {
		Supported bool `json:"supported"`
	} `json:"sort"`
}

func (c *client) serviceProviderConfig(ctx context.Context) (spc, error) {
	var s spc
	err := c.doJSON(ctx, http.MethodGet, "/scim/v2/ServiceProviderConfig", nil, http.StatusOK, &s)
	return s, err
}
