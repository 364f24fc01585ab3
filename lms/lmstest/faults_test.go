package lmstest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// faultServer serves "ok" behind fs, counting the requests that reached it
// and the bodies they carried.
type faultServer struct {
	srv    *httptest.Server
	fs     *lmstest.Faults
	hits   atomic.Int64
	bodies chan string
}

func newFaultServer(t *testing.T) *faultServer {
	t.Helper()
	s := &faultServer{fs: &lmstest.Faults{}, bodies: make(chan string, 100)}
	s.srv = httptest.NewServer(s.fs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		s.bodies <- string(body)
		_, _ = io.WriteString(w, "ok")
	})))
	t.Cleanup(s.srv.Close)
	return s
}

type faultAnswer struct {
	status     int
	body       string
	retryAfter string
	err        error
}

func (s *faultServer) send(t *testing.T) faultAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.srv.URL, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		return faultAnswer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return faultAnswer{status: resp.StatusCode, body: strings.TrimSpace(string(body)), retryAfter: resp.Header.Get("Retry-After")}
}

func TestFaultsTimesCountsDown(t *testing.T) {
	t.Parallel()
	s := newFaultServer(t)
	s.fs.Add(lmstest.Fault{Times: 2, Status: http.StatusServiceUnavailable})
	for i, want := range []int{503, 503, 200, 200} {
		if got := s.send(t); got.status != want {
			t.Errorf("request %d: status %d (%v), want %d", i, got.status, got.err, want)
		}
	}
	if got := s.fs.Served(); got != 2 {
		t.Errorf("Served = %d, want 2", got)
	}
}

func TestFaultsApplyInOrder(t *testing.T) {
	t.Parallel()
	s := newFaultServer(t)
	s.fs.Add(lmstest.Fault{Times: 1, Status: http.StatusTooManyRequests, RetryAfter: "3"})
	s.fs.Add(lmstest.Fault{Times: 1, Status: http.StatusBadGateway, Body: "upstream down"})
	want := []faultAnswer{
		{status: 429, body: "429 Too Many Requests", retryAfter: "3"},
		{status: 502, body: "upstream down"},
		{status: 200, body: "ok"},
	}
	for i, w := range want {
		if got := s.send(t); got != w {
			t.Errorf("request %d: %+v, want %+v", i, got, w)
		}
	}
}

func TestFaultsUntilCleared(t *testing.T) {
	t.Parallel()
	s := newFaultServer(t)
	s.fs.Add(lmstest.Fault{Status: http.StatusInternalServerError}) // Times 0: until cleared
	for i := range 5 {
		if got := s.send(t); got.status != 500 {
			t.Fatalf("request %d: status %d, want 500", i, got.status)
		}
	}
	s.fs.Clear()
	if got := s.send(t); got.status != 200 {
		t.Errorf("after Clear: status %d, want 200", got.status)
	}
	if s.fs.Served() != 1 || s.hits.Load() != 1 {
		t.Errorf("Served %d, handler hits %d; want 1, 1", s.fs.Served(), s.hits.Load())
	}
}

func TestFaultsDropAfterWrite(t *testing.T) {
	t.Parallel()
	s := newFaultServer(t)
	s.fs.Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
	if got := s.send(t); got.err == nil {
		t.Errorf("dropped request answered %+v, want a transport error", got)
	}
	// The change took effect although no faultAnswer came back.
	if s.hits.Load() != 1 || s.fs.Served() != 1 {
		t.Errorf("handler hits %d, Served %d; want 1, 1", s.hits.Load(), s.fs.Served())
	}
	if body := <-s.bodies; body != "payload" {
		t.Errorf("handler read %q, want the request body", body)
	}
	if got := s.send(t); got.status != 200 {
		t.Errorf("next request: %+v, want 200", got)
	}
}

func TestFaultsDelayAloneServes(t *testing.T) {
	t.Parallel()
	s := newFaultServer(t)
	s.fs.Add(lmstest.Fault{Times: 1, Delay: 50 * time.Millisecond})
	start := time.Now()
	got := s.send(t)
	if got.status != 200 || got.body != "ok" || time.Since(start) < 50*time.Millisecond {
		t.Errorf("%+v after %v, want ok after at least 50ms", got, time.Since(start))
	}
	if body := <-s.bodies; body != "payload" {
		t.Errorf("handler read %q after the delay, want the request body", body)
	}
	if s.fs.Served() != 1 {
		t.Errorf("Served = %d, want 1", s.fs.Served())
	}
}

// A client that gives up ends the stall: the fake does not hold the
// request (or the test's cleanup) for the whole delay.
func TestFaultsDelayHonoursRequestContext(t *testing.T) {
	t.Parallel()
	fs := &lmstest.Faults{}
	fs.Add(lmstest.Fault{Delay: time.Minute, Status: http.StatusServiceUnavailable})
	var reached atomic.Bool
	returned := make(chan time.Time, 1)
	inner := fs.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) }))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		returned <- time.Now()
	}))
	t.Cleanup(srv.Close)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(`{"a body":"the server must read"}`))
	start := time.Now()
	_, err := srv.Client().Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do = %v, want the client's deadline", err)
	}
	select {
	case at := <-returned:
		if took := at.Sub(start); took > 10*time.Second {
			t.Errorf("the stalled handler returned after %v", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled handler is still waiting 10s after its client gave up")
	}
	if reached.Load() || fs.Served() != 0 {
		t.Errorf("the abandoned request reached the handler (Served %d)", fs.Served())
	}
}

func TestFaultsZeroValue(t *testing.T) {
	t.Parallel()
	var fs lmstest.Faults
	rec := httptest.NewRecorder()
	fs.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot || fs.Served() != 1 {
		t.Errorf("status %d, Served %d; want 418, 1", rec.Code, fs.Served())
	}
}
