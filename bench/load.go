package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// opFunc performs operation number i (0-based, unique within a run) on
// behalf of one worker and reports whether it succeeded. It must honour ctx.
type opFunc func(ctx context.Context, i int, rng *rand.Rand) error

// runSpec bounds a run in count and in time: workers start operations until
// maxOps have been claimed or duration has passed, whichever comes first.
// An operation started before the deadline is allowed to finish (its own
// request timeout bounds it), so that the deadline does not turn work in
// flight into errors.
type runSpec struct {
	workers  int
	maxOps   int
	duration time.Duration
}

// result is what a run measured. Latencies are of successful operations.
type result struct {
	ops       int           // operations attempted
	errors    int           // operations that failed
	elapsed   time.Duration // from the first start to the last finish
	latencies []time.Duration
	firstErrs []string // the first few distinct failures, for the report
	timedOut  bool     // the deadline stopped the run before maxOps
}

// ok is the number of operations that succeeded.
func (r result) ok() int { return r.ops - r.errors }

// rate is successful operations per second.
func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok()) / r.elapsed.Seconds()
}

// run executes op under spec and returns what it measured. ctx ends the
// run early (every operation in flight sees the cancellation).
func run(ctx context.Context, spec runSpec, op opFunc) result {
	if spec.workers < 1 {
		spec.workers = 1
	}
	var (
		claimed  atomic.Int64
		mu       sync.Mutex
		res      result
		wg       sync.WaitGroup
		seenErrs = map[string]bool{}
	)
	start := time.Now()
	deadline := start.Add(spec.duration)
	perWorker := make([][]time.Duration, spec.workers)
	for w := range spec.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			lat := make([]time.Duration, 0, min(spec.maxOps/spec.workers+1, 1<<20))
			var errs int
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := int(claimed.Add(1) - 1)
				if i >= spec.maxOps {
					break
				}
				t0 := time.Now()
				err := op(ctx, i, rng)
				d := time.Since(t0)
				if err != nil {
					errs++
					msg := err.Error()
					mu.Lock()
					if len(res.firstErrs) < 5 && !seenErrs[msg] {
						seenErrs[msg] = true
						res.firstErrs = append(res.firstErrs, msg)
					}
					mu.Unlock()
					continue
				}
				lat = append(lat, d)
			}
			mu.Lock()
			res.errors += errs
			mu.Unlock()
			perWorker[w] = lat
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	n := 0
	for _, l := range perWorker {
		n += len(l)
	}
	res.latencies = make([]time.Duration, 0, n)
	for _, l := range perWorker {
		res.latencies = append(res.latencies, l...)
	}
	res.ops = len(res.latencies) + res.errors
	res.timedOut = res.ops < spec.maxOps && ctx.Err() == nil
	sortDurations(res.latencies)
	return res
}

// percentile returns the q-th percentile (0 < q <= 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*q/100 + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// errStatus is an unexpected HTTP status.
type errStatus struct {
	method, path string
	status       int
	body         string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
}
