// Package lmstest has fake LMS servers for tests: Moodle and Canvas that
// speak their real REST APIs and keep real state, and a Standard Webhooks
// receiver that verifies signatures. Like net/http/httptest, each starts on
// a loopback port and is closed by the test.
//
// Every fake can be told to misbehave ([Faults]): answer 5xx, 429 or 403
// with Retry-After, stall, or drop the connection after making the change,
// which is what a crash or a lost answer looks like from Onramp's side.
package lmstest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Fault is one misbehaviour, applied to the next matching requests.
type Fault struct {
	// Times is how many requests it applies to; 0 means until cleared.
	Times int
	// Status answers with this status instead of serving the request.
	Status int
	// Body is the answer's body with Status (default: a short text).
	Body string
	// RetryAfter, when not empty, is sent as the Retry-After header.
	RetryAfter string
	// Delay stalls the request this long first (a slow LMS; with the
	// client's timeout, a timed-out one).
	Delay time.Duration
	// DropAfterWrite serves the request, so its change takes effect, then
	// closes the connection without an answer.
	DropAfterWrite bool
}

// Faults is a queue of faults a fake applies to its requests, in order.
// The zero value has none. It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	queue  []Fault
	served int // requests that reached the real handler
}

// Add queues f after any faults already queued.
func (fs *Faults) Add(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queue = append(fs.queue, f)
}

// Clear removes every queued fault: the fake behaves again.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queue = nil
}

// Served is the number of requests that reached the real handler.
func (fs *Faults) Served() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.served
}

// next takes the fault for one request, if any.
func (fs *Faults) next() (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.queue) == 0 {
		return Fault{}, false
	}
	f := fs.queue[0]
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			fs.queue = fs.queue[1:]
		} else {
			fs.queue[0] = f
		}
	}
	return f, true
}

func (fs *Faults) countServed() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.served++
}

// Wrap applies the queued faults in front of h.
func (fs *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := fs.next()
		if !ok {
			fs.countServed()
			h.ServeHTTP(w, r)
			return
		}
		if f.Delay > 0 {
			// net/http notices a client that gave up (and cancels the
			// request's context) only once the body has been read: read it
			// now, and hand the handler a copy.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case f.DropAfterWrite:
			fs.countServed()
			h.ServeHTTP(httptest.NewRecorder(), r)
			drop(w)
		case f.Status != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			body := f.Body
			if body == "" {
				body = strconv.Itoa(f.Status) + " " + http.StatusText(f.Status)
			}
			http.Error(w, body, f.Status)
		default: // a delay alone
			fs.countServed()
			h.ServeHTTP(w, r)
		}
	})
}

// drop closes the client's connection without writing an answer.
func drop(w http.ResponseWriter) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection all the same
	}
	_ = buf.Flush()
	_ = conn.Close()
}
