package delivery

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/onramp-dev/onramp/store"
)

// userLocks lets one sync of a user run at a time. Two syncs of one user
// running together could each decide from the state before the other's
// change, and send opposite changes, or one change twice, in an order the
// LMS cannot untangle. A sync that finds its user locked snoozes and runs
// again shortly, then decides from the state as the other left it.
//
// Within a process a map does it. Across PostgreSQL replicas each sync
// also takes a lease row (store.AcquireSyncLease), which expires on its
// own if its replica dies. SQLite is served by one process, so the map is
// enough there and costs no write.
type userLocks struct {
	mu   sync.Mutex
	held map[string]bool

	st       *store.Store // nil: no lease (SQLite)
	instance string       // this engine's part of lease holder names
	ttl      time.Duration
}

func newUserLocks(st *store.Store, ttl time.Duration) *userLocks {
	l := &userLocks{held: map[string]bool{}, instance: uuid.NewString(), ttl: ttl}
	if st.Dialect() == "postgres" {
		l.st = st
	}
	return l
}

// tryLock takes userID's lock for job jobID. ok is false when another
// sync holds it; otherwise unlock must be called when the sync ends.
func (l *userLocks) tryLock(ctx context.Context, userID string, jobID int64) (unlock func(), ok bool, err error) {
	l.mu.Lock()
	if l.held[userID] {
		l.mu.Unlock()
		return nil, false, nil
	}
	l.held[userID] = true
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		delete(l.held, userID)
		l.mu.Unlock()
	}
	if l.st == nil {
		return release, true, nil
	}
	holder := l.instance + ":" + strconv.FormatInt(jobID, 10)
	ok, err = l.st.AcquireSyncLease(ctx, userID, holder, l.ttl)
	if err != nil || !ok {
		release()
		return nil, false, err
	}
	return func() {
		// Released even when the job's context has ended; a failure
		// leaves the lease to expire.
		_ = l.st.ReleaseSyncLease(context.WithoutCancel(ctx), userID, holder)
		release()
	}, true, nil
}
