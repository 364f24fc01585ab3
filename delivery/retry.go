package delivery

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// backoff is the engine's retry policy: base·2^(attempt-1), at most max,
// plus up to a fifth of that again at random.
type backoff struct{ base, max time.Duration }

func (b backoff) delay(attempt int) time.Duration {
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d + rand.N(d/5+1)
}

// NextRetry implements river.ClientRetryPolicy.
func (b backoff) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(b.delay(job.Attempt))
}

// retryHints carries a Retry-After from a failed Work to River's NextRetry
// call for the same job, which follows it in the same process but sees
// only the job, not its error.
type retryHints struct {
	mu sync.Mutex
	at map[int64]time.Time
}

func newRetryHints() *retryHints { return &retryHints{at: map[int64]time.Time{}} }

func (h *retryHints) put(jobID int64, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at[jobID] = at
}

// take returns and forgets the hint for jobID; zero when there is none.
func (h *retryHints) take(jobID int64) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	at := h.at[jobID]
	delete(h.at, jobID)
	return at
}

// pauses holds the connectors that asked, with Retry-After, to be left
// alone for a while. The wait is the LMS's, not one job's: every sync that
// would call a paused connector waits it out (it snoozes, which costs no
// attempt), whichever change queued it. Each process keeps its own; the
// failed job's own retry time (retryHints, through NextRetry) is what
// River stores, so another replica that picks it up waits too.
type pauses struct {
	mu    sync.Mutex
	until map[string]time.Time
}

func newPauses() *pauses { return &pauses{until: map[string]time.Time{}} }

// pause leaves connector alone for d from now, or longer if already asked.
func (p *pauses) pause(connector string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t := time.Now().Add(d); t.After(p.until[connector]) {
		p.until[connector] = t
	}
}

// remaining is how long the longest pause of connectors still runs; 0
// when none is paused.
func (p *pauses) remaining(connectors []string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var d time.Duration
	for _, c := range connectors {
		d = max(d, time.Until(p.until[c]))
	}
	return d
}
