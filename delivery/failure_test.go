package delivery_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/lms/lmstest"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// hire makes a user a member of the group "Engineering", which a rule maps
// to a bundle of courses in connector hooks, and returns the user.
func (b *bundle) hire(t *testing.T, name string, courses ...string) *store.User {
	t.Helper()
	ctx := context.Background()
	// The bundle and rule affect nobody yet: without the hook they queue
	// no fan-out job that could race the group write below.
	b.st.SetChangeHook(nil)
	if _, _, err := b.st.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: courses}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.st.PutRule(ctx, mapping.Rule{Name: "engineers", Group: "Engineering", Bundles: []string{"eng"}}, store.Event{}); err != nil {
		t.Fatal(err)
	}
	b.st.SetChangeHook(b.eng.Hook)
	u := &store.User{Attributes: map[string]any{"userName": name}}
	if err := b.st.CreateUser(ctx, u, store.Event{}); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{Attributes: map[string]any{"displayName": "Engineering"}, Members: []store.Member{{Value: u.ID}}}
	if err := b.st.CreateGroup(ctx, g, store.Event{CorrelationID: "hire-" + name}); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setup(t, st)
		b.rcv.Faults.Add(lmstest.Fault{Times: 1, Status: 503, RetryAfter: "1"})
		u := b.hire(t, "erin", "SEC-101")
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 1 }, 20*time.Second)
		waitEnrollments(t, st, u.ID, 1)
		evs, err := st.ListEvents(context.Background(), store.AuditQuery{ResourceID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		var failedAt, succeededAt time.Time
		for _, ev := range evs {
			switch {
			case ev.Action == "enrollment.enroll" && ev.Outcome == store.OutcomeFailure:
				failedAt = ev.Time
			case ev.Action == "enrollment.enroll" && ev.Outcome == store.OutcomeSuccess:
				succeededAt = ev.Time
			}
		}
		if failedAt.IsZero() || succeededAt.IsZero() {
			t.Fatalf("audit trail lacks the failed and the successful attempt: %+v", evs)
		}
		// The backoff alone is 10ms; Retry-After asked for a second.
		if gap := succeededAt.Sub(failedAt); gap < 900*time.Millisecond {
			t.Errorf("retried %s after a 503 with Retry-After: 1", gap)
		}
	})
}

func TestPermanentFailureIsADeadLetterUntilReplayed(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setup(t, st)
		b.rcv.Faults.Add(lmstest.Fault{Status: 410})
		u := b.hire(t, "frank", "SEC-101")
		dead := waitDead(t, b.eng, 1)
		if d := dead[0]; d.UserID != u.ID || d.Reason != "permanent" || d.CorrelationID != "hire-frank" || d.LastError == "" {
			t.Errorf("dead letter = %+v; want user %s, reason permanent, correlation id hire-frank and the error", d, u.ID)
		}
		evs, err := st.ListEvents(context.Background(), store.AuditQuery{CorrelationID: "hire-frank"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(evs, func(ev store.Event) bool { return ev.Action == "delivery.dead" && ev.ResourceID == u.ID }) {
			t.Errorf("no delivery.dead audit event under the hire's correlation id: %+v", evs)
		}
		b.rcv.Faults.Clear()
		if _, err := b.eng.Replay(context.Background(), dead[0].ID, store.Event{Actor: "tester"}); err != nil {
			t.Fatal(err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 1 }, 20*time.Second)
		waitDead(t, b.eng, 0)
		if ev := b.rcv.Events()[0]; ev.CorrelationID != "hire-frank" {
			t.Errorf("replayed delivery carries correlation id %q, want the original hire-frank", ev.CorrelationID)
		}
		if _, err := b.eng.Replay(context.Background(), dead[0].ID, store.Event{}); err == nil {
			t.Error("replaying a dead letter twice succeeded")
		}
	})
}

func TestAttemptsRunOut(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setupWith(t, st, delivery.Config{MaxAttempts: 3}, nil)
		b.rcv.Faults.Add(lmstest.Fault{Status: 503})
		u := b.hire(t, "gina", "SEC-101")
		dead := waitDead(t, b.eng, 1)
		if d := dead[0]; d.Reason != "attempts" || d.Attempts != 3 {
			t.Errorf("dead letter = %+v; want reason attempts after 3", d)
		}
		es, err := st.Enrollments(context.Background(), u.ID)
		if err != nil || len(es) != 1 || es[0].Attempts != 3 || es[0].PendingOp != mapping.OpEnroll {
			t.Fatalf("enrollment after the attempts ran out = %+v, %v; want still pending, 3 attempts", es, err)
		}
		if _, err := b.eng.Purge(context.Background(), dead[0].ID, store.Event{}); err != nil {
			t.Fatal(err)
		}
		waitDead(t, b.eng, 0)
	})
}

// TestPendingChangeIsResentUnderItsID covers a crash between the call to
// the LMS and the commit of its outcome: the change is still pending at
// start, and the engine sends it again under the same id.
func TestPendingChangeIsResentUnderItsID(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var u *store.User
		b := setupWith(t, st, delivery.Config{}, func(b *bundle) {
			if _, _, err := st.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"SEC-101"}}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.PutRule(ctx, mapping.Rule{Name: "r", Group: "Engineering", Bundles: []string{"eng"}}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			st.SetChangeHook(nil) // as if the job had run and died: no job left
			u = &store.User{Attributes: map[string]any{"userName": "hank"}}
			if err := st.CreateUser(ctx, u, store.Event{}); err != nil {
				t.Fatal(err)
			}
			g := &store.Group{Attributes: map[string]any{"displayName": "Engineering"}, Members: []store.Member{{Value: u.ID}}}
			if err := st.CreateGroup(ctx, g, store.Event{}); err != nil {
				t.Fatal(err)
			}
			err := st.RecordIntents(ctx, u.ID, []store.Intent{{Connector: "hooks", Course: "SEC-101", Op: mapping.OpEnroll,
				ID: "msg_crashed", CorrelationID: "before-crash", Since: time.Now()}})
			if err != nil {
				t.Fatal(err)
			}
			st.SetChangeHook(b.eng.Hook)
		})
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 1 }, 20*time.Second)
		waitEnrollments(t, st, u.ID, 1)
		evs := b.rcv.Events()
		if len(evs) != 1 || evs[0].ID != "msg_crashed" || evs[0].CorrelationID != "before-crash" {
			t.Errorf("after restart the receiver got %+v; want the pending change under its id msg_crashed", evs)
		}
	})
}

func TestDeletedUserIsUnenrolled(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		b := setup(t, st)
		u := b.hire(t, "ivy", "SEC-101", "GIT-201")
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 2 }, 20*time.Second)
		if err := st.DeleteUser(context.Background(), u.ID, store.Event{CorrelationID: "offboard"}); err != nil {
			t.Fatal(err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 0 }, 20*time.Second)
		for _, ev := range b.rcv.Events() {
			if ev.Type == "enrollment.removed" && (ev.User.UserName != "ivy" || ev.CorrelationID != "offboard") {
				t.Errorf("removal %+v: want the deleted user's userName and the delete's correlation id", ev)
			}
		}
		waitEnrollments(t, st, u.ID, 0)
	})
}

func waitDead(t *testing.T, eng *delivery.Engine, n int) []delivery.DeadLetter {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		dead, err := eng.Dead(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) == n {
			return dead
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d dead letters, want %d: %+v", len(dead), n, dead)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReconcileRepairsWhatWasLost(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var u *store.User
		b := setupWith(t, st, delivery.Config{}, func(b *bundle) {
			st.SetChangeHook(nil) // writes made while no engine listened: no jobs
			if _, _, err := st.PutBundle(ctx, mapping.Bundle{Name: "eng", Connector: "hooks", Courses: []string{"SEC-101"}}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.PutRule(ctx, mapping.Rule{Name: "r", Group: "Engineering", Bundles: []string{"eng"}}, store.Event{}); err != nil {
				t.Fatal(err)
			}
			u = &store.User{Attributes: map[string]any{"userName": "jack"}}
			if err := st.CreateUser(ctx, u, store.Event{}); err != nil {
				t.Fatal(err)
			}
			g := &store.Group{Attributes: map[string]any{"displayName": "Engineering"}, Members: []store.Member{{Value: u.ID}}}
			if err := st.CreateGroup(ctx, g, store.Event{}); err != nil {
				t.Fatal(err)
			}
			st.SetChangeHook(b.eng.Hook)
		})
		n, err := b.eng.Reconcile(ctx, store.Event{CorrelationID: "reconcile-1"})
		if err != nil || n != 1 {
			t.Fatalf("Reconcile = %d, %v; want 1 user", n, err)
		}
		b.rcv.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return len(r.Enrolled()[u.ID]) == 1 }, 20*time.Second)
		if ev := b.rcv.Events()[0]; ev.CorrelationID != "reconcile-1" {
			t.Errorf("correlation id %q, want reconcile-1", ev.CorrelationID)
		}
	})
}
