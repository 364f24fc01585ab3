package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// receiver is a Standard Webhooks endpoint in the load generator's own
// process (the "healthy LMS" of the delivery phase). It verifies every
// signature, answers 204 at once and records when each enrollment of each
// (user, course) first arrived. It imports nothing of Onramp's, so it
// checks the server against the spec, not against its own code.
type receiver struct {
	key   []byte
	url   string // http://127.0.0.1:PORT/hooks
	srv   *http.Server
	conns atomic.Int64 // TCP connections the server opened to us

	mu           sync.Mutex
	byID         map[string]int                // webhook-id -> times received
	byUser       map[string]map[string]arrival // user id -> course -> first arrival
	dupEnrolls   int                           // a (user, course) enrolled again under another webhook-id
	firstDups    []string                      // the first few of them
	redelivered  int                           // a webhook-id received again
	rejected     int                           // bad signature, timestamp or body
	firstRejects []string                      // why, for the first few
	others       map[string]int                // events other than enrollment.created, by type
	received     int                           // requests answered 2xx
	changed      chan struct{}                 // closed and replaced on every new enrollment
}

type arrival struct {
	at time.Time
	id string // webhook-id
}

// webhookTolerance is how far webhook-timestamp may be from the receiver's
// clock (the Standard Webhooks reference libraries use 5 minutes).
const webhookTolerance = 5 * time.Minute

// newWebhookSecret returns a fresh whsec_ secret and its HMAC key.
func newWebhookSecret() (string, []byte) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key), key
}

// startReceiver listens on a random loopback port.
func startReceiver(key []byte) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	rv := &receiver{
		key: key, url: "http://" + ln.Addr().String() + "/hooks",
		byID: map[string]int{}, byUser: map[string]map[string]arrival{}, others: map[string]int{},
		changed: make(chan struct{}),
	}
	rv.srv = &http.Server{
		Handler:           rv,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				rv.conns.Add(1)
			}
		},
	}
	go func() { _ = rv.srv.Serve(ln) }()
	return rv, nil
}

func (rv *receiver) close() { _ = rv.srv.Close() }

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	at := time.Now() // the enrollment has arrived once its body has
	if r.Method != http.MethodPost || r.URL.Path != "/hooks" {
		rv.reject(fmt.Errorf("%s %s: not the webhook endpoint", r.Method, r.URL.Path))
		http.NotFound(w, r)
		return
	}
	if err != nil {
		rv.reject(fmt.Errorf("read body: %w", err))
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	if err := verifyWebhook(rv.key, id, r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body, at); err != nil {
		rv.reject(err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			CourseID string `json:"course_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Data.User.ID == "" || ev.Data.CourseID == "" {
		rv.reject(fmt.Errorf("body is not an event with data.user.id and data.course_id: %s", truncate(string(body), 200)))
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	rv.mu.Lock()
	rv.received++
	rv.byID[id]++
	switch {
	case rv.byID[id] > 1:
		rv.redelivered++ // the same message again: a receiver drops it
	case ev.Type != "enrollment.created":
		rv.others[ev.Type]++
	default:
		m := rv.byUser[ev.Data.User.ID]
		if m == nil {
			m = map[string]arrival{}
			rv.byUser[ev.Data.User.ID] = m
		}
		if prev, ok := m[ev.Data.CourseID]; ok {
			rv.dupEnrolls++
			if len(rv.firstDups) < 5 {
				rv.firstDups = append(rv.firstDups, fmt.Sprintf("user %s course %s: webhook-ids %s and %s", ev.Data.User.ID, ev.Data.CourseID, prev.id, id))
			}
		} else {
			m[ev.Data.CourseID] = arrival{at: at, id: id}
			close(rv.changed)
			rv.changed = make(chan struct{})
		}
	}
	rv.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rv *receiver) reject(err error) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.rejected++
	if len(rv.firstRejects) < 5 {
		rv.firstRejects = append(rv.firstRejects, err.Error())
	}
}

// arrivals returns the first arrival of each of courses for user, and a
// channel closed at the next new enrollment of anyone.
func (rv *receiver) arrivals(user string, courses []string) ([]time.Time, <-chan struct{}) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := make([]time.Time, len(courses))
	for i, c := range courses {
		out[i] = rv.byUser[user][c].at
	}
	return out, rv.changed
}

// verifyWebhook checks a Standard Webhooks message: webhook-timestamp
// within webhookTolerance of now, and one of the space-separated v1
// signatures equal to the base64 HMAC-SHA256 of "id.timestamp.body".
func verifyWebhook(key []byte, id, ts, sigs string, body []byte, now time.Time) error {
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > webhookTolerance || d < -webhookTolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now", d.Round(time.Second))
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		if got, err := base64.StdEncoding.DecodeString(b64); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature matches")
}
