package delivery

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/onramp-dev/onramp/store"
)

// DeadLetter is a sync that gave up: out of attempts, or stopped by a
// failure no retry could cure. It stays until replayed or purged.
type DeadLetter struct {
	ID            int64     `json:"id"`
	UserID        string    `json:"user_id"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	Reason        string    `json:"reason"` // "attempts" or "permanent"
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error"`
	Created       time.Time `json:"created"`
	Failed        time.Time `json:"failed"`
}

// ErrNotDead: the job named does not exist or is not a dead letter.
var ErrNotDead = errors.New("no such dead letter")

var deadStates = []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateCancelled}

// Dead lists dead letters, newest first, at most limit (1 to 1000) after
// the id afterID (0: from the newest).
func (e *Engine) Dead(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error) {
	limit = max(1, min(limit, 1000))
	params := river.NewJobListParams().Kinds(SyncArgs{}.Kind()).States(deadStates...).
		OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	if afterID > 0 {
		params = params.Where("id < @after", river.NamedArgs{"after": afterID})
	}
	res, err := e.river.JobList(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("delivery: list dead letters: %w", err)
	}
	out := make([]DeadLetter, 0, len(res.Jobs))
	for _, j := range res.Jobs {
		out = append(out, deadLetter(j))
	}
	return out, nil
}

func deadLetter(j *rivertype.JobRow) DeadLetter {
	var args SyncArgs
	_ = json.Unmarshal(j.EncodedArgs, &args) // written by Hook; a bad row still lists, by id
	d := DeadLetter{ID: j.ID, UserID: args.UserID, CorrelationID: args.CorrelationID, Attempts: j.Attempt, Created: j.CreatedAt, Reason: "attempts"}
	if j.State == rivertype.JobStateCancelled {
		d.Reason = "permanent"
	}
	if j.FinalizedAt != nil {
		d.Failed = *j.FinalizedAt
	}
	if n := len(j.Errors); n > 0 {
		d.LastError = j.Errors[n-1].Error
	}
	return d
}

// Replay runs a dead letter's sync again, with all its attempts: it queues
// a new sync of the user, under the dead letter's correlation id, and
// deletes the dead letter, in one transaction. The new sync looks at the
// user as they are now, so a replay never redoes anything already done.
func (e *Engine) Replay(ctx context.Context, id int64, ev store.Event) (DeadLetter, error) {
	var d DeadLetter
	err := e.store.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = e.deadTx(ctx, tx, id); err != nil {
			return err
		}
		args := SyncArgs{UserID: d.UserID, CorrelationID: d.CorrelationID, ChangedAt: time.Now().UTC()}
		if _, err := e.river.InsertTx(ctx, tx, args, nil); err != nil {
			return err
		}
		_, err = e.river.JobDeleteTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("delivery: replay %d: %w", id, err)
	}
	e.audit(ctx, ev, "delivery.replay", d, fmt.Sprintf("replayed dead letter %d: a new sync of user %s", d.ID, d.UserID))
	return d, nil
}

// ReplayAll replays every dead letter there is when it starts, and returns
// how many. Syncs that die again while it runs are new dead letters, left
// for the next replay: replaying them at once could go on for ever.
func (e *Engine) ReplayAll(ctx context.Context, ev store.Event) (int, error) {
	n := 0
	var after int64 // pages go down from the newest; replays only add newer ids
	for {
		page, err := e.Dead(ctx, after, 100)
		if err != nil || len(page) == 0 {
			return n, err
		}
		for _, d := range page {
			_, err := e.Replay(ctx, d.ID, ev)
			switch {
			case errors.Is(err, ErrNotDead): // replayed or purged meanwhile
			case err != nil:
				return n, err
			default:
				n++
			}
			after = d.ID
		}
	}
}

// Purge deletes a dead letter without running it.
func (e *Engine) Purge(ctx context.Context, id int64, ev store.Event) (DeadLetter, error) {
	var d DeadLetter
	err := e.store.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		if d, err = e.deadTx(ctx, tx, id); err != nil {
			return err
		}
		_, err = e.river.JobDeleteTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return d, fmt.Errorf("delivery: purge %d: %w", id, err)
	}
	e.audit(ctx, ev, "delivery.purge", d, fmt.Sprintf("purged dead letter %d (user %s): it is not run again; the user's next sync still sends what is wanted", d.ID, d.UserID))
	return d, nil
}

// deadTx reads the dead letter id in tx, or returns ErrNotDead.
func (e *Engine) deadTx(ctx context.Context, tx *sql.Tx, id int64) (DeadLetter, error) {
	j, err := e.river.JobGetTx(ctx, tx, id)
	if errors.Is(err, rivertype.ErrNotFound) || (err == nil && !isDead(j)) {
		return DeadLetter{}, fmt.Errorf("%w: %d", ErrNotDead, id)
	}
	if err != nil {
		return DeadLetter{}, err
	}
	return deadLetter(j), nil
}

func isDead(j *rivertype.JobRow) bool {
	return j.Kind == SyncArgs{}.Kind() && (j.State == rivertype.JobStateDiscarded || j.State == rivertype.JobStateCancelled)
}

// audit records an admin's action on a dead letter. The action is done
// by then; a failure to record it is logged, not returned.
func (e *Engine) audit(ctx context.Context, ev store.Event, action string, d DeadLetter, summary string) {
	ev.Action, ev.ResourceType, ev.ResourceID, ev.Summary = action, "User", d.UserID, summary
	if ev.Outcome == "" {
		ev.Outcome = store.OutcomeSuccess
	}
	if err := e.store.RecordEvent(context.WithoutCancel(ctx), ev); err != nil {
		e.log.Error("audit "+action, "err", err)
	}
}

// recoverSyncs queues a sync for every user whose delivery a crash may
// have cut short: those with a change recorded as pending, and those whose
// job is marked running. (River runs a job left running by a dead process
// again, but only after JobTimeout plus RescueAfter; this is sooner. If
// another replica is in fact running it, the extra sync is harmless.)
func (e *Engine) recoverSyncs(ctx context.Context) error {
	users, err := e.store.UsersWithPending(ctx)
	if err != nil {
		return fmt.Errorf("delivery: recover: %w", err)
	}
	running, err := e.river.JobList(ctx, river.NewJobListParams().Kinds(SyncArgs{}.Kind()).
		States(rivertype.JobStateRunning).First(10000))
	if err != nil {
		return fmt.Errorf("delivery: recover: %w", err)
	}
	// A pending change carries its own correlation id; a job cut short
	// before it recorded any is queued again with its own.
	jobs := make([]river.InsertManyParams, 0, len(users)+len(running.Jobs))
	for _, id := range users {
		jobs = append(jobs, river.InsertManyParams{Args: SyncArgs{UserID: id, ChangedAt: time.Now().UTC()}})
	}
	for _, j := range running.Jobs {
		var args SyncArgs
		if json.Unmarshal(j.EncodedArgs, &args) == nil && args.UserID != "" {
			jobs = append(jobs, river.InsertManyParams{Args: args})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	err = e.store.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := e.river.InsertManyFastTx(ctx, tx, jobs)
		return err
	})
	if err != nil {
		return fmt.Errorf("delivery: recover: %w", err)
	}
	e.log.Info("delivery: queued syncs that a stop may have interrupted", "syncs", len(jobs))
	return nil
}

// Reconcile queues a sync of every user whose enrollments may be anything
// but empty, and returns how many. It is the way to bring the LMS in line
// after changing a connector's config or restoring a backup: syncs find
// and send any difference between what the rules want and what Onramp has
// recorded as delivered.
func (e *Engine) Reconcile(ctx context.Context, ev store.Event) (int, error) {
	users, err := e.store.UsersToReconcile(ctx)
	if err != nil {
		return 0, fmt.Errorf("delivery: reconcile: %w", err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	for rest := users; len(rest) > 0; {
		n := min(len(rest), insertBatch)
		err := e.store.WithTx(ctx, func(tx *sql.Tx) error { return e.insertSyncs(ctx, tx, store.Change{UserIDs: rest[:n], Event: ev}) })
		if err != nil {
			return 0, fmt.Errorf("delivery: reconcile: %w", err)
		}
		rest = rest[n:]
	}
	ev.Action, ev.ResourceType, ev.Outcome = "delivery.reconcile", "Delivery", store.OutcomeSuccess
	ev.Summary = fmt.Sprintf("queued a sync of %d users", len(users))
	if err := e.store.RecordEvent(context.WithoutCancel(ctx), ev); err != nil {
		e.log.Error("audit delivery.reconcile", "err", err)
	}
	return len(users), nil
}
