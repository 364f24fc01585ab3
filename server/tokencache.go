package server

import (
	"sync"
	"time"

	"github.com/onramp-dev/onramp/reqctx"
)

// tokenCacheTTL bounds how long a verified token is trusted without asking
// the database again, and so how long a revoked token keeps working on a
// running server (revocation happens in another process, `onramp token
// revoke`, which cannot reach this cache). Every request would otherwise
// cost a database lookup: about a tenth of the CPU of a GET.
const tokenCacheTTL = 2 * time.Second

// tokenCacheMax bounds the cache. Only tokens that verified are cached, so
// its size is the number of live tokens in use, not what clients send.
const tokenCacheMax = 1024

// tokenCache remembers verified tokens by hash for tokenCacheTTL.
type tokenCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]cachedToken
}

type cachedToken struct {
	principal reqctx.Principal
	expires   time.Time
}

func newTokenCache(now func() time.Time) *tokenCache {
	return &tokenCache{now: now, entries: make(map[string]cachedToken)}
}

// get returns the principal cached for hash, if it has not expired.
func (c *tokenCache) get(hash []byte) (reqctx.Principal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok || !c.now().Before(e.expires) {
		return reqctx.Principal{}, false
	}
	return e.principal, true
}

// put caches p for hash. A full cache is emptied rather than managed:
// reaching the bound means over a thousand distinct tokens within two
// seconds, and each costs only one lookup to come back.
func (c *tokenCache) put(hash []byte, p reqctx.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= tokenCacheMax {
		clear(c.entries)
	}
	c.entries[string(hash)] = cachedToken{principal: p, expires: c.now().Add(tokenCacheTTL)}
}
