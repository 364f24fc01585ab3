package delivery

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river"

	"github.com/onramp-dev/onramp/store"
)

// FanoutArgs is a job that queues syncs for a batch of users. A change
// that affects many users (a rule on a group of 100,000) inserts one of
// these per thousand users instead of a sync per user, so its transaction
// stays short; the users were chosen in that transaction, so the batch is
// exactly who the change affected.
type FanoutArgs struct {
	UserIDs       []string  `json:"user_ids"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	ChangedAt     time.Time `json:"changed_at"`
}

// Kind names the job in River's tables.
func (FanoutArgs) Kind() string { return "sync_users" }

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	engine *Engine
}

// Work queues the batch's syncs in one short transaction. Run again after
// a failure it queues them again, which is harmless: a sync with nothing
// to do does nothing.
func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	e, a := w.engine, job.Args
	c := store.Change{UserIDs: a.UserIDs, Event: store.Event{CorrelationID: a.CorrelationID, Time: a.ChangedAt}}
	return e.store.WithTx(ctx, func(tx *sql.Tx) error { return e.insertSyncs(ctx, tx, c) })
}
