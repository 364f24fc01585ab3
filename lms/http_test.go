package lms

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name, header string
		want         time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"zero", "0", 0},
		{"padded", " 5 ", 5 * time.Second},
		{"negative", "-5", 0},
		{"signed", "+5", 0},
		{"fraction", "1.5", 0},
		{"junk", "soon", 0},
		{"http date", "Mon, 02 Mar 2026 09:31:30 GMT", 90 * time.Second},
		{"obsolete rfc 850 date", "Monday, 02-Mar-26 09:30:10 GMT", 10 * time.Second},
		{"past date", "Mon, 02 Mar 2026 09:29:00 GMT", 0},
		{"date now", "Mon, 02 Mar 2026 09:30:00 GMT", 0},
		{"too large for a duration", "99999999999999999999999", time.Duration(maxRetryAfterSeconds) * time.Second},
		{"largest int64", "9223372036854775807", time.Duration(maxRetryAfterSeconds) * time.Second},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("%s: ParseRetryAfter(%q) = %v, want %v", tt.name, tt.header, got, tt.want)
		}
	}
	if got := ParseRetryAfter("9223372036854775807", now); got < 0 {
		t.Errorf("a huge Retry-After overflowed to %v", got)
	}
}

func TestDoClassifies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status        int
		retryAfter    string
		wantErr       bool
		wantPermanent bool
		wantRetry     time.Duration
	}{
		{status: 200},
		{status: 201},
		{status: 204},
		{status: 301, wantErr: true, wantPermanent: true},
		{status: 400, wantErr: true, wantPermanent: true},
		{status: 401, wantErr: true, wantPermanent: true},
		{status: 403, wantErr: true, wantPermanent: true},
		{status: 404, wantErr: true, wantPermanent: true},
		{status: 409, wantErr: true, wantPermanent: true},
		{status: 410, wantErr: true, wantPermanent: true},
		{status: 408, wantErr: true},
		{status: 425, wantErr: true},
		{status: 429, retryAfter: "30", wantErr: true, wantRetry: 30 * time.Second},
		{status: 500, wantErr: true},
		{status: 502, wantErr: true},
		{status: 503, retryAfter: "7", wantErr: true, wantRetry: 7 * time.Second},
		{status: 504, wantErr: true},
	}
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		var status int
		var retryAfter string
		for _, tt := range tests {
			if r.URL.Path == "/"+http.StatusText(tt.status) {
				status, retryAfter = tt.status, tt.retryAfter
			}
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("  the answer  "))
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d := Delivery{CorrelationID: "corr-1"}

	for _, tt := range tests {
		// Sequential: got is shared with the handler.
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/"+http.StatusText(tt.status), nil)
		resp, err := do(client, req, d, "test: GET")
		if got.Get("User-Agent") != "onramp" || got.Get("X-Correlation-ID") != "corr-1" {
			t.Errorf("%d: sent headers %v, want User-Agent onramp and X-Correlation-ID corr-1", tt.status, got)
		}
		if !tt.wantErr {
			if err != nil {
				t.Errorf("%d: do = %v, want success", tt.status, err)
				continue
			}
			resp.Body.Close()
			continue
		}
		if resp != nil {
			t.Errorf("%d: do returned a response with its error", tt.status)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%d: do = %v, want an *Error", tt.status, err)
			continue
		}
		if e.Status != tt.status || e.Permanent != tt.wantPermanent || e.RetryAfter != tt.wantRetry {
			t.Errorf("%d: Error{Status %d, Permanent %v, RetryAfter %v}, want {%d, %v, %v}",
				tt.status, e.Status, e.Permanent, e.RetryAfter, tt.status, tt.wantPermanent, tt.wantRetry)
		}
		if want := "test: GET: HTTP " + strconv.Itoa(tt.status) + ": the answer"; e.Error() != want {
			t.Errorf("%d: message %q, want %q", tt.status, e.Error(), want)
		}
	}
}

func TestDoNoAnswerIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now

	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader("{}"))
	_, err := do(&http.Client{Transport: &http.Transport{}}, req, Delivery{}, "test: POST")
	var e *Error
	if !errors.As(err, &e) || e.Permanent || e.Status != 0 || e.Err == nil {
		t.Fatalf("do = %#v, want a retryable *Error with no status that wraps the cause", err)
	}
	if IsPermanent(err) || RetryAfter(err) != 0 {
		t.Errorf("IsPermanent = %v, RetryAfter = %v; want false, 0", IsPermanent(err), RetryAfter(err))
	}
}

func TestStatusErrorTruncatesOnRuneBoundary(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("x" + strings.Repeat("é", 400))) // 'é' is two bytes: byte 300 is mid-rune
	}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	_, err := do(srv.Client(), req, Delivery{}, "test: GET")
	if err == nil {
		t.Fatal("do: want an error")
	}
	msg := err.Error()
	if !utf8.ValidString(msg) || !strings.HasSuffix(msg, "…") {
		t.Errorf("message is not valid UTF-8 ending in an ellipsis: %q", msg)
	}
	if body := strings.TrimPrefix(msg, "test: GET: HTTP 400: "); len(body) > 300+len("…") {
		t.Errorf("kept %d bytes of the body, want at most 300", len(body))
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	cause := errors.New("boom")
	err := error(&Error{Op: "canvas: POST enrollments", Status: 503, RetryAfter: time.Second, Err: cause})
	wrapped := errors.Join(errors.New("context"), err)
	if !errors.Is(wrapped, cause) || IsPermanent(wrapped) || RetryAfter(wrapped) != time.Second {
		t.Errorf("helpers do not see through wrapping: Is %v, IsPermanent %v, RetryAfter %v",
			errors.Is(wrapped, cause), IsPermanent(wrapped), RetryAfter(wrapped))
	}
	if IsPermanent(cause) || RetryAfter(cause) != 0 || IsPermanent(nil) {
		t.Error("a plain error must be neither permanent nor carry a wait")
	}
	if got := (&Error{Op: "x"}).Error(); got != "x" {
		t.Errorf("Error() = %q, want %q", got, "x")
	}
}

func TestTransportErrorsHideTheURL(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the connection is refused
	req, err := http.NewRequest(http.MethodPost, "http://user:hunter2@"+addr+"/hook?token=s3cret", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = do(&http.Client{}, req, Delivery{}, "webhook: POST")
	if err == nil {
		t.Fatal("a refused connection succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "s3cret") || strings.Contains(msg, "hunter2") || strings.Contains(msg, "/hook") {
		t.Errorf("error %q shows the URL", msg)
	}
	if IsPermanent(err) {
		t.Errorf("a refused connection is permanent: %v", err)
	}
}
