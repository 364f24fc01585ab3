package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// A hire, then a group add: exactly the bundle's enrollments arrive, signed,
// about the right user, under the group request's correlation id, and the
// audit trail ties the request to them.
func TestDeliveryHireThenGroupAdd(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - name: eng-onboarding
    connector: hooks
    courses: [SEC-101, GIT-201]
    description: Engineering onboarding
    on_deactivate: unenroll
rules:
  - name: engineers
    group: Engineering
    bundles: [eng-onboarding]
`)
		userName := uniq("ada")
		hireCorr := "e2e-hire-" + randHex(6)
		uid, ext := hire(t, inst, userName, withHeader("X-Correlation-ID", hireCorr))
		// The rule names "Engineering"; the group matches case-insensitively.
		gid := mustCreateGroup(t, inst, "engineering")

		groupCorr := "e2e-group-add-" + randHex(6)
		r := addMembers(t, inst, gid, []string{uid}, withHeader("X-Correlation-ID", groupCorr))
		if got := r.Header.Get("X-Correlation-ID"); got != groupCorr {
			t.Errorf("group PATCH answered X-Correlation-ID %q, want %q", got, groupCorr)
		}
		waitEnrolled(t, hooks, want{uid: {"SEC-101": lmstest.StateActive, "GIT-201": lmstest.StateActive}}, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)

		evs := hooks.Events()
		if len(evs) != 2 {
			t.Fatalf("receiver got %d distinct events, want 2 (one per course): %+v", len(evs), evs)
		}
		var courses []string
		for _, e := range evs {
			courses = append(courses, e.CourseID)
			if e.Type != "enrollment.created" {
				t.Errorf("event %s type %q, want enrollment.created", e.ID, e.Type)
			}
			if e.Bundle != "eng-onboarding" {
				t.Errorf("event %s bundle %q, want eng-onboarding", e.ID, e.Bundle)
			}
			wantUser := lmstest.WebhookUser{ID: uid, UserName: userName, ExternalID: ext,
				Email: userName + "@example.com", DisplayName: "Display " + userName}
			if e.User != wantUser {
				t.Errorf("event %s user %+v, want %+v", e.ID, e.User, wantUser)
			}
			if e.CorrelationID != groupCorr {
				t.Errorf("event %s correlation_id %q, want the group request's %q", e.ID, e.CorrelationID, groupCorr)
			}
			if got := e.Header.Get("X-Correlation-ID"); got != groupCorr {
				t.Errorf("event %s sent with X-Correlation-ID %q, want %q", e.ID, got, groupCorr)
			}
			if e.Header.Get("webhook-signature") == "" || !strings.HasPrefix(e.Header.Get("webhook-signature"), "v1,") {
				t.Errorf("event %s webhook-signature %q, want v1,<base64>", e.ID, e.Header.Get("webhook-signature"))
			}
		}
		slices.Sort(courses)
		if want := []string{"GIT-201", "SEC-101"}; !slices.Equal(courses, want) {
			t.Errorf("courses %v, want %v", courses, want)
		}
		if evs[0].ID == evs[1].ID {
			t.Errorf("both events carry webhook-id %s", evs[0].ID)
		}
		checkNoDoubles(t, hooks)

		// The hire alone (no group yet) caused no delivery.
		for _, ev := range auditEvents(t, inst, "--correlation-id", hireCorr) {
			if strings.HasPrefix(getStr(ev, "action"), "enrollment.") {
				t.Errorf("the hire without a group caused %v", ev)
			}
		}

		t.Run("audit by correlation id", func(t *testing.T) {
			var evs []map[string]any
			waitFor(t, 10*time.Second, "the enrollment audit events", func() error {
				evs = auditEvents(t, inst, "--correlation-id", groupCorr)
				if countAction(evs, "enrollment.enroll") < 2 {
					return fmt.Errorf("events: %v", evs)
				}
				return nil
			})
			if n := countAction(evs, "group.patch"); n != 1 {
				t.Errorf("audit --correlation-id %s: %d group.patch events, want 1: %v", groupCorr, n, evs)
			}
			if n := countAction(evs, "enrollment.enroll"); n != 2 {
				t.Errorf("audit --correlation-id %s: %d enrollment.enroll events, want 2: %v", groupCorr, n, evs)
			}
			var summaries []string
			for _, ev := range evs {
				if getStr(ev, "action") != "enrollment.enroll" {
					continue
				}
				summaries = append(summaries, getStr(ev, "summary"))
				for k, want := range map[string]any{"actor": "onramp/delivery", "resource_id": uid, "outcome": "success", "correlation_id": groupCorr} {
					if ev[k] != want {
						t.Errorf("enrollment event %s = %v, want %v (event %v)", k, ev[k], want, ev)
					}
				}
			}
			joined := strings.Join(summaries, "\n")
			for _, c := range []string{"SEC-101", "GIT-201"} {
				if !strings.Contains(joined, c) {
					t.Errorf("no enrollment audit event names course %s: %q", c, joined)
				}
			}
		})

		t.Run("metrics", func(t *testing.T) {
			m := inst.metrics(t)
			if n := m[`onramp_delivery_attempts_total{connector="hooks",op="enroll",outcome="success"}`]; n != 2 {
				t.Errorf(`onramp_delivery_attempts_total{connector="hooks",op="enroll",outcome="success"} = %v, want 2`, n)
			}
			if n := m[`onramp_hire_to_enrollment_seconds_count{connector="hooks",op="enroll"}`]; n != 2 {
				t.Errorf(`onramp_hire_to_enrollment_seconds_count{connector="hooks",op="enroll"} = %v, want 2`, n)
			}
			if _, ok := m[`onramp_delivery_jobs{state="completed"}`]; !ok {
				t.Errorf(`/metrics has no onramp_delivery_jobs{state="completed"}`)
			}
		})

		t.Run("group in no rule", func(t *testing.T) {
			// Joining a group no rule names delivers nothing.
			before := len(hooks.Deliveries())
			other := mustCreateGroup(t, inst, uniq("Book Club"))
			addMembers(t, inst, other, []string{uid})
			inst.waitIdle(t, deliveryTimeout)
			if n := len(hooks.Deliveries()); n != before {
				t.Errorf("joining a group no rule names sent %d deliveries: %+v", n-before, hooks.Deliveries()[before:])
			}
		})
	})
}

func countAction(evs []map[string]any, action string) int {
	n := 0
	for _, ev := range evs {
		if getStr(ev, "action") == action {
			n++
		}
	}
	return n
}

// Group removal unenrolls; deactivation (as Okta and as Entra send it)
// unenrolls, suspends or keeps per bundle policy; reactivation restores;
// deleting the user removes everything.
func TestDeliveryLifecycle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: b-unenroll, connector: hooks, courses: [U-1], on_deactivate: unenroll}
  - {name: b-suspend, connector: hooks, courses: [S-1], on_deactivate: suspend}
  - {name: b-keep, connector: hooks, courses: [K-1], on_deactivate: keep}
rules:
  - {name: sales, group: Sales, bundles: [b-unenroll, b-suspend, b-keep]}
`)
		okta, _ := hire(t, inst, uniq("okta"))
		entra, _ := hire(t, inst, uniq("entra"))
		gone, _ := hire(t, inst, uniq("gone"))
		gid := mustCreateGroup(t, inst, "Sales")
		addMembers(t, inst, gid, []string{okta, entra, gone})

		all := map[string]string{"U-1": lmstest.StateActive, "S-1": lmstest.StateActive, "K-1": lmstest.StateActive}
		waitEnrolled(t, hooks, want{okta: all, entra: all, gone: all}, deliveryTimeout)

		// Deleting an active user removes every enrollment.
		mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+gone, nil), http.StatusNoContent)
		waitEnrolled(t, hooks, want{gone: nil}, deliveryTimeout)

		deactivated := map[string]string{"S-1": lmstest.StateSuspended, "K-1": lmstest.StateActive}
		// Okta: replace with a value object, no path.
		mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+okta,
			patchBody(op("replace", "", map[string]any{"active": false}))), http.StatusOK, http.StatusNoContent)
		// Entra: capitalised op, a path and a string boolean.
		mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+entra,
			patchBody(op("Replace", "active", "False"))), http.StatusOK, http.StatusNoContent)
		waitEnrolled(t, hooks, want{okta: deactivated, entra: deactivated}, deliveryTimeout)

		// Reactivation (Okta) enrolls again and resumes the suspended one.
		mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+okta,
			patchBody(op("replace", "", map[string]any{"active": true}))), http.StatusOK, http.StatusNoContent)
		waitEnrolled(t, hooks, want{okta: all}, deliveryTimeout)

		// Leaving the group removes every enrollment, kept ones included.
		removeMember(t, inst, gid, okta)
		// Deleting the deactivated user removes its suspended and kept ones.
		mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+entra, nil), http.StatusNoContent)
		waitEnrolled(t, hooks, want{okta: nil, entra: nil}, deliveryTimeout)
		inst.waitIdle(t, deliveryTimeout)

		for _, tc := range []struct {
			user, course string
			want         []string
		}{
			{okta, "U-1", []string{"created", "removed", "created", "removed"}},
			{okta, "S-1", []string{"created", "suspended", "created", "removed"}},
			{okta, "K-1", []string{"created", "removed"}},
			{entra, "U-1", []string{"created", "removed"}},
			{entra, "S-1", []string{"created", "suspended", "removed"}},
			{entra, "K-1", []string{"created", "removed"}},
			{gone, "U-1", []string{"created", "removed"}},
			{gone, "S-1", []string{"created", "removed"}},
			{gone, "K-1", []string{"created", "removed"}},
		} {
			if got := typesFor(hooks, tc.user, tc.course); !slices.Equal(got, tc.want) {
				who := map[string]string{okta: "okta", entra: "entra", gone: "deleted"}[tc.user]
				t.Errorf("%s user, course %s: events %v, want %v", who, tc.course, got, tc.want)
			}
		}
		// The audit trail names each kind of change.
		var actions []string
		for _, ev := range auditEvents(t, inst, "--resource-id", entra) {
			if a := getStr(ev, "action"); strings.HasPrefix(a, "enrollment.") {
				actions = append(actions, a)
				if ev["actor"] != "onramp/delivery" || ev["outcome"] != "success" {
					t.Errorf("audit event %v: want actor onramp/delivery, outcome success", ev)
				}
			}
		}
		slices.Sort(actions)
		wantActions := []string{"enrollment.enroll", "enrollment.enroll", "enrollment.enroll", "enrollment.suspend",
			"enrollment.unenroll", "enrollment.unenroll", "enrollment.unenroll"}
		if !slices.Equal(actions, wantActions) {
			t.Errorf("audit --resource-id <entra user>: enrollment actions %v, want %v", actions, wantActions)
		}
		// The deleted user's removals still say who they were.
		for _, e := range eventsFor(hooks, entra) {
			if e.User.UserName == "" || e.User.Email == "" {
				t.Errorf("event %s %s about the deleted user lacks userName or email: %+v", e.Type, e.CourseID, e.User)
			}
		}
		checkConsistent(t, hooks)
		for _, e := range hooks.Events() {
			if e.Type == "enrollment.suspended" && e.Bundle != "b-suspend" {
				t.Errorf("suspension of %s names bundle %q, want b-suspend", e.CourseID, e.Bundle)
			}
		}
	})
}
