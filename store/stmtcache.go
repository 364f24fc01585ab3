package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// stmtCacheSize bounds the prepared statements a store keeps. Filter
// queries are generated, and how many shapes of them there are is up to
// clients: past the bound, queries run unprepared, as they always did.
const stmtCacheSize = 512

// stmtPrepareTimeout bounds how long a background preparation waits for a
// connection of the pool.
const stmtPrepareTimeout = 10 * time.Second

// stmtCache holds the store's prepared statements, by query text (after
// Rebind), each prepared on the pool: database/sql prepares it again on
// every connection it runs on, once, and a transaction uses the one its
// connection already has (Tx.StmtContext).
//
// A query's first run prepares it in the background and runs unprepared:
// preparing on the pool takes a connection, and a caller inside a
// transaction already holds one, so waiting for another could deadlock a
// full pool. Statements are never evicted (a statement in use must not be
// closed under its user), except one that PostgreSQL refuses after a
// schema change, which is set aside and closed with the cache.
type stmtCache struct {
	db     *sqlx.DB
	ctx    context.Context // ends with close, so that pending preparations do
	cancel context.CancelFunc
	wg     sync.WaitGroup // pending preparations

	mu      sync.RWMutex
	m       map[string]*sqlx.Stmt // nil while being prepared
	closed  bool
	retired []*sqlx.Stmt
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &stmtCache{db: db, ctx: ctx, cancel: cancel, m: make(map[string]*sqlx.Stmt)}
}

// lookup returns the prepared statement for query, or nil when the query
// is to run unprepared this time. A miss starts preparing it, when the
// cache has room.
func (c *stmtCache) lookup(query string) *sqlx.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if c.closed || len(c.m) >= stmtCacheSize {
		return nil
	}
	c.m[query] = nil // being prepared: one preparation per query
	c.wg.Add(1)
	go c.prepare(query)
	return nil
}

// prepare prepares query on the pool and caches it. On failure (the pool
// busy past the timeout, a table not there yet) it forgets the query, to
// try again on a later run.
func (c *stmtCache) prepare(query string) {
	defer c.wg.Done()
	ctx, cancel := context.WithTimeout(c.ctx, stmtPrepareTimeout)
	defer cancel()
	st, err := c.db.PreparexContext(ctx, query)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		if err == nil {
			_ = st.Close()
		}
		return
	}
	if err != nil {
		delete(c.m, query)
		return
	}
	c.m[query] = st
}

// failed drops query's statement when err says that PostgreSQL can no
// longer use it: a migration changed the type of a column it returns. The
// statement may be in use, so it is closed only with the cache; the next
// run prepares the query afresh. It reports whether it dropped it: a
// query outside a transaction can then run again unprepared, while in a
// transaction PostgreSQL has already aborted, and the error stands.
func (c *stmtCache) failed(query string, err error) bool {
	if err == nil || !isStalePlan(err) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		c.retired = append(c.retired, st)
		delete(c.m, query)
	}
	return true
}

// retry reports whether a query that failed on a dropped statement is to
// run again unprepared: when it ran outside a transaction.
func retry(q querier, dropped bool) bool {
	_, pool := q.(*storeDB)
	return dropped && pool
}

// isStalePlan reports PostgreSQL's refusal to run a prepared statement
// whose result type a schema change altered.
func isStalePlan(err error) bool {
	return pgCode(err) == "0A000" && strings.Contains(err.Error(), "cached plan must not change result type")
}

// close stops pending preparations and closes every statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		if st != nil {
			_ = st.Close() // closed when its users are done
		}
	}
	for _, st := range c.retired {
		_ = st.Close()
	}
	c.m, c.retired = nil, nil
}

// storeTx is the transaction inTx and inReadTx hand their function: a
// *sqlx.Tx whose queries, run through the store's helpers, reuse the
// store's prepared statements.
type storeTx struct {
	*sqlx.Tx
	stmts *stmtCache
}

// storeDB is the pool, for queries outside a transaction, with the store's
// prepared statements.
type storeDB struct {
	*sqlx.DB
	stmts *stmtCache
}

// prepared returns a prepared statement for query, bound to q's
// transaction when q is one, or nil when the query is to run unprepared
// (q not the store's, or the statement not prepared yet).
func prepared(ctx context.Context, q querier, query string) (*sqlx.Stmt, *stmtCache) {
	switch q := q.(type) {
	case *storeTx:
		if st := q.stmts.lookup(query); st != nil {
			return q.StmtxContext(ctx, st), q.stmts
		}
	case *storeDB:
		if st := q.stmts.lookup(query); st != nil {
			return st, q.stmts
		}
	}
	return nil, nil
}
