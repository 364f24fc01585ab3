package lmstest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

var (
	whKey    = []byte("receiver test key of 32 bytes!!!")
	whSecret = "whsec_" + base64.StdEncoding.EncodeToString(whKey)
)

// whSign is a third, minimal signer, so these tests need nothing from lms.
func whSign(key []byte, id string, ts int64, body string) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.%s", id, ts, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func whPayload(typ, user, course string) string {
	return fmt.Sprintf(`{"type":%q,"timestamp":"2026-03-02T08:30:15.123Z","correlation_id":"corr-1",`+
		`"data":{"user":{"id":%q,"userName":"%s@example.com","externalId":"","email":"","displayName":""},`+
		`"course_id":%q,"bundle":"eng"}}`, typ, user, user, course)
}

type whRequest struct {
	method, contentType string
	id, ts, sig         string // headers; "-" leaves one out
	body                string
}

// whSigned is a valid request for body under whKey, sent now.
func whSigned(id, body string) whRequest {
	ts := time.Now().Unix()
	return whRequest{id: id, ts: strconv.FormatInt(ts, 10), sig: whSign(whKey, id, ts, body), body: body}
}

func whPost(t *testing.T, r *lmstest.WebhookReceiver, req whRequest) int {
	t.Helper()
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	hr, err := http.NewRequestWithContext(t.Context(), method, r.URL, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	ct := req.contentType
	if ct == "" {
		ct = "application/json"
	}
	hr.Header.Set("Content-Type", ct)
	for name, v := range map[string]string{"webhook-id": req.id, "webhook-timestamp": req.ts, "webhook-signature": req.sig} {
		if v != "-" {
			hr.Header.Set(name, v)
		}
	}
	resp, err := r.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestReceiverAcceptsAndRecords(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	body := whPayload("enrollment.created", "u1", "SEC-101")
	req := whSigned("msg_1", body)
	if got := whPost(t, r, req); got != http.StatusNoContent {
		t.Fatalf("status %d, want 204 (rejections: %v)", got, r.Rejections())
	}
	got := r.Deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	d := got[0]
	wantTS, _ := strconv.ParseInt(req.ts, 10, 64)
	if d.ID != "msg_1" || d.Timestamp.Unix() != wantTS || d.Type != "enrollment.created" ||
		d.CorrelationID != "corr-1" || d.User.ID != "u1" || d.User.UserName != "u1@example.com" ||
		d.CourseID != "SEC-101" || d.Bundle != "eng" || string(d.Body) != body ||
		d.Header.Get("webhook-id") != "msg_1" ||
		!d.EventTime.Equal(time.Date(2026, 3, 2, 8, 30, 15, 123e6, time.UTC)) {
		t.Errorf("recorded %+v", d)
	}
	if r.Rejected() != 0 || r.Duplicates() != 0 {
		t.Errorf("Rejected %d, Duplicates %d; want 0, 0", r.Rejected(), r.Duplicates())
	}
}

func TestReceiverRejects(t *testing.T) {
	t.Parallel()
	body := whPayload("enrollment.created", "u1", "SEC-101")
	now := time.Now().Unix()
	at := func(ts int64) whRequest {
		return whRequest{id: "msg_1", ts: strconv.FormatInt(ts, 10), sig: whSign(whKey, "msg_1", ts, body), body: body}
	}
	tests := []struct {
		name   string
		req    whRequest
		status int
		reason string
	}{
		{"forged signature", whRequest{id: "msg_1", ts: strconv.FormatInt(now, 10),
			sig: whSign([]byte("an attacker's key, also 32 bytes"), "msg_1", now, body), body: body},
			401, "no v1 signature matches"},
		{"tampered body", func() whRequest { r := at(now); r.body = strings.Replace(body, "u1", "u2", 1); return r }(),
			401, "no v1 signature matches"},
		{"signature for another id", func() whRequest { r := at(now); r.id = "msg_2"; return r }(),
			401, "no v1 signature matches"},
		{"stale timestamp", at(now - 6*60), 401, "away from now"},
		{"future timestamp", at(now + 6*60), 401, "away from now"},
		{"only a v1a signature", func() whRequest { r := at(now); r.sig = "v1a" + strings.TrimPrefix(r.sig, "v1"); return r }(),
			401, "no v1 signature matches"},
		{"no webhook-id", func() whRequest { r := at(now); r.id = "-"; return r }(), 400, "missing"},
		{"no signature", func() whRequest { r := at(now); r.sig = "-"; return r }(), 400, "missing"},
		{"timestamp not a number", func() whRequest { r := at(now); r.ts = "yesterday"; return r }(), 400, "not unix seconds"},
		{"not json", func() whRequest { r := at(now); r.contentType = "text/plain"; return r }(), 415, "want application/json"},
		{"GET", func() whRequest { r := at(now); r.method = http.MethodGet; return r }(), 405, "want POST"},
		{"malformed JSON", whSigned("msg_1", `{"type":`), 400, "payload"},
		{"trailing data", whSigned("msg_1", body+"{}"), 400, "after the JSON object"},
		{"unknown type", whSigned("msg_1", whPayload("enrollment.promoted", "u1", "SEC-101")), 400, "unknown type"},
		{"no user id", whSigned("msg_1", whPayload("enrollment.created", "", "SEC-101")), 400, "data.user"},
		{"no course", whSigned("msg_1", whPayload("enrollment.created", "u1", "")), 400, "course_id"},
		{"local timestamp", whSigned("msg_1", strings.Replace(body, "08:30:15.123Z", "09:30:15.123+01:00", 1)), 400, "not UTC"},
		{"no correlation_id", whSigned("msg_1", strings.Replace(body, `"correlation_id":"corr-1",`, "", 1)), 400, "correlation_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := lmstest.NewWebhookReceiver(t, whSecret)
			if got := whPost(t, r, tt.req); got != tt.status {
				t.Errorf("status %d, want %d (rejections: %v)", got, tt.status, r.Rejections())
			}
			if r.Rejected() != 1 || len(r.Deliveries()) != 0 {
				t.Errorf("Rejected %d, accepted %d; want 1, 0", r.Rejected(), len(r.Deliveries()))
			}
			if why := r.Rejections(); len(why) != 1 || !strings.Contains(why[0], tt.reason) {
				t.Errorf("Rejections = %q, want one containing %q", why, tt.reason)
			}
		})
	}
}

func TestReceiverAcceptsAnyMatchingSignature(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	req := whSigned("msg_1", whPayload("enrollment.created", "u1", "SEC-101"))
	old := whSign([]byte("the previous key, before rotation"), req.id, time.Now().Unix(), req.body)
	req.sig = "v1a,aGVsbG8= " + old + " " + req.sig + " v2,junk"
	if got := whPost(t, r, req); got != http.StatusNoContent {
		t.Errorf("status %d, want 204 (rejections: %v)", got, r.Rejections())
	}
}

func TestReceiverDeduplicatesAndFolds(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	send := []struct{ id, typ, user, course string }{
		{"m1", "enrollment.created", "u1", "A"},
		{"m2", "enrollment.created", "u1", "B"},
		{"m1", "enrollment.created", "u1", "A"}, // a retry
		{"m3", "enrollment.created", "u2", "A"},
		{"m4", "enrollment.suspended", "u1", "A"},
		{"m5", "enrollment.removed", "u1", "B"},
		{"m6", "enrollment.removed", "u2", "A"},
		{"m5", "enrollment.removed", "u1", "B"},   // another retry
		{"m2", "enrollment.removed", "u1", "A"},   // an id reused for another change
		{"m7", "enrollment.removed", "u3", "X"},   // removing what was never there
		{"m8", "enrollment.created", "u3", "X"},   // ... then creating it
		{"m9", "enrollment.suspended", "u4", "Y"}, // suspending what was never there
	}
	for _, s := range send {
		if got := whPost(t, r, whSigned(s.id, whPayload(s.typ, s.user, s.course))); got != http.StatusNoContent {
			t.Fatalf("%s: status %d (rejections: %v)", s.id, got, r.Rejections())
		}
	}
	if n := len(r.Deliveries()); n != len(send) {
		t.Errorf("Deliveries: %d, want %d", n, len(send))
	}
	if n := r.Duplicates(); n != 3 {
		t.Errorf("Duplicates = %d, want 3", n)
	}
	var ids []string
	for _, e := range r.Events() {
		ids = append(ids, e.ID)
	}
	if got := strings.Join(ids, " "); got != "m1 m2 m3 m4 m5 m6 m7 m8 m9" {
		t.Errorf("Events ids = %s", got)
	}
	if got := r.Inconsistent(); len(got) != 1 || got[0] != "m2" {
		t.Errorf("Inconsistent = %v, want [m2]", got)
	}
	got := fmt.Sprint(r.Enrolled())
	if want := "map[u1:map[A:suspended] u3:map[X:active] u4:map[Y:suspended]]"; got != want {
		t.Errorf("Enrolled = %s, want %s", got, want)
	}
	// The map is the caller's.
	r.Enrolled()["u1"]["A"] = "tampered"
	if r.Enrolled()["u1"]["A"] != lmstest.StateSuspended {
		t.Error("Enrolled shares its map")
	}
}

func TestReceiverFaultsAreNotRejections(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	r.Faults.Add(lmstest.Fault{Times: 1, Status: http.StatusServiceUnavailable})
	req := whSigned("m1", whPayload("enrollment.created", "u1", "A"))
	if got := whPost(t, r, req); got != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", got)
	}
	if got := whPost(t, r, req); got != http.StatusNoContent {
		t.Errorf("status %d, want 204", got)
	}
	if r.Rejected() != 0 || len(r.Deliveries()) != 1 || r.Faults.Served() != 1 {
		t.Errorf("Rejected %d, Deliveries %d, Served %d; want 0, 1, 1", r.Rejected(), len(r.Deliveries()), r.Faults.Served())
	}
}

func TestReceiverConcurrentUse(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("m%d", i%(n/2)) // every id twice
			whPost(t, r, whSigned(id, whPayload("enrollment.created", "u"+strconv.Itoa(i%(n/2)), "A")))
		})
	}
	// Read while they write; WaitFor polls from this goroutine.
	r.WaitFor(t, func(r *lmstest.WebhookReceiver) bool {
		_ = r.Enrolled()
		return len(r.Deliveries()) == n
	}, 10*time.Second)
	wg.Wait()
	if len(r.Events()) != n/2 || r.Duplicates() != n/2 || len(r.Enrolled()) != n/2 {
		t.Errorf("Events %d, Duplicates %d, Enrolled users %d; want %d each",
			len(r.Events()), r.Duplicates(), len(r.Enrolled()), n/2)
	}
}

// whFatalTB records a Fatalf and stops its goroutine, as testing.T does.
type whFatalTB struct {
	testing.TB
	msg string
}

func (f *whFatalTB) Helper()                   {}
func (f *whFatalTB) Cleanup(fn func())         { f.TB.Cleanup(fn) }
func (f *whFatalTB) Fatalf(s string, a ...any) { f.msg = fmt.Sprintf(s, a...); runtime.Goexit() }

// whRunFatal runs fn with a TB whose Fatalf is caught, and returns its message.
func whRunFatal(t *testing.T, fn func(tb testing.TB)) string {
	tb := &whFatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(tb)
	}()
	<-done
	return tb.msg
}

func TestReceiverWaitForTimesOutWithASummary(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	whPost(t, r, whSigned("m1", whPayload("enrollment.created", "u1", "SEC-101")))
	req := whSigned("m2", whPayload("enrollment.created", "u1", "GIT-201"))
	req.sig = whSign([]byte("the wrong key"), req.id, time.Now().Unix(), req.body)
	whPost(t, r, req)

	start := time.Now()
	msg := whRunFatal(t, func(tb testing.TB) {
		r.WaitFor(tb, func(r *lmstest.WebhookReceiver) bool { return len(r.Events()) == 2 }, 100*time.Millisecond)
	})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("WaitFor took %v to time out after 100ms", took)
	}
	for _, want := range []string{"not met after 100ms", "1 accepted (1 distinct), 1 rejected",
		"m1 enrollment.created user=u1 course=SEC-101", "rejected: 401 no v1 signature matches", "enrolled: map[u1:map[SEC-101:active]]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("WaitFor failure %q\ndoes not contain %q", msg, want)
		}
	}
}

func TestNewWebhookReceiverRefusesBadSecret(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***"} {
		msg := whRunFatal(t, func(tb testing.TB) { lmstest.NewWebhookReceiver(tb, secret) })
		if !strings.Contains(msg, "webhook secret") || strings.Contains(msg, secret) {
			t.Errorf("NewWebhookReceiver(%q) failed with %q, want a message about the secret without it", secret, msg)
		}
	}
}

func TestReceiverClose(t *testing.T) {
	t.Parallel()
	r := lmstest.NewWebhookReceiver(t, whSecret)
	r.Close()
	hr, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, r.URL, strings.NewReader("{}"))
	if resp, err := r.Client().Do(hr); err == nil {
		resp.Body.Close()
		t.Error("a closed receiver answered")
	}
}
