package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/mapping"
)

// Enrollment is what Onramp knows of one user's enrollment in one course
// of one connector: what the LMS holds, and the change in flight, if any.
type Enrollment struct {
	UserID    string
	Connector string
	Course    string
	// State is what the LMS is known to hold.
	State mapping.State
	// PendingOp and PendingID are a change sent, or about to be sent, and
	// not yet confirmed. A change that is pending may or may not have taken
	// effect in the LMS.
	PendingOp    mapping.Op
	PendingID    string
	PendingSince time.Time
	// Bundles that wanted the enrollment when it was last changed.
	Bundles []string
	// User is the delivery engine's snapshot of the user when it last
	// changed this enrollment: after the user is deleted it is still
	// known whom to unenroll.
	User json.RawMessage
	// Attempts and LastError describe failures of the pending change.
	Attempts      int
	LastError     string
	CorrelationID string
	LastModified  time.Time
}

// SyncInput is all that a sync of one user reads, from one snapshot.
type SyncInput struct {
	User        *User // nil when the user does not exist (any more)
	Rules       []mapping.Rule
	Bundles     []mapping.Bundle
	Enrollments []Enrollment
}

// ReadSyncInput reads what deciding userID's enrollments needs.
func (s *Store) ReadSyncInput(ctx context.Context, userID string) (*SyncInput, error) {
	in := &SyncInput{}
	err := s.inReadTx(ctx, func(tx *storeTx) error {
		u, err := loadUser(ctx, tx, userID, "")
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		in.User = u
		rules, err := listRules(ctx, tx)
		if err != nil {
			return err
		}
		for _, r := range rules {
			in.Rules = append(in.Rules, r.Rule)
		}
		bundles, err := listBundles(ctx, tx)
		if err != nil {
			return err
		}
		for _, b := range bundles {
			in.Bundles = append(in.Bundles, b.Bundle)
		}
		in.Enrollments, err = enrollmentsOf(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, opError("read sync input", err)
	}
	return in, nil
}

// Enrollments returns what is known of userID's enrollments, by connector
// and course.
func (s *Store) Enrollments(ctx context.Context, userID string) ([]Enrollment, error) {
	e, err := enrollmentsOf(ctx, s.pool, userID)
	return e, opError("list enrollments", err)
}

type enrollmentRow struct {
	UserID        string `db:"user_id"`
	Connector     string `db:"connector"`
	Course        string `db:"course_id"`
	State         string `db:"state"`
	PendingOp     string `db:"pending_op"`
	PendingID     string `db:"pending_id"`
	PendingSince  dbTime `db:"pending_since"`
	Bundles       []byte `db:"bundles"`
	User          []byte `db:"user_data"`
	Attempts      int    `db:"attempts"`
	LastError     string `db:"last_error"`
	CorrelationID string `db:"correlation_id"`
	LastModified  dbTime `db:"last_modified"`
}

func enrollmentsOf(ctx context.Context, q querier, userID string) ([]Enrollment, error) {
	if !validText(userID) {
		return nil, nil
	}
	var rows []enrollmentRow
	err := selectAll(ctx, q, &rows, `SELECT user_id, connector, course_id, state, pending_op, pending_id,
		pending_since, bundles, user_data, attempts, last_error, correlation_id, last_modified
		FROM enrollments WHERE user_id = ? ORDER BY connector, course_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("read enrollments: %w", err)
	}
	out := make([]Enrollment, len(rows))
	for i, r := range rows {
		e := Enrollment{
			UserID: r.UserID, Connector: r.Connector, Course: r.Course, State: mapping.State(r.State),
			PendingOp: mapping.Op(r.PendingOp), PendingID: r.PendingID, PendingSince: r.PendingSince.Time,
			User: json.RawMessage(r.User), Attempts: r.Attempts, LastError: r.LastError,
			CorrelationID: r.CorrelationID, LastModified: r.LastModified.Time,
		}
		if err := json.Unmarshal(r.Bundles, &e.Bundles); err != nil {
			return nil, fmt.Errorf("enrollment %s/%s: bundles: %w", r.Connector, r.Course, err)
		}
		out[i] = e
	}
	return out, nil
}

// Intent is a change about to be sent to an LMS.
type Intent struct {
	Connector string
	Course    string
	Op        mapping.Op
	ID        string // the change's id, stable across retries
	// ExpectID is the pending id the caller read ("" for none): the intent
	// is recorded only if that is still the enrollment's, so that two
	// syncs of one user never send one change under two ids.
	ExpectID      string
	Bundles       []string
	User          json.RawMessage
	CorrelationID string
	// Since is when the change was decided (PendingSince).
	Since time.Time
}

// RecordIntents marks changes as pending for userID before they are sent,
// all or none. If another sync has changed one of the enrollments since
// the caller read it, nothing is recorded and the error is
// [ErrVersionMismatch]: read again and decide again.
func (s *Store) RecordIntents(ctx context.Context, userID string, intents []Intent) error {
	if len(intents) == 0 {
		return nil
	}
	now := s.d.timeArg(s.now())
	err := s.inTx(ctx, func(tx *storeTx) error {
		for _, in := range intents {
			if err := recordIntent(ctx, tx, userID, in, s.d.timeArg(in.Since), now); err != nil {
				return err
			}
		}
		return nil
	})
	return opError("record intents", err)
}

func recordIntent(ctx context.Context, tx *storeTx, userID string, in Intent, since, now any) error {
	bundles, err := json.Marshal(in.Bundles)
	if err != nil {
		return err
	}
	user := string(in.User)
	if user == "" {
		user = "{}"
	}

	n, err := exec(ctx, tx, `UPDATE enrollments SET pending_op = ?, pending_id = ?, pending_since = ?,
		bundles = ?, user_data = ?, attempts = 0, last_error = '', correlation_id = ?, last_modified = ?
		WHERE user_id = ? AND connector = ? AND course_id = ? AND pending_id = ?`,
		string(in.Op), in.ID, since, string(bundles), user, indexedText(in.CorrelationID), now,
		userID, in.Connector, in.Course, in.ExpectID)
	if err != nil {
		return fmt.Errorf("record intent: %w", err)
	}
	if n == 1 {
		return nil
	}
	if in.ExpectID == "" {
		n, err = exec(ctx, tx, `INSERT INTO enrollments (user_id, connector, course_id, pending_op, pending_id,
			pending_since, bundles, user_data, correlation_id, last_modified)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			userID, in.Connector, in.Course, string(in.Op), in.ID, since, string(bundles), user,
			indexedText(in.CorrelationID), now)
		if err != nil {
			return fmt.Errorf("record intent: %w", err)
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: enrollment %s/%s of user %q is being changed by another sync", ErrVersionMismatch, in.Connector, in.Course, userID)
	}
	return nil
}

// Outcome is the result of sending a pending change.
type Outcome struct {
	Connector string
	Course    string
	ID        string // the pending change's id
	Op        mapping.Op
	// Err is why the change failed; "" when the LMS confirmed it.
	Err string
	// Refused, with Err, says the LMS refused the change for good (an
	// unknown course, 410 Gone): it did not take effect, so it is no
	// longer pending, and the enrollment keeps its known state. The next
	// sync decides afresh.
	Refused bool
	// Event is the audit record of the attempt.
	Event Event
}

// RecordOutcomes records what became of changes sent for userID, with
// their audit events, in one transaction. A success sets the state the
// change leads to (a removal deletes the row); a failure counts an attempt
// and keeps the change pending, unless it was refused for good. An outcome whose change is no longer the
// pending one (a newer sync replaced it) updates nothing but is audited.
func (s *Store) RecordOutcomes(ctx context.Context, userID string, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	now := s.d.timeArg(s.now())
	err := s.inTx(ctx, func(tx *storeTx) error {
		for _, o := range outcomes {
			if err := recordOutcome(ctx, tx, userID, o, now); err != nil {
				return err
			}
			if err := s.insertEvent(ctx, tx, s.stamp(o.Event, "User", userID)); err != nil {
				return err
			}
		}
		return nil
	})
	return opError("record outcomes", err)
}

func recordOutcome(ctx context.Context, tx *storeTx, userID string, o Outcome, now any) error {
	key := []any{userID, o.Connector, o.Course, o.ID}
	const where = ` WHERE user_id = ? AND connector = ? AND course_id = ? AND pending_id = ?`
	var err error
	switch {
	case o.Err != "" && o.Refused:
		_, err = exec(ctx, tx, `UPDATE enrollments SET pending_op = '', pending_id = '', pending_since = NULL,
			attempts = attempts + 1, last_error = ?, last_modified = ?`+where, append([]any{cleanText(o.Err), now}, key...)...)
	case o.Err != "":
		_, err = exec(ctx, tx, `UPDATE enrollments SET attempts = attempts + 1, last_error = ?, last_modified = ?`+where,
			append([]any{cleanText(o.Err), now}, key...)...)
	case o.Op == mapping.OpUnenroll:
		_, err = exec(ctx, tx, `DELETE FROM enrollments`+where, key...)
	default:
		state := mapping.Active
		if o.Op == mapping.OpSuspend {
			state = mapping.Suspended
		}
		_, err = exec(ctx, tx, `UPDATE enrollments SET state = ?, pending_op = '', pending_id = '', pending_since = NULL,
			attempts = 0, last_error = '', last_modified = ?`+where, append([]any{string(state), now}, key...)...)
	}
	if err != nil {
		return fmt.Errorf("record outcome: %w", err)
	}
	return nil
}

// UsersWithPending returns the users with a change recorded as pending:
// after a crash, the users whose sync may have stopped half way.
func (s *Store) UsersWithPending(ctx context.Context) ([]string, error) {
	var ids []string
	err := selectAll(ctx, s.pool, &ids, `SELECT DISTINCT user_id FROM enrollments WHERE pending_op <> '' ORDER BY user_id`)
	if err != nil {
		return nil, fmt.Errorf("store: users with pending changes: %w", err)
	}
	return ids, nil
}

// UsersToReconcile returns every user whose enrollments may be anything
// but empty: members of a group some rule matches, and users with an
// enrollment recorded (deleted users included). A sync of each brings the
// whole installation in line with its rules.
func (s *Store) UsersToReconcile(ctx context.Context) ([]string, error) {
	var ids []string
	err := selectAll(ctx, s.pool, &ids, `SELECT gm.user_id FROM group_members gm
		JOIN groups g ON g.id = gm.group_id
		WHERE EXISTS (SELECT 1 FROM rules r WHERE r.group_id = g.id OR r.group_key = g.display_name_key)
		UNION SELECT user_id FROM enrollments ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("store: users to reconcile: %w", err)
	}
	return ids, nil
}
