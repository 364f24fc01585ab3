package lmstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// WebhookTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way, before it is refused as a replay.
const WebhookTolerance = 5 * time.Minute

// WebhookUser is the user an event is about.
type WebhookUser struct {
	ID          string `json:"id"`
	UserName    string `json:"userName"`
	ExternalID  string `json:"externalId"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName"`
}

// WebhookDelivery is one request the receiver accepted.
type WebhookDelivery struct {
	ID        string    // webhook-id
	Timestamp time.Time // webhook-timestamp: when this attempt was sent

	Type          string    // enrollment.created, enrollment.suspended or enrollment.removed
	EventTime     time.Time // the payload's timestamp: when Onramp decided on the change
	CorrelationID string
	User          WebhookUser
	CourseID      string
	Bundle        string

	Header http.Header
	Body   []byte
}

// WebhookReceiver is a Standard Webhooks endpoint for tests. It verifies
// each request on its own, without Onramp's signing code, so one bug cannot
// hide in both: the signature (any of the space-separated v1 signatures),
// a timestamp within [WebhookTolerance] (401 otherwise), and a well-formed
// payload (400 otherwise). It answers 204 to what it accepts and records
// it, duplicates included. Faults in front of it make it misbehave.
//
// It is safe for concurrent use.
type WebhookReceiver struct {
	URL    string
	Faults *Faults

	srv *httptest.Server
	key []byte

	mu         sync.Mutex
	deliveries []WebhookDelivery
	rejections []string // why each refused request was refused
}

// NewWebhookReceiver starts a receiver that verifies with secret (whsec_...)
// and stops it when the test ends.
func NewWebhookReceiver(t testing.TB, secret string) *WebhookReceiver {
	t.Helper()
	key, err := decodeWebhookSecret(secret)
	if err != nil {
		t.Fatalf("lmstest: webhook secret: %v", err)
	}
	r := &WebhookReceiver{Faults: &Faults{}, key: key}
	r.srv = httptest.NewServer(r.Faults.Wrap(http.HandlerFunc(r.serve)))
	r.URL = r.srv.URL
	t.Cleanup(r.srv.Close)
	return r
}

// Client returns a client for the receiver, with its own transport (as
// httptest.Server.Client): parallel tests that share
// http.DefaultTransport see their connections closed by each other's
// servers shutting down.
func (r *WebhookReceiver) Client() *http.Client { return r.srv.Client() }

// Close stops the receiver early (a receiver that is down). It is also
// done when the test ends.
func (r *WebhookReceiver) Close() { r.srv.Close() }

// VerifyWebhook checks a Standard Webhooks request the way the receiver
// does: header holds webhook-id, webhook-timestamp within
// [WebhookTolerance] of now, and webhook-signature with at least one v1
// signature of body under secret. It returns the timestamp.
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time) (time.Time, error) {
	key, err := decodeWebhookSecret(secret)
	if err != nil {
		return time.Time{}, err
	}
	return verifyWebhook(key, header, body, now)
}

// decodeWebhookSecret is the receiver's own reading of a whsec_ secret.
func decodeWebhookSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("want a whsec_ prefix")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("not base64 after whsec_")
	}
	return key, nil
}

var errSignature = errors.New("no v1 signature matches")

func verifyWebhook(key []byte, header http.Header, body []byte, now time.Time) (time.Time, error) {
	id := header.Get("webhook-id")
	tsText := header.Get("webhook-timestamp")
	sigs := header.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" {
		return time.Time{}, errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	secs, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("webhook-timestamp %q is not unix seconds", tsText)
	}
	ts := time.Unix(secs, 0)
	if d := now.Sub(ts); d > WebhookTolerance || d < -WebhookTolerance {
		return ts, fmt.Errorf("webhook-timestamp is %v away from now, more than %v", d.Round(time.Second), WebhookTolerance)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, tsText)
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return ts, nil
		}
	}
	return ts, errSignature
}

// webhookPayload is the event as the receiver reads it.
type webhookPayload struct {
	Type          string  `json:"type"`
	Timestamp     string  `json:"timestamp"`
	CorrelationID *string `json:"correlation_id"`
	Data          *struct {
		User     *WebhookUser `json:"user"`
		CourseID string       `json:"course_id"`
		Bundle   *string      `json:"bundle"`
	} `json:"data"`
}

var webhookTypes = map[string]bool{
	"enrollment.created":   true,
	"enrollment.suspended": true,
	"enrollment.removed":   true,
}

func (r *WebhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	reject := func(status int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		r.mu.Lock()
		r.rejections = append(r.rejections, fmt.Sprintf("%d %s", status, msg))
		r.mu.Unlock()
		http.Error(w, msg, status)
	}
	if req.Method != http.MethodPost {
		reject(http.StatusMethodNotAllowed, "method %s: want POST", req.Method)
		return
	}
	if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "application/json" {
		reject(http.StatusUnsupportedMediaType, "Content-Type %q: want application/json", req.Header.Get("Content-Type"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 1<<20))
	if err != nil {
		reject(http.StatusBadRequest, "reading body: %v", err)
		return
	}
	ts, err := verifyWebhook(r.key, req.Header, body, time.Now())
	if err != nil {
		status := http.StatusUnauthorized
		if ts.IsZero() {
			status = http.StatusBadRequest // missing or malformed headers
		}
		reject(status, "%v", err)
		return
	}
	var p webhookPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		reject(http.StatusBadRequest, "payload: %v", err)
		return
	}
	eventTime, err := time.Parse(time.RFC3339, p.Timestamp)
	switch {
	case dec.More():
		reject(http.StatusBadRequest, "payload: data after the JSON object")
	case !webhookTypes[p.Type]:
		reject(http.StatusBadRequest, "payload: unknown type %q", p.Type)
	case err != nil:
		reject(http.StatusBadRequest, "payload: timestamp %q is not RFC 3339", p.Timestamp)
	case eventTime.Location() != time.UTC:
		reject(http.StatusBadRequest, "payload: timestamp %q is not UTC", p.Timestamp)
	case p.CorrelationID == nil:
		reject(http.StatusBadRequest, "payload: no correlation_id")
	case p.Data == nil || p.Data.User == nil || p.Data.User.ID == "" || p.Data.User.UserName == "":
		reject(http.StatusBadRequest, "payload: no data.user with id and userName")
	case p.Data.CourseID == "" || p.Data.Bundle == nil:
		reject(http.StatusBadRequest, "payload: no data.course_id or data.bundle")
	default:
		r.mu.Lock()
		r.deliveries = append(r.deliveries, WebhookDelivery{
			ID:            req.Header.Get("webhook-id"),
			Timestamp:     ts,
			Type:          p.Type,
			EventTime:     eventTime,
			CorrelationID: *p.CorrelationID,
			User:          *p.Data.User,
			CourseID:      p.Data.CourseID,
			Bundle:        *p.Data.Bundle,
			Header:        req.Header.Clone(),
			Body:          body,
		})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}
}

// Deliveries returns every accepted request in arrival order, duplicates
// included.
func (r *WebhookReceiver) Deliveries() []WebhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]WebhookDelivery(nil), r.deliveries...)
}

// Events returns the accepted deliveries de-duplicated by webhook-id, as a
// receiver following the spec processes them: the first of each id, in
// arrival order.
func (r *WebhookReceiver) Events() []WebhookDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events()
}

func (r *WebhookReceiver) events() []WebhookDelivery {
	seen := make(map[string]bool, len(r.deliveries))
	var out []WebhookDelivery
	for _, d := range r.deliveries {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// Duplicates is the number of accepted requests whose webhook-id had been
// accepted before: retries of deliveries that had in fact arrived.
func (r *WebhookReceiver) Duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.deliveries) - len(r.events())
}

// Inconsistent returns the webhook-ids that arrived more than once with
// different bodies: a sender that reuses an id for another change, or
// rebuilds the body on retry, which makes de-duplication lose changes.
func (r *WebhookReceiver) Inconsistent() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := make(map[string][]byte)
	flagged := make(map[string]bool)
	var ids []string
	for _, d := range r.deliveries {
		body, ok := first[d.ID]
		if !ok {
			first[d.ID] = d.Body
			continue
		}
		if !bytes.Equal(body, d.Body) && !flagged[d.ID] {
			flagged[d.ID] = true
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// Rejected is the number of requests the receiver refused (bad signature,
// stale timestamp, malformed payload). Faults answered in front of it are
// not counted.
func (r *WebhookReceiver) Rejected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.rejections)
}

// Rejections says why each refused request was refused, in order, e.g.
// "401 no v1 signature matches".
func (r *WebhookReceiver) Rejections() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.rejections...)
}

// Enrollment states in [WebhookReceiver.Enrolled].
const (
	StateActive    = "active"
	StateSuspended = "suspended"
)

// Enrolled folds the de-duplicated events, in arrival order, into the
// state a receiver would hold: user id -> course id -> [StateActive] or
// [StateSuspended]. Removed enrollments, and users left with none, are
// absent. The map is the caller's.
func (r *WebhookReceiver) Enrolled() map[string]map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	state := make(map[string]map[string]string)
	for _, e := range r.events() {
		courses := state[e.User.ID]
		if courses == nil {
			courses = make(map[string]string)
			state[e.User.ID] = courses
		}
		switch e.Type {
		case "enrollment.created":
			courses[e.CourseID] = StateActive
		case "enrollment.suspended":
			courses[e.CourseID] = StateSuspended
		case "enrollment.removed":
			delete(courses, e.CourseID)
		}
		if len(courses) == 0 {
			delete(state, e.User.ID)
		}
	}
	return state
}

// WaitFor polls until cond holds, and fails t if it does not within
// timeout, saying what the receiver has seen. Call it from the test's own
// goroutine; cond may call any method of r.
func (r *WebhookReceiver) WaitFor(t testing.TB, cond func(r *WebhookReceiver) bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond(r) {
		if time.Now().After(deadline) {
			t.Fatalf("lmstest: webhook receiver: condition not met after %v: %s", timeout, r.summary())
		}
		<-tick.C
	}
}

// summary describes what the receiver has seen, for failure messages.
func (r *WebhookReceiver) summary() string {
	enrolled := r.Enrolled()
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "%d accepted (%d distinct), %d rejected", len(r.deliveries), len(r.events()), len(r.rejections))
	for i, d := range r.deliveries {
		if i == 20 {
			fmt.Fprintf(&b, "\n  ... %d more", len(r.deliveries)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %s %s user=%s course=%s", d.ID, d.Type, d.User.ID, d.CourseID)
	}
	for _, why := range r.rejections[max(0, len(r.rejections)-5):] {
		fmt.Fprintf(&b, "\n  rejected: %s", why)
	}
	fmt.Fprintf(&b, "\n  enrolled: %v", enrolled)
	return b.String()
}
