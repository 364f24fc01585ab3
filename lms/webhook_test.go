package lms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/lms/lmstest"
)

// The -update flag may also be registered by another test file of this
// binary; share it rather than panic on a second definition.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func hookUpdating() bool { return flag.Lookup("update").Value.String() == "true" }

// hookSecret is a well-formed whsec_ secret (a 32-byte key).
var hookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("onramp webhook test key, 32 byte"))

const hookSecretEnv = "ONRAMP_HOOKS_SECRET"

// hookLogBuffer collects log output written from any goroutine.
type hookLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *hookLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *hookLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type hookBundle struct {
	recv *lmstest.WebhookReceiver
	conn lms.Connector
	logs *hookLogBuffer
}

// setupHook starts a receiver and a webhook connector that posts to it,
// logging at Debug into a buffer.
func setupHook(t *testing.T) *hookBundle {
	t.Helper()
	recv := lmstest.NewWebhookReceiver(t, hookSecret)
	logs := &hookLogBuffer{}
	conn, err := lms.New(lms.Spec{Name: "hooks", Type: "webhook", URL: recv.URL, SecretEnv: hookSecretEnv}, lms.Deps{
		Env:    hookEnv(hookSecretEnv, hookSecret),
		Client: recv.Client(),
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &hookBundle{recv: recv, conn: conn, logs: logs}
}

func hookEnv(kv ...string) lms.Env {
	return func(name string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == name {
				return kv[i+1], true
			}
		}
		return "", false
	}
}

// hookClock returns a clock that moves one second on every reading,
// starting near the real time (the receiver checks freshness).
func hookClock() func() time.Time {
	base := time.Now()
	var n atomic.Int64
	return func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

func hookDelivery(op lms.Op) lms.Delivery {
	return lms.Delivery{
		ID: "dlv_2f6b1c0e9a7d4e21",
		Op: op,
		User: lms.User{
			ID:          "0b5f7a8e-3c2d-4e1f-9a6b-7c8d9e0f1a2b",
			UserName:    "ada@example.com",
			ExternalID:  "HR-1815",
			Email:       "ada@example.com",
			DisplayName: "Ada Lovelace",
			GivenName:   "Ada",
			FamilyName:  "Lovelace",
		},
		Course:        "SEC-101",
		Bundle:        "eng-onboarding",
		CorrelationID: "c0ffee00-1234-4abc-8def-0123456789ab",
		Time:          time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.FixedZone("CET", 3600)),
	}
}

func hookError(t *testing.T, err error) *lms.Error {
	t.Helper()
	var e *lms.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *lms.Error", err, err)
	}
	return e
}

func TestWebhookHeadersAndSignature(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	d := hookDelivery(lms.OpEnroll)
	before := time.Now().Unix()
	if err := b.conn.Deliver(t.Context(), d); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	after := time.Now().Unix()

	got := b.recv.Deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver accepted %d deliveries, want 1 (rejections: %v)", len(got), b.recv.Rejections())
	}
	h := got[0].Header
	for name, want := range map[string]string{
		"webhook-id":       d.ID,
		"Content-Type":     "application/json",
		"X-Correlation-ID": d.CorrelationID,
		"User-Agent":       "onramp",
	} {
		if v := h.Get(name); v != want {
			t.Errorf("header %s = %q, want %q", name, v, want)
		}
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || ts < before || ts > after {
		t.Errorf("webhook-timestamp = %q, want unix seconds in [%d, %d]", h.Get("webhook-timestamp"), before, after)
	}
	// The receiver verified it on its own; the exported signer agrees.
	sig, err := lms.SignWebhook(hookSecret, d.ID, time.Unix(ts, 0), got[0].Body)
	if err != nil {
		t.Fatal(err)
	}
	if h.Get("webhook-signature") != sig {
		t.Errorf("webhook-signature = %q, want %q", h.Get("webhook-signature"), sig)
	}
	if _, err := lmstest.VerifyWebhook(hookSecret, h, got[0].Body, time.Now()); err != nil {
		t.Errorf("VerifyWebhook: %v", err)
	}

	ev := got[0]
	if ev.Type != "enrollment.created" || ev.CourseID != d.Course || ev.Bundle != d.Bundle ||
		ev.CorrelationID != d.CorrelationID || ev.User.ID != d.User.ID || ev.User.UserName != d.User.UserName ||
		!ev.EventTime.Equal(d.Time.Truncate(time.Millisecond)) {
		t.Errorf("receiver read %+v, want the fields of %+v", ev, d)
	}
}

func TestWebhookPayloadGolden(t *testing.T) {
	t.Parallel()
	for _, op := range []lms.Op{lms.OpEnroll, lms.OpSuspend, lms.OpUnenroll} {
		t.Run(string(op), func(t *testing.T) {
			t.Parallel()
			b := setupHook(t)
			d := hookDelivery(op)
			d.ID += "-" + string(op)
			if err := b.conn.Deliver(t.Context(), d); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			got := b.recv.Deliveries()
			if len(got) != 1 {
				t.Fatalf("receiver accepted %d deliveries, want 1 (rejections: %v)", len(got), b.recv.Rejections())
			}
			file := filepath.Join("testdata", "webhook_"+strings.ReplaceAll(got[0].Type, ".", "_")+".golden")
			if hookUpdating() {
				if err := os.WriteFile(file, got[0].Body, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got[0].Body, want) {
				t.Errorf("body differs from %s\n got: %s\nwant: %s", file, got[0].Body, want)
			}
		})
	}
}

func TestWebhookRetryKeepsIDAndBodyMovesTimestamp(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	lms.SetWebhookClock(b.conn, hookClock())
	d := hookDelivery(lms.OpEnroll)

	// The first attempt reaches the receiver but its answer is lost; the
	// retry (a fresh Deliver, as the engine makes it) succeeds.
	b.recv.Faults.Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
	if err := b.conn.Deliver(t.Context(), d); err == nil {
		t.Fatal("first attempt: want an error for the dropped connection")
	}
	if err := b.conn.Deliver(t.Context(), d); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got := b.recv.Deliveries()
	if len(got) != 2 {
		t.Fatalf("receiver accepted %d deliveries, want 2", len(got))
	}
	if got[0].ID != d.ID || got[1].ID != d.ID {
		t.Errorf("webhook-ids %q, %q: want %q both times", got[0].ID, got[1].ID, d.ID)
	}
	if !got[1].Timestamp.After(got[0].Timestamp) {
		t.Errorf("webhook-timestamp %v then %v: want it to move on retry", got[0].Timestamp, got[1].Timestamp)
	}
	if !bytes.Equal(got[0].Body, got[1].Body) {
		t.Errorf("body changed on retry:\n%s\n%s", got[0].Body, got[1].Body)
	}
	if s0, s1 := got[0].Header.Get("webhook-signature"), got[1].Header.Get("webhook-signature"); s0 == s1 {
		t.Errorf("signature %q did not change with the timestamp", s0)
	}
}

func TestWebhookDropAfterWriteDeduplicated(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	d := hookDelivery(lms.OpEnroll)
	b.recv.Faults.Add(lmstest.Fault{Times: 1, DropAfterWrite: true})

	err := b.conn.Deliver(t.Context(), d)
	if err == nil {
		t.Fatal("Deliver: want an error when the answer is lost")
	}
	if e := hookError(t, err); e.Permanent || e.Status != 0 {
		t.Errorf("lost answer: Permanent=%v Status=%d, want a retryable error with no status", e.Permanent, e.Status)
	}
	if err := b.conn.Deliver(t.Context(), d); err != nil {
		t.Fatalf("retry: %v", err)
	}

	if n := len(b.recv.Deliveries()); n != 2 {
		t.Errorf("Deliveries: %d, want 2 (the lost answer's and the retry's)", n)
	}
	if n := b.recv.Duplicates(); n != 1 {
		t.Errorf("Duplicates = %d, want 1", n)
	}
	if ev := b.recv.Events(); len(ev) != 1 || ev[0].ID != d.ID {
		t.Errorf("Events = %+v, want the one delivery %s", ev, d.ID)
	}
	if ids := b.recv.Inconsistent(); len(ids) != 0 {
		t.Errorf("Inconsistent = %v, want none", ids)
	}
	want := map[string]map[string]string{d.User.ID: {d.Course: lmstest.StateActive}}
	if got := b.recv.Enrolled(); !sameEnrolled(got, want) {
		t.Errorf("Enrolled = %v, want %v", got, want)
	}
}

func TestWebhookStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		fault         lmstest.Fault
		wantPermanent bool
		wantRetry     time.Duration
		wantIn        []string
	}{
		{
			name:          "410 gone is permanent and says so",
			fault:         lmstest.Fault{Status: http.StatusGone, Body: "endpoint deleted"},
			wantPermanent: true,
			wantIn:        []string{"HTTP 410", "answered 410 Gone", "no more deliveries", "dead-lettered", "endpoint deleted"},
		},
		{
			name:      "503 with Retry-After is retryable and keeps the wait",
			fault:     lmstest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "7"},
			wantRetry: 7 * time.Second,
			wantIn:    []string{"HTTP 503"},
		},
		{
			name:      "429 is retryable",
			fault:     lmstest.Fault{Status: http.StatusTooManyRequests, RetryAfter: "2"},
			wantRetry: 2 * time.Second,
			wantIn:    []string{"HTTP 429"},
		},
		{
			name:          "400 is permanent",
			fault:         lmstest.Fault{Status: http.StatusBadRequest, Body: "unknown course"},
			wantPermanent: true,
			wantIn:        []string{"HTTP 400", "unknown course"},
		},
		{
			name:          "401 points at the secret",
			fault:         lmstest.Fault{Status: http.StatusUnauthorized},
			wantPermanent: true,
			wantIn:        []string{"HTTP 401", "same secret"},
		},
		{
			name:          "redirects are not followed",
			fault:         lmstest.Fault{Status: http.StatusTemporaryRedirect},
			wantPermanent: true,
			wantIn:        []string{"HTTP 307", "do not follow redirects"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupHook(t)
			tt.fault.Times = 1
			b.recv.Faults.Add(tt.fault)
			err := b.conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll))
			if err == nil {
				t.Fatal("Deliver: want an error")
			}
			e := hookError(t, err)
			if e.Permanent != tt.wantPermanent || lms.IsPermanent(err) != tt.wantPermanent {
				t.Errorf("Permanent = %v, want %v (%v)", e.Permanent, tt.wantPermanent, err)
			}
			if got := lms.RetryAfter(err); got != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetry)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if n := b.recv.Faults.Served(); n != 0 {
				t.Errorf("receiver served %d requests behind the fault, want 0", n)
			}
		})
	}
}

// The connector does not follow a real redirect either: the target never
// hears of the delivery.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	recv := lmstest.NewWebhookReceiver(t, hookSecret)
	redirect := httptest.NewServer(http.RedirectHandler(recv.URL, http.StatusPermanentRedirect))
	t.Cleanup(redirect.Close)
	conn, err := lms.New(lms.Spec{Name: "hooks", Type: "webhook", URL: redirect.URL, SecretEnv: hookSecretEnv},
		lms.Deps{Env: hookEnv(hookSecretEnv, hookSecret), Client: redirect.Client()})
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll))
	if !lms.IsPermanent(err) || !strings.Contains(err.Error(), "HTTP 308") {
		t.Errorf("Deliver = %v, want a permanent HTTP 308 error", err)
	}
	if n := recv.Faults.Served(); n != 0 {
		t.Errorf("redirect target served %d requests, want 0", n)
	}
}

func TestWebhookWrongSecretRejected(t *testing.T) {
	t.Parallel()
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("a different key of 32 bytes!!!!!"))
	recv := lmstest.NewWebhookReceiver(t, other)
	conn, err := lms.New(lms.Spec{Name: "hooks", Type: "webhook", URL: recv.URL, SecretEnv: hookSecretEnv},
		lms.Deps{Env: hookEnv(hookSecretEnv, hookSecret), Client: recv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	err = conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll))
	if e := hookError(t, err); !e.Permanent || e.Status != http.StatusUnauthorized {
		t.Errorf("Deliver = %v, want a permanent 401", err)
	}
	if recv.Rejected() != 1 || len(recv.Deliveries()) != 0 {
		t.Errorf("receiver: %d rejected, %d accepted; want 1 and 0", recv.Rejected(), len(recv.Deliveries()))
	}
}

func TestWebhookHonoursContext(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	b.recv.Faults.Add(lmstest.Fault{Times: 1, Delay: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.conn.Deliver(ctx, hookDelivery(lms.OpEnroll))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Deliver took %v past its deadline", took)
	}
	if e := hookError(t, err); e.Permanent || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Deliver = %v, want a retryable deadline error", err)
	}
}

func TestWebhookRefusesMalformedDelivery(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	tests := []struct {
		name   string
		modify func(*lms.Delivery)
		wantIn string
	}{
		{"no id", func(d *lms.Delivery) { d.ID = "" }, "no id"},
		{"id with a full stop", func(d *lms.Delivery) { d.ID = "dlv.1" }, "without spaces or '.'"},
		{"id with a space", func(d *lms.Delivery) { d.ID = "dlv 1" }, "without spaces or '.'"},
		{"no time", func(d *lms.Delivery) { d.Time = time.Time{} }, "no time"},
		{"unknown op", func(d *lms.Delivery) { d.Op = "promote" }, `unknown op "promote"`},
	}
	for _, tt := range tests {
		d := hookDelivery(lms.OpEnroll)
		tt.modify(&d)
		err := b.conn.Deliver(t.Context(), d)
		if !lms.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantIn) {
			t.Errorf("%s: Deliver = %v, want a permanent error containing %q", tt.name, err, tt.wantIn)
		}
	}
	if n := b.recv.Faults.Served(); n != 0 {
		t.Errorf("receiver got %d requests for malformed deliveries, want 0", n)
	}
}

func TestWebhookReceiverFoldsState(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	ada := hookDelivery(lms.OpEnroll)
	steps := []struct {
		id, course string
		op         lms.Op
	}{
		{"e1", "SEC-101", lms.OpEnroll},
		{"e2", "GIT-201", lms.OpEnroll},
		{"e3", "SEC-101", lms.OpSuspend},
		{"e4", "GIT-201", lms.OpUnenroll},
		{"e5", "GIT-201", lms.OpEnroll},
		{"e6", "GIT-201", lms.OpUnenroll},
		{"e4", "GIT-201", lms.OpUnenroll}, // a duplicate changes nothing
	}
	for _, s := range steps {
		d := ada
		d.ID, d.Course, d.Op = s.id, s.course, s.op
		if err := b.conn.Deliver(t.Context(), d); err != nil {
			t.Fatalf("%s: %v", s.id, err)
		}
	}
	b.recv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Deliveries()) == len(steps) }, 5*time.Second)
	want := map[string]map[string]string{ada.User.ID: {"SEC-101": lmstest.StateSuspended}}
	if got := b.recv.Enrolled(); !sameEnrolled(got, want) {
		t.Errorf("Enrolled = %v, want %v", got, want)
	}
	if b.recv.Duplicates() != 1 || len(b.recv.Events()) != 6 {
		t.Errorf("Duplicates = %d, Events = %d; want 1 and 6", b.recv.Duplicates(), len(b.recv.Events()))
	}

	// Removing the last enrollment removes the user.
	d := ada
	d.ID, d.Op = "e7", lms.OpUnenroll
	if err := b.conn.Deliver(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if got := b.recv.Enrolled(); len(got) != 0 {
		t.Errorf("Enrolled = %v, want empty", got)
	}
}

// The secret must appear in no error and no log line, whatever happens.
func TestWebhookSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	b := setupHook(t)
	key := strings.TrimPrefix(hookSecret, "whsec_")
	var msgs []string

	// Every failure a delivery can meet, logged at Debug.
	for _, f := range []lmstest.Fault{
		{Status: http.StatusInternalServerError},
		{Status: http.StatusUnauthorized},
		{Status: http.StatusGone},
		{DropAfterWrite: true},
	} {
		f.Times = 1
		b.recv.Faults.Add(f)
		if err := b.conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll)); err != nil {
			msgs = append(msgs, err.Error())
		}
	}
	if err := b.conn.Deliver(t.Context(), hookDelivery(lms.OpEnroll)); err != nil {
		t.Fatal(err)
	}
	// Secrets New refuses, each close to a real one.
	for _, bad := range []string{
		key,                         // no prefix
		"whsec_" + key[:len(key)-3], // bad base64
		"whsec_" + base64.StdEncoding.EncodeToString([]byte("too short")),
		"whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 65)),
		"whsk_" + key,
	} {
		_, err := lms.New(lms.Spec{Name: "hooks", Type: "webhook", URL: b.recv.URL, SecretEnv: hookSecretEnv},
			lms.Deps{Env: hookEnv(hookSecretEnv, bad)})
		if err == nil {
			t.Errorf("New accepted secret %q", bad)
			continue
		}
		msgs = append(msgs, err.Error())
		if strings.Contains(err.Error(), bad) {
			t.Errorf("New error %q echoes the secret", err)
		}
	}
	if _, err := lms.SignWebhook("whsec_!!"+key, "id", time.Now(), nil); err != nil {
		msgs = append(msgs, err.Error())
	}

	logs := b.logs.String()
	if !strings.Contains(logs, "webhook delivered") || !strings.Contains(logs, "webhook attempt failed") {
		t.Errorf("log output lacks the attempt lines:\n%s", logs)
	}
	for _, out := range append(msgs, logs) {
		if strings.Contains(out, key) || strings.Contains(out, key[:12]) {
			t.Errorf("output contains the secret: %s", out)
		}
	}
}

func sameEnrolled(a, b map[string]map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for user, courses := range a {
		other, ok := b[user]
		if !ok || len(other) != len(courses) {
			return false
		}
		for c, st := range courses {
			if other[c] != st {
				return false
			}
		}
	}
	return true
}
