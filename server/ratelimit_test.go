package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store/storetest"
)

func TestRateLimits(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t) // limits are the same on every database
	t.Run("per token", func(t *testing.T) {
		b := newAdminBench(t, st, server.Config{RateLimits: server.RateLimits{PerToken: server.Limit{Rate: 0.01, Burst: 2}}})
		for range 2 {
			b.call(t, "GET", "/admin/v1/bundles", b.admin, "").want(t, http.StatusOK)
		}
		b.call(t, "GET", "/admin/v1/bundles", b.admin, "").problem(t, http.StatusTooManyRequests)
		if after, err := strconv.Atoi(b.call(t, "GET", "/admin/v1/rules", b.admin, "").want(t, http.StatusTooManyRequests).header.Get("Retry-After")); err != nil || after < 1 {
			t.Errorf("Retry-After %d, %v; want whole seconds, at least 1", after, err)
		}
		// Another token has its own bucket.
		b.call(t, "GET", "/admin/v1/bundles", b.reader, "").want(t, http.StatusOK)
	})
	t.Run("per address", func(t *testing.T) {
		b := newAdminBench(t, st, server.Config{RateLimits: server.RateLimits{PerAddress: server.Limit{Rate: 0.01, Burst: 3}}})
		b.call(t, "GET", "/scim/v2/Users", "", "").want(t, http.StatusUnauthorized) // counted before authentication
		b.call(t, "GET", "/scim/v2/Users", b.scim, "").want(t, http.StatusOK)
		b.call(t, "GET", "/admin/v1/bundles", b.reader, "").want(t, http.StatusOK)
		r := b.call(t, "GET", "/scim/v2/Users", b.scim, "").want(t, http.StatusTooManyRequests)
		if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
			t.Errorf("a refused SCIM request answered %s, want a SCIM error", ct)
		}
		b.call(t, "GET", "/admin/v1/bundles", b.reader, "").problem(t, http.StatusTooManyRequests)
		b.call(t, "GET", "/healthz", "", "").want(t, http.StatusOK) // health is never limited
	})
	t.Run("bad limits", func(t *testing.T) {
		if _, err := server.New(server.Config{Store: st, RateLimits: server.RateLimits{PerToken: server.Limit{Rate: 5}}}); err == nil {
			t.Error("a rate without a burst was accepted")
		}
	})
}
