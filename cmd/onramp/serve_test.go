package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server"
)

// serving is a serve command running in the background.
type serving struct {
	url    string      // http://ADDR of the listener
	stderr *syncBuffer // its JSON log
	cancel context.CancelFunc
	done   chan int // receives the exit code
}

// startServe runs `onramp serve --listen 127.0.0.1:0 args...` until the
// test ends, and waits until it listens.
func (b *testBundle) startServe(t *testing.T, a *app, args ...string) *serving {
	t.Helper()
	stderr := a.stderr.(*syncBuffer)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	s := &serving{stderr: stderr, cancel: cancel, done: make(chan int, 1)}
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--database", b.database}, args...)
	go func() { s.done <- a.run(ctx, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if addr := logField(stderr.String(), "listening", "addr"); addr != "" {
			s.url = "http://" + addr
			return s
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited %d before listening:\n%s", code, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not log \"listening\":\n%s", stderr.String())
	return nil
}

// wait returns serve's exit code.
func (s *serving) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit:\n%s", s.stderr.String())
		return -1
	}
}

// logField returns field of the first JSON log record whose msg is msg.
func logField(log, msg, field string) string {
	for _, line := range strings.Split(log, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
			continue
		}
		s, _ := rec[field].(string)
		return s
	}
	return ""
}

func get(t *testing.T, url, bearer string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// The serve tests do not run in parallel: one of them sends SIGTERM to the
// test process, which every running serve would take as its own.

func TestServe(t *testing.T) {
	eachDatabase(t, false, func(t *testing.T, b *testBundle) {
		const bootstrap = "bootstrap-secret-for-tests-0123456789"
		b.env["ONRAMP_BOOTSTRAP_TOKEN"] = bootstrap
		secret := b.createToken(t, "me", "scim:read") // a token created before serve works

		var stdout, stderr syncBuffer
		s := b.startServe(t, b.newApp(&stdout, &stderr))

		if code := get(t, s.url+"/healthz", ""); code != http.StatusOK {
			t.Errorf("/healthz: %d", code)
		}
		if code := get(t, s.url+"/readyz", ""); code != http.StatusOK {
			t.Errorf("/readyz: %d", code)
		}
		if code := get(t, s.url+"/scim/v2/Users", ""); code != http.StatusUnauthorized {
			t.Errorf("/scim/v2/Users without a token: %d, want 401", code)
		}
		for name, bearer := range map[string]string{"bootstrap": bootstrap, "created": secret} {
			if code := get(t, s.url+"/scim/v2/Users", bearer); code == http.StatusUnauthorized || code == http.StatusForbidden {
				t.Errorf("/scim/v2/Users with the %s token: %d", name, code)
			}
		}
		if code := run(t.Context(), []string{"healthcheck", "--url", s.url + "/healthz"}, io.Discard, io.Discard); code != 0 {
			t.Errorf("healthcheck against a running server: exit %d", code)
		}

		s.cancel()
		if code := s.wait(t); code != 0 {
			t.Errorf("exit %d after shutdown:\n%s", code, stderr.String())
		}
		log := stderr.String()
		if strings.Contains(log, bootstrap) || strings.Contains(log, secret) {
			t.Errorf("a secret reached the log:\n%s", log)
		}
		for _, msg := range []string{`"msg":"bootstrap token ensured"`, `"msg":"first steps"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
			if !strings.Contains(log, msg) {
				t.Errorf("log lacks %s:\n%s", msg, log)
			}
		}
		if stdout.String() != "" {
			t.Errorf("serve wrote to stdout: %q", stdout.String())
		}

		// A second start with the same secret keeps one bootstrap token.
		var stderr2 syncBuffer
		s = b.startServe(t, b.newApp(&stdout, &stderr2))
		s.cancel()
		if code := s.wait(t); code != 0 {
			t.Errorf("second run: exit %d:\n%s", code, stderr2.String())
		}
		r := b.mustRun(t, "token", "list")
		if strings.Count(r.stdout, "bootstrap") != 1 {
			t.Errorf("token list after two starts:\n%s", r.stdout)
		}
	})
}

// TestServeGracefulShutdown pins that SIGTERM lets a request in flight
// finish, refuses new connections, and exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	b := setup(t)
	b.env["ONRAMP_LISTEN"] = "127.0.0.1:0" // from the environment this time
	entered := make(chan struct{})
	release := make(chan struct{})

	var stdout, stderr syncBuffer
	a := b.newApp(&stdout, &stderr)
	a.newHandler = func(server.Config) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				close(entered)
				<-release
			}
			_, _ = io.WriteString(w, "done")
		}), nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.run(ctx, []string{"serve", "--database", b.database}) }()

	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		addr = logField(stderr.String(), "listening", "addr")
	}
	if addr == "" {
		t.Fatalf("serve did not listen:\n%s", stderr.String())
	}

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		slow <- string(body)
	}()
	<-entered

	// serve has registered for SIGTERM before it logged "listening".
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "shutting down"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("SIGTERM did not start a shutdown:\n%s", stderr.String())
		}
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("new connections accepted during shutdown")
	}
	select {
	case code := <-done:
		t.Fatalf("serve exited %d with a request in flight", code)
	case <-time.After(100 * time.Millisecond):
	}

	close(release)
	if body := <-slow; body != "done" {
		t.Errorf("request in flight got %q", body)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after its last request")
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	b := setup(t)
	var stdout, stderr syncBuffer
	a := b.newApp(&stdout, &stderr)
	entered := make(chan struct{})
	a.newHandler = func(server.Config) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-r.Context().Done() // never finishes by itself
		}), nil
	}
	s := b.startServe(t, a, "--shutdown-timeout", "200ms")
	go func() {
		if resp, err := http.Get(s.url + "/stuck"); err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-entered
	s.cancel()
	if code := s.wait(t); code == 0 {
		t.Errorf("exit 0 although a request outlived --shutdown-timeout")
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		wantCode int
	}{
		{http.StatusOK, 0},
		{http.StatusNoContent, 0},
		{http.StatusServiceUnavailable, 1},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tt.status)
		}))
		b := setup(t)
		r := b.run(t, "healthcheck", "--url", srv.URL+"/healthz")
		if r.code != tt.wantCode {
			t.Errorf("status %d: exit %d, want %d (stderr %q)", tt.status, r.code, tt.wantCode, r.stderr)
		}
		srv.Close()
	}

	// Nothing listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	b := setup(t)
	if r := b.run(t, "healthcheck", "--url", "http://"+addr+"/healthz", "--timeout", "2s"); r.code == 0 {
		t.Errorf("healthcheck with nothing listening: exit 0")
	}
}

func TestBaseURLFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base, addr, want string
	}{
		{"", "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"", "[::]:8080", "http://127.0.0.1:8080"},
		{"", "[::1]:8080", "http://[::1]:8080"},
		{"https://onramp.example.com/", "0.0.0.0:8080", "https://onramp.example.com"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURLFor(tt.base, addr); got != tt.want {
			t.Errorf("baseURLFor(%q, %s) = %q, want %q", tt.base, tt.addr, got, tt.want)
		}
	}
}
