package server

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a request rate: Rate a second on average, up to Burst at once.
// A zero Rate means no limit.
type Limit struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// RateLimits bound how fast one caller may send requests to /scim/v2 and
// /admin/v1, so that one runaway connector cannot starve the others. Both
// are off unless configured.
type RateLimits struct {
	// PerToken applies to each token (or OIDC subject) after it is
	// verified.
	PerToken Limit `yaml:"per_token"`
	// PerAddress applies to each client IP address, before
	// authentication, so that unauthenticated floods are bounded too.
	// Behind a proxy every client has the proxy's address: set it to
	// bound the proxy as a whole, or leave it off.
	PerAddress Limit `yaml:"per_address"`
}

// Validate reports every problem at once.
func (l RateLimits) Validate() error {
	var errs []error
	for name, lim := range map[string]Limit{"per_token": l.PerToken, "per_address": l.PerAddress} {
		switch {
		case lim.Rate < 0 || math.IsNaN(lim.Rate) || math.IsInf(lim.Rate, 0):
			errs = append(errs, fmt.Errorf("rate_limits.%s.rate: %v is not a rate", name, lim.Rate))
		case lim.Rate > 0 && lim.Burst < 1:
			errs = append(errs, fmt.Errorf("rate_limits.%s.burst: must be at least 1 with a rate", name))
		}
	}
	return errors.Join(errs...)
}

// limiters keeps one token bucket per key (a token name, an address).
// Buckets idle for a while are dropped, so that a scan from many addresses
// cannot grow the map for good.
type limiters struct {
	limit Limit
	now   func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleBucket is how long an unused bucket is kept; a bucket idle that long
// is full again anyway.
const idleBucket = 10 * time.Minute

// newLimiters returns nil, no limit, for a zero rate.
func newLimiters(l Limit) *limiters {
	if l.Rate == 0 {
		return nil
	}
	return &limiters{limit: l, now: time.Now, buckets: map[string]*bucket{}}
}

// allow takes one request from key's bucket. When the bucket is empty it
// takes nothing and says how long until a request would be allowed.
func (l *limiters) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleBucket {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(l.limit.Rate), l.limit.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// tooMany answers 429 with Retry-After in whole seconds, rounded up.
func tooMany(w http.ResponseWriter, r *http.Request, fail authFailure, wait time.Duration, who string) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	fail(w, r, http.StatusTooManyRequests, "Too many requests from this "+who+"; retry after the time in Retry-After.")
}

// limitAddress bounds the request rate of each client address.
func limitAddress(l *limiters, fail authFailure, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		if ok, wait := l.allow(host); !ok {
			tooMany(w, r, fail, wait, "address")
			return
		}
		next.ServeHTTP(w, r)
	})
}
