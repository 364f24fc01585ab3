package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// A bundle edit re-syncs exactly the users it affects: the members of the
// groups whose rules name the bundle get the new course; nobody else is
// synced, let alone sent anything.
func TestDeliveryBundleEdit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		const mapping = `
bundles:
  - {name: eng, connector: hooks, courses: [%s]}
  - {name: sales, connector: hooks, courses: [S-1]}
rules:
  - {name: engineers, group: Engineering, bundles: [eng]}
  - {name: sellers, group: Sales, bundles: [sales]}
`
		inst.apply(t, strings.Replace(mapping, "%s", "E-1", 1))
		e1, _ := hire(t, inst, uniq("eng1"))
		e2, _ := hire(t, inst, uniq("eng2"))
		s1, _ := hire(t, inst, uniq("sales1"))
		n1, _ := hire(t, inst, uniq("nobody"))
		mustCreateGroup(t, inst, "Engineering", e1, e2)
		mustCreateGroup(t, inst, "Sales", s1)
		mustCreateGroup(t, inst, uniq("Book Club"), n1, e1, s1)

		active := lmstest.StateActive
		waitEnrolled(t, hooks, want{e1: {"E-1": active}, e2: {"E-1": active}, s1: {"S-1": active}, n1: nil}, deliveryTimeout)
		before := inst.waitIdle(t, deliveryTimeout)
		eventsBefore := len(hooks.Events())

		// Apply the same file: nothing changes, nothing is queued.
		res := inst.apply(t, strings.Replace(mapping, "%s", "E-1", 1))
		if !strings.Contains(res.Stdout, "no changes") {
			t.Errorf("applying the same file again printed %q, want \"no changes\"", res.Stdout)
		}

		res = inst.apply(t, strings.Replace(mapping, "%s", "E-1, E-2", 1))
		if !strings.Contains(res.Stdout, "update bundle eng") || strings.Contains(res.Stdout, "sales") {
			t.Errorf("apply printed %q, want only \"update bundle eng\"", res.Stdout)
		}
		waitEnrolled(t, hooks, want{e1: {"E-1": active, "E-2": active}, e2: {"E-1": active, "E-2": active}}, deliveryTimeout)
		after := inst.waitIdle(t, deliveryTimeout)

		evs := hooks.Events()[eventsBefore:]
		if len(evs) != 2 {
			t.Errorf("the bundle edit sent %d events, want 2 (E-2 for each engineer): %+v", len(evs), evs)
		}
		for _, e := range evs {
			if (e.User.ID != e1 && e.User.ID != e2) || e.CourseID != "E-2" || e.Type != "enrollment.created" || e.Bundle != "eng" {
				t.Errorf("unexpected event after the bundle edit: %s %s %s bundle %s", e.User.ID, e.Type, e.CourseID, e.Bundle)
			}
			if e.CorrelationID == "" {
				t.Errorf("event %s after apply has no correlation_id", e.ID)
			}
		}
		// Only the two engineers were synced.
		if got := after["completed"] - before["completed"]; got != 2 {
			t.Errorf("the bundle edit ran %d sync jobs, want 2 (the members of Engineering); jobs before %v, after %v",
				got, before, after)
		}
		checkNoDoubles(t, hooks)
	})
}

// Group changes other than membership: renaming a group into or out of a
// rule's displayName, and deleting the group, change its members'
// enrollments; pruning a rule and its bundle with `apply --prune` too.
func TestDeliveryGroupRenameDeletePrune(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		const both = `
bundles:
  - {name: eng, connector: hooks, courses: [E-1]}
  - {name: ops, connector: hooks, courses: [O-1]}
rules:
  - {name: engineers, group: Engineering, bundles: [eng]}
  - {name: operators, group: Operations, bundles: [ops]}
`
		inst.apply(t, both)
		u1, _ := hire(t, inst, uniq("ren1"))
		u2, _ := hire(t, inst, uniq("ren2"))
		o1, _ := hire(t, inst, uniq("ops1"))
		gid := mustCreateGroup(t, inst, "Eng Team", u1, u2)
		mustCreateGroup(t, inst, "Operations", o1)
		active := lmstest.StateActive
		waitEnrolled(t, hooks, want{o1: {"O-1": active}}, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)
		if evs := append(eventsFor(hooks, u1), eventsFor(hooks, u2)...); len(evs) != 0 {
			t.Fatalf("members of a group no rule names got events: %+v", evs)
		}

		t.Run("rename into a rule", func(t *testing.T) {
			mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid,
				patchBody(op("replace", "displayName", "ENGINEERING"))), http.StatusOK, http.StatusNoContent)
			waitEnrolled(t, hooks, want{u1: {"E-1": active}, u2: {"E-1": active}}, deliveryTimeout)
		})
		t.Run("rename out of it", func(t *testing.T) {
			mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid,
				patchBody(op("replace", "", map[string]any{"displayName": "Former Engineering"}))), http.StatusOK, http.StatusNoContent)
			waitEnrolled(t, hooks, want{u1: nil, u2: nil}, deliveryTimeout)
		})
		t.Run("delete the group", func(t *testing.T) {
			mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid,
				patchBody(op("replace", "displayName", "Engineering"))), http.StatusOK, http.StatusNoContent)
			waitEnrolled(t, hooks, want{u1: {"E-1": active}, u2: {"E-1": active}}, deliveryTimeout)
			mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Groups/"+gid, nil), http.StatusNoContent)
			waitEnrolled(t, hooks, want{u1: nil, u2: nil}, deliveryTimeout)
		})
		t.Run("prune", func(t *testing.T) {
			res := inst.apply(t, `
bundles:
  - {name: eng, connector: hooks, courses: [E-1]}
rules:
  - {name: engineers, group: Engineering, bundles: [eng]}
`, "--prune")
			for _, line := range []string{"delete rule operators", "delete bundle ops"} {
				if !strings.Contains(res.Stdout, line) {
					t.Errorf("apply --prune printed %q, want a line %q", res.Stdout, line)
				}
			}
			waitEnrolled(t, hooks, want{o1: nil}, deliveryTimeout)
			if got := typesFor(hooks, o1, "O-1"); len(got) != 2 || got[1] != "removed" {
				t.Errorf("events for the pruned bundle's course: %v, want [created removed]", got)
			}
			for _, e := range eventsFor(hooks, o1) {
				if e.Type == "enrollment.removed" && e.Bundle != "ops" {
					t.Errorf("removal names bundle %q, want the pruned bundle ops", e.Bundle)
				}
			}
		})
		inst.waitIdle(t, deliveryTimeout)
		checkConsistent(t, hooks)
		for _, c := range []struct{ user, course string }{{u1, "E-1"}, {u2, "E-1"}} {
			if got := typesFor(hooks, c.user, c.course); !slices.Equal(got, []string{"created", "removed", "created", "removed"}) {
				t.Errorf("events for %s %s: %v, want [created removed created removed]", c.user, c.course, got)
			}
		}
	})
}

// Overlapping rules: a course wanted by two groups stays while the user is
// in either; joining a second group that wants the same bundle sends
// nothing; a rule by group id works like one by name.
func TestDeliveryOverlappingGroups(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		uid, _ := hire(t, inst, uniq("both"))
		ga := mustCreateGroup(t, inst, "Alpha")
		gb := mustCreateGroup(t, inst, "Beta")
		gc := mustCreateGroup(t, inst, uniq("Gamma"))
		inst.apply(t, `
bundles:
  - {name: a, connector: hooks, courses: [X-1, X-2]}
  - {name: b, connector: hooks, courses: [X-2]}
rules:
  - {name: alpha, group: alpha, bundles: [a]}
  - {name: beta, group: Beta, bundles: [b]}
  - {name: gamma, group_id: "`+gc+`", bundles: [a]}
`)
		active := lmstest.StateActive
		addMembers(t, inst, ga, []string{uid})
		waitEnrolled(t, hooks, want{uid: {"X-1": active, "X-2": active}}, deliveryTimeout)
		// One change at a time: overlapping syncs of one user are
		// TestDeliveryQuickSuccessiveChanges's subject.
		addMembers(t, inst, gb, []string{uid})
		inst.waitIdle(t, deliveryTimeout)
		addMembers(t, inst, gc, []string{uid})
		inst.waitIdle(t, deliveryTimeout)
		if n := len(hooks.Events()); n != 2 {
			t.Errorf("joining more groups that want the same courses sent events: %+v", hooks.Events()[2:])
		}
		removeMember(t, inst, ga, uid)
		inst.waitIdle(t, deliveryTimeout)
		if got := typesFor(hooks, uid, "X-1"); !slices.Equal(got, []string{"created"}) {
			t.Errorf("X-1, still wanted by the rule on Gamma's id: events %v, want [created]", got)
		}
		removeMember(t, inst, gc, uid)
		waitEnrolled(t, hooks, want{uid: {"X-2": active}}, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)
		if got := typesFor(hooks, uid, "X-2"); !slices.Equal(got, []string{"created"}) {
			t.Errorf("X-2, still wanted by Beta: events %v, want [created]", got)
		}
		removeMember(t, inst, gb, uid)
		waitEnrolled(t, hooks, want{uid: nil}, deliveryTimeout)
		for _, e := range eventsFor(hooks, uid) {
			if e.Type == "enrollment.removed" && e.CourseID == "X-2" && e.Bundle != "b" && e.Bundle != "a" {
				t.Errorf("removal of X-2 names bundle %q", e.Bundle)
			}
		}
		checkNoDoubles(t, hooks)
	})
}

// Two changes in quick succession for many users, each queueing a sync:
// the first leaves their enrollments alone (another group still wants the
// course), the second removes them. Every removal must be sent under one
// webhook-id: two syncs of one user that overlap must not each decide on
// (and send) the same change under ids of their own.
func TestDeliveryQuickSuccessiveChanges(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: a, connector: hooks, courses: [Q-1]}
rules:
  - {name: alpha, group: Alpha, bundles: [a]}
  - {name: gamma, group: Gamma, bundles: [a]}
`)
		const n = 40
		var ids []string
		w := want{}
		for i := range n {
			uid, _ := hire(t, inst, uniq(fmt.Sprintf("quick%d", i)))
			ids = append(ids, uid)
			w[uid] = map[string]string{"Q-1": lmstest.StateActive}
		}
		alpha := mustCreateGroup(t, inst, "Alpha", ids...)
		gamma := mustCreateGroup(t, inst, "Gamma", ids...)
		waitEnrolled(t, hooks, w, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)

		// Each user's two syncs are queued one after the other, so that
		// workers fetch them together.
		for _, uid := range ids {
			removeMember(t, inst, alpha, uid)
			removeMember(t, inst, gamma, uid)
			w[uid] = nil
		}
		waitEnrolled(t, hooks, w, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)
		checkNoDoubles(t, hooks)
		if got := len(hooks.Events()); got != 2*n {
			t.Errorf("receiver got %d distinct events, want %d (one enrollment and one removal per user)", got, 2*n)
		}
		for k, c := range distinctIDs(hooks) {
			if c > 1 {
				logEnrollmentAudit(t, inst, k.user)
				break
			}
		}
	})
}

// logEnrollmentAudit logs a user's enrollment audit events, oldest first,
// as evidence when a test fails.
func logEnrollmentAudit(t *testing.T, inst *instance, userID string) {
	t.Helper()
	evs := auditEvents(t, inst, "--resource-id", userID)
	slices.Reverse(evs)
	var lines []string
	for _, ev := range evs {
		if strings.HasPrefix(getStr(ev, "action"), "enrollment.") {
			lines = append(lines, fmt.Sprintf("%s %s correlation %s: %s", getStr(ev, "time"), getStr(ev, "action"),
				getStr(ev, "correlation_id"), getStr(ev, "summary")))
		}
	}
	t.Logf("user %s, enrollment audit events, oldest first:\n  %s", userID, strings.Join(lines, "\n  "))
}
