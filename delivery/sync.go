package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// SyncArgs is the job that brings one user's enrollments in line with
// what their groups want.
type SyncArgs struct {
	UserID string `json:"user_id"`
	// CorrelationID is the id of the request whose change queued the job.
	CorrelationID string `json:"correlation_id,omitempty"`
	// ChangedAt is when that change was committed: the start of the
	// hire-to-enrollment latency.
	ChangedAt time.Time `json:"changed_at"`
}

// Kind names the job in River's tables.
func (SyncArgs) Kind() string { return "sync_user" }

// syncWorker runs SyncArgs jobs.
type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	engine *Engine
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	return w.engine.sync(ctx, job)
}

// NextRetry honours a Retry-After the LMS sent; otherwise (zero) River
// applies the engine's backoff.
func (w *syncWorker) NextRetry(job *river.Job[SyncArgs]) time.Time {
	return w.engine.hints.take(job.ID)
}

// maxPlanTries bounds how often a sync re-reads after losing a race with
// another sync of the same user.
const maxPlanTries = 3

// sync runs one job: decide, record the intents, send, record the outcomes.
func (e *Engine) sync(ctx context.Context, job *river.Job[SyncArgs]) error {
	args := job.Args
	unlock, ok, err := e.locks.tryLock(ctx, args.UserID, job.ID)
	if err != nil {
		return err
	}
	if !ok { // another sync of this user runs: decide after it
		return river.JobSnooze(e.snooze())
	}
	defer unlock()
	var sends []send
	for try := 1; ; try++ {
		in, err := e.store.ReadSyncInput(ctx, args.UserID)
		if err != nil {
			return err
		}
		var intents []store.Intent
		intents, sends = plan(args, in, time.Now())
		if wait := e.pauses.remaining(connectorsOf(sends)); wait > 0 {
			return river.JobSnooze(wait) // an LMS asked to be left alone
		}
		err = e.store.RecordIntents(ctx, args.UserID, intents)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrVersionMismatch) || try == maxPlanTries {
			return err
		}
	}
	if len(sends) == 0 {
		return nil
	}
	outcomes, failures := e.sendAll(ctx, job, sends)
	if err := e.store.RecordOutcomes(context.WithoutCancel(ctx), args.UserID, outcomes); err != nil {
		return err
	}
	return e.verdict(ctx, job, failures)
}

// snooze is how long a sync waits for another sync of its user: a little
// longer than a poll, with jitter, so that waiting syncs do not come back
// all at once.
func (e *Engine) snooze() time.Duration {
	d := max(2*e.cfg.PollInterval, 100*time.Millisecond)
	return d + rand.N(d)
}

// send is one change to make, with everything the connector needs.
type send struct {
	key           mapping.Key
	op            mapping.Op
	id            string
	user          lms.User
	bundles       []string
	correlationID string
	since         time.Time
}

// plan decides what to send for one user. A change already pending (sent
// before, its outcome unknown) counts as done for deciding; if that leaves
// nothing to do it is sent again under its own id, otherwise the change
// from it to what is wanted gets a new id.
func plan(args SyncArgs, in *store.SyncInput, now time.Time) ([]store.Intent, []send) {
	desired := mapping.Desired(subjectOf(in.User), in.Rules, in.Bundles)
	rows := make(map[mapping.Key]store.Enrollment, len(in.Enrollments))
	assumed := make(map[mapping.Key]mapping.State, len(in.Enrollments))
	for _, e := range in.Enrollments {
		k := mapping.Key{Connector: e.Connector, Course: e.Course}
		rows[k] = e
		assumed[k] = e.State
		if e.PendingOp != "" {
			assumed[k] = target(e.PendingOp)
		}
	}
	now = now.UTC().Truncate(time.Microsecond) // as stored, so a resend carries the same time
	var (
		intents []store.Intent
		sends   []send
		acted   = map[mapping.Key]bool{}
	)
	for _, a := range mapping.Plan(desired, assumed) {
		acted[a.Key] = true
		row := rows[a.Key]
		s := send{
			key: a.Key, op: a.Op, id: uuid.NewString(), user: userFor(in.User, row),
			bundles: bundlesOf(a.Reasons, row), correlationID: args.CorrelationID, since: now,
		}
		intents = append(intents, store.Intent{
			Connector: a.Key.Connector, Course: a.Key.Course, Op: a.Op, ID: s.id, ExpectID: row.PendingID,
			Bundles: s.bundles, User: marshalUser(s.user), CorrelationID: s.correlationID, Since: now,
		})
		sends = append(sends, s)
	}
	for k, row := range rows {
		// Plan left k alone, so the state the pending change leads to is
		// acceptable (wanted, or a suspension of nothing): make sure of it.
		if row.PendingOp == "" || acted[k] {
			continue
		}
		sends = append(sends, send{
			key: k, op: row.PendingOp, id: row.PendingID, user: resendUser(in.User, row),
			bundles: row.Bundles, correlationID: row.CorrelationID, since: row.PendingSince,
		})
	}
	return intents, sends
}

// connectorsOf lists the connectors sends call.
func connectorsOf(sends []send) []string {
	out := make([]string, len(sends))
	for i, s := range sends {
		out[i] = s.key.Connector
	}
	return out
}

// target is the state a change leads to.
func target(op mapping.Op) mapping.State {
	switch op {
	case mapping.OpEnroll:
		return mapping.Active
	case mapping.OpSuspend:
		return mapping.Suspended
	}
	return mapping.Absent
}

// bundlesOf names the bundles behind a change: those wanting it, or for a
// removal those that wanted it.
func bundlesOf(reasons []mapping.Reason, row store.Enrollment) []string {
	if len(reasons) == 0 {
		return row.Bundles
	}
	var out []string
	for _, r := range reasons {
		if len(out) == 0 || out[len(out)-1] != r.Bundle {
			out = append(out, r.Bundle)
		}
	}
	return out
}

func marshalUser(u lms.User) json.RawMessage {
	b, _ := json.Marshal(u) // strings only: cannot fail
	return b
}

// sendAll sends each change and returns its outcome and the failures.
func (e *Engine) sendAll(ctx context.Context, job *river.Job[SyncArgs], sends []send) ([]store.Outcome, []error) {
	var (
		outcomes []store.Outcome
		failures []error
	)
	for _, s := range sends {
		err := e.deliver(ctx, s)
		e.metrics.attempt(s, err, job.Args.ChangedAt)
		if ra := lms.RetryAfter(err); ra > 0 {
			e.pauses.pause(s.key.Connector, ra)
		}
		outcome := store.Outcome{Connector: s.key.Connector, Course: s.key.Course, ID: s.id, Op: s.op, Event: e.event(job, s, err)}
		if err != nil {
			outcome.Err, outcome.Refused = err.Error(), lms.IsPermanent(err)
			failures = append(failures, err)
		}
		outcomes = append(outcomes, outcome)
	}
	return outcomes, failures
}

func (e *Engine) deliver(ctx context.Context, s send) error {
	c, ok := e.connectors[s.key.Connector]
	if !ok {
		return &lms.Error{Op: "connector " + s.key.Connector, Permanent: true,
			Err: errors.New("no connector of that name is configured; add it to the config file and replay")}
	}
	bundle := ""
	if len(s.bundles) > 0 {
		bundle = s.bundles[0]
	}
	return c.Deliver(ctx, lms.Delivery{
		ID: s.id, Op: lms.Op(s.op), User: s.user, Course: s.key.Course, Bundle: bundle,
		CorrelationID: s.correlationID, Time: s.since,
	})
}

// verdict turns a sync's failures into what River should do: nothing
// (success), retry later, or give up now when no failure can be cured by
// retrying.
func (e *Engine) verdict(ctx context.Context, job *river.Job[SyncArgs], failures []error) error {
	if len(failures) == 0 {
		return nil
	}
	err := fmt.Errorf("%d of the user's changes failed: %w", len(failures), errors.Join(failures...))
	permanent := true
	var wait time.Duration
	for _, f := range failures {
		permanent = permanent && lms.IsPermanent(f)
		wait = max(wait, lms.RetryAfter(f))
	}
	if permanent {
		e.gaveUp(ctx, job, "permanent", fmt.Sprintf("no retry can cure it (attempt %d)", job.Attempt), err)
		return river.JobCancel(err)
	}
	if job.Attempt >= job.MaxAttempts {
		e.gaveUp(ctx, job, "attempts", fmt.Sprintf("after %d attempts", job.Attempt), err)
		return err
	}
	if wait > 0 {
		next := backoff{base: e.cfg.BackoffBase, max: e.cfg.BackoffMax}.delay(job.Attempt)
		e.hints.put(job.ID, time.Now().Add(max(wait, next)))
	}
	return err
}

// gaveUp counts and audits a sync becoming a dead letter.
func (e *Engine) gaveUp(ctx context.Context, job *river.Job[SyncArgs], reason, when string, err error) {
	e.metrics.dead.WithLabelValues(reason).Inc()
	ev := store.Event{
		CorrelationID: job.Args.CorrelationID, Actor: "onramp/delivery", Action: "delivery.dead",
		ResourceType: "User", ResourceID: job.Args.UserID, Outcome: store.OutcomeFailure,
		Summary: fmt.Sprintf("gave up syncing user %s %s; dead letter %d, replay with: onramp deliveries replay %d: %v",
			job.Args.UserID, when, job.ID, job.ID, err),
	}
	if err := e.store.RecordEvent(context.WithoutCancel(ctx), ev); err != nil {
		e.log.Error("audit delivery.dead", "err", err)
	}
	e.log.Warn("sync became a dead letter", "job", job.ID, "user_id", job.Args.UserID, "reason", reason, "correlation_id", job.Args.CorrelationID)
}
