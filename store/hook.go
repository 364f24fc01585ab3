package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
)

// Change tells the delivery engine that some users' desired enrollments
// may have changed. It is made inside the transaction of the write that
// caused it, so the two commit or roll back together.
type Change struct {
	// UserIDs are the users to look at again, without duplicates. A user
	// may be listed whose enrollments turn out not to change: delivery is
	// level-triggered, so looking again is always harmless.
	UserIDs []string
	// Event is the audit event of the write: its correlation id and time
	// follow the change into the jobs it causes.
	Event Event
}

// ChangeHook is called by every write that can change a user's desired
// enrollments, inside its transaction, with that transaction. It must only
// write through tx (a job insert) and return quickly; an error rolls the
// write back.
type ChangeHook func(ctx context.Context, tx *sql.Tx, c Change) error

// hookBox lets the hook be set after [Open], when the delivery engine that
// owns it exists, without a data race against writes already running.
type hookBox struct{ p atomic.Pointer[ChangeHook] }

// SetChangeHook makes h the store's change hook; nil removes it. Set it
// before serving: writes made before see no hook and queue no job.
func (s *Store) SetChangeHook(h ChangeHook) {
	if h == nil {
		s.hook.p.Store(nil)
		return
	}
	s.hook.p.Store(&h)
}

// changed calls the hook, if any, for userIDs.
func (s *Store) changed(ctx context.Context, tx *storeTx, userIDs []string, ev Event) error {
	if len(userIDs) == 0 {
		return nil
	}
	return s.notify(ctx, tx, Change{UserIDs: uniqueSorted(userIDs), Event: ev})
}

// notify calls the hook, if any, with c.
func (s *Store) notify(ctx context.Context, tx *storeTx, c Change) error {
	h := s.hook.p.Load()
	if h == nil {
		return nil
	}
	if err := (*h)(ctx, tx.Tx.Tx, c); err != nil {
		return fmt.Errorf("queue delivery: %w", err)
	}
	return nil
}

// WithTx runs fn in a write transaction and commits when fn returns nil.
// On SQLite it waits its turn behind the store's own writers rather than
// contend for the database lock. It is for the delivery engine's job
// inserts, which River makes with the transaction it is given.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, func(tx *storeTx) error { return fn(tx.Tx.Tx) })
}

// lockMapping orders group writes against bundle and rule writes on
// databases with concurrent writers. A group write decides from the rules
// it reads whether its members need a sync; a rule write decides from the
// members it reads whose enrollments it changed. Without the lock, each
// could miss the other's uncommitted change and a user would never be
// synced. Group writes take it shared (they do not wait for each other);
// bundle and rule writes exclusive.
func (s *Store) lockMapping(ctx context.Context, tx *storeTx, exclusive bool) error {
	q := s.d.mappingLock(exclusive)
	if q == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("lock mapping: %w", err)
	}
	return nil
}

// groupMatched reports whether a rule matches the group id under any of
// displayNames (a group being renamed matters under both names).
func groupMatched(ctx context.Context, q querier, id string, displayNames ...string) (bool, error) {
	b := &sqlBuf{}
	b.sql("SELECT count(*) FROM rules WHERE group_id = ")
	b.arg(id)
	for _, n := range displayNames {
		b.sql(" OR group_key = ")
		b.arg(foldKey(n))
	}
	var n int
	if err := get(ctx, q, &n, b.String(), b.args...); err != nil {
		return false, fmt.Errorf("match rules: %w", err)
	}
	return n > 0, nil
}

// membersChanged tells the hook about users whose membership of the group
// id (known by displayNames) changed, when a rule matches the group: a
// group no rule names changes nobody's enrollments.
func (s *Store) membersChanged(ctx context.Context, tx *storeTx, id string, displayNames, userIDs []string, ev Event) error {
	if s.hook.p.Load() == nil || len(userIDs) == 0 {
		return nil
	}
	matched, err := groupMatched(ctx, tx, id, displayNames...)
	if err != nil || !matched {
		return err
	}
	return s.changed(ctx, tx, userIDs, ev)
}

// affected is who an update of a group changes, as known before the
// update is made.
type affected struct {
	matched bool     // a rule matches the group, under its old or new name
	ids     []string // added and removed members, when neither flag below is set
	renamed bool     // every member before and after is affected
	replace bool     // those in only one of before and after are affected
	before  []string // the members before, when renamed or replace
}

// affectedMembers reads what an update of the group id needs to know to
// tell, afterwards, whom it changed. It reads nothing when no hook is set,
// and no member when no rule matches the group: nobody's enrollments can
// change then.
func (s *Store) affectedMembers(ctx context.Context, tx *storeTx, id, oldName, newName string, c MemberChanges) (affected, error) {
	if s.hook.p.Load() == nil {
		return affected{}, nil
	}
	matched, err := groupMatched(ctx, tx, id, oldName, newName)
	if err != nil || !matched {
		return affected{}, err
	}
	a := affected{
		matched: true,
		ids:     append(append([]string(nil), c.Add...), c.Remove...),
		renamed: foldKey(oldName) != foldKey(newName),
		replace: c.Replace,
	}
	if a.renamed || a.replace {
		a.before, err = memberIDs(ctx, tx, id)
	}
	return a, err
}

// groupChanged tells the hook about the users an update of the group id
// changed, once the update is made. Replacing the members with the same
// ones (an IdP pushing a group with PUT) changes nobody.
func (s *Store) groupChanged(ctx context.Context, tx *storeTx, id string, a affected, ev Event) error {
	if !a.matched {
		return nil
	}
	ids := a.ids
	if a.renamed || a.replace {
		after, err := memberIDs(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.renamed {
			ids = append(a.before, after...)
		} else {
			ids = symmetricDifference(a.before, after)
		}
	}
	return s.changed(ctx, tx, validIDs(ids), ev)
}

// symmetricDifference returns the elements in exactly one of a and b.
func symmetricDifference(a, b []string) []string {
	inA := make(map[string]bool, len(a))
	for _, x := range a {
		inA[x] = true
	}
	var out []string
	for _, x := range b {
		if inA[x] {
			delete(inA, x)
		} else {
			out = append(out, x)
		}
	}
	for x := range inA {
		out = append(out, x)
	}
	return out
}

// memberIDs returns the ids of the group's members.
func memberIDs(ctx context.Context, q querier, groupID string) ([]string, error) {
	var ids []string
	if err := selectAll(ctx, q, &ids, `SELECT user_id FROM group_members WHERE group_id = ?`, groupID); err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	return ids, nil
}
