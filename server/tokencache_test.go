package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/reqctx"
)

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	c := newTokenCache(func() time.Time { return now })
	alice := reqctx.Principal{Name: "alice", Scopes: []string{ScopeSCIMRead}}
	hash := HashTokenSecret("secret")

	if _, ok := c.get(hash); ok {
		t.Fatal("empty cache answered")
	}
	c.put(hash, alice)
	steps := []struct {
		after time.Duration
		want  bool
	}{
		{0, true},
		{tokenCacheTTL - time.Nanosecond, true},
		{tokenCacheTTL, false}, // expired: the database is asked again
	}
	start := now
	for _, s := range steps {
		now = start.Add(s.after)
		p, ok := c.get(hash)
		if ok != s.want || (ok && p.Name != "alice") {
			t.Errorf("after %v: got %v %v, want cached=%v", s.after, p, ok, s.want)
		}
	}
}

func TestTokenCacheBound(t *testing.T) {
	c := newTokenCache(time.Now)
	for i := range tokenCacheMax + 1 {
		c.put(HashTokenSecret(fmt.Sprint(i)), reqctx.Principal{Name: fmt.Sprint(i)})
	}
	if n := len(c.entries); n > tokenCacheMax {
		t.Errorf("%d entries, want at most %d", n, tokenCacheMax)
	}
	if _, ok := c.get(HashTokenSecret(fmt.Sprint(tokenCacheMax))); !ok {
		t.Error("the newest token is not cached")
	}
}
