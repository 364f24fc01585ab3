package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// The LMS is down for a while (503 with Retry-After), then drops answers
// after taking the change, then is back: everything arrives, each change
// under one webhook-id, repeats byte for byte the same, and Retry-After is
// honoured.
func TestDeliveryLMSDownThenBack(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		srv := deliveryServer{tuning: deliveryTuning{MaxAttempts: 25, BackoffBase: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond}}
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: ops, connector: hooks, courses: [OPS-1, OPS-2]}
rules:
  - {name: ops, group: Ops, bundles: [ops]}
`)
		gid := mustCreateGroup(t, inst, "Ops")
		const retryAfter = 2 // seconds
		hooks.Faults.Add(lmstest.Fault{Status: http.StatusServiceUnavailable, RetryAfter: fmt.Sprint(retryAfter)})

		start := time.Now()
		const n = 10
		w := want{}
		var ids []string
		for i := range n {
			uid, _ := hire(t, inst, uniq(fmt.Sprintf("ops%d", i)))
			ids = append(ids, uid)
			w[uid] = map[string]string{"OPS-1": lmstest.StateActive, "OPS-2": lmstest.StateActive}
		}
		addMembers(t, inst, gid, ids[:n/2])
		for _, id := range ids[n/2:] {
			addMembers(t, inst, gid, []string{id})
		}
		// Every user's first attempt fails.
		const failures = `onramp_delivery_attempts_total{connector="hooks",op="enroll",outcome="retryable"}`
		waitFor(t, deliveryTimeout, "a failed attempt for each change", func() error {
			if got := inst.metrics(t)[failures]; got < 2*n {
				return fmt.Errorf("%s = %v, want at least %d", failures, got, 2*n)
			}
			return nil
		})
		if len(hooks.Deliveries()) != 0 {
			t.Fatalf("the receiver accepted deliveries while answering 503")
		}
		// Back, but the next answers are lost after the change is taken.
		hooks.Faults.Clear()
		hooks.Faults.Add(lmstest.Fault{Times: 6, DropAfterWrite: true})

		waitEnrolled(t, hooks, w, 60*time.Second)
		inst.waitIdle(t, 60*time.Second)
		checkNoDoubles(t, hooks)
		if got := len(hooks.Events()); got != 2*n {
			t.Errorf("receiver got %d distinct events, want %d", got, 2*n)
		}
		if hooks.Duplicates() == 0 {
			t.Errorf("no delivery was repeated, though 6 answers were dropped after the receiver took the change")
		}
		t.Logf("%d deliveries, %d distinct, %d repeats after dropped answers", len(hooks.Deliveries()), len(hooks.Events()), hooks.Duplicates())
		// Retry-After: no attempt after a 503 came sooner than it asked.
		for _, d := range hooks.Deliveries() {
			if d.Timestamp.Unix() < start.Unix()+retryAfter {
				t.Errorf("delivery %s was sent at %s, less than Retry-After (%ds) after the first 503 (at or after %s)",
					d.ID, d.Timestamp.Format(time.RFC3339), retryAfter, start.Format(time.RFC3339Nano))
			}
		}
		if dead := deadLetters(t, inst); len(dead) > 0 {
			t.Errorf("dead letters after the LMS came back: %v", dead)
		}
	})
}

// Dead letters: 410 Gone is permanent at once; a persistent 503 exhausts
// max_attempts. Both are listed, replayable (by id and --all-dead) and
// purgeable, and a replay delivers under the original correlation id.
func TestDeliveryDeadLetters(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		const maxAttempts = 3
		srv := deliveryServer{tuning: deliveryTuning{MaxAttempts: maxAttempts, BackoffBase: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond}}
		hooks := srv.webhook(t, "hooks")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: b, connector: hooks, courses: [C-1]}
rules:
  - {name: r, group: Staff, bundles: [b]}
`)
		gid := mustCreateGroup(t, inst, "Staff")
		if dead := deadLetters(t, inst); len(dead) != 0 {
			t.Fatalf("dead letters on a fresh server: %v", dead)
		}

		t.Run("410 Gone", func(t *testing.T) {
			hooks.Faults.Add(lmstest.Fault{Status: http.StatusGone})
			uid, _ := hire(t, inst, uniq("gone"))
			corr := "e2e-gone-" + randHex(6)
			addMembers(t, inst, gid, []string{uid}, withHeader("X-Correlation-ID", corr))
			d := waitDeadLetter(t, inst, uid, deliveryTimeout)
			checkDeadLetter(t, d, uid, corr, "permanent", 1, "410")
			if n := inst.metrics(t)[`onramp_delivery_dead_letters_total{reason="permanent"}`]; n < 1 {
				t.Errorf(`onramp_delivery_dead_letters_total{reason="permanent"} = %v, want at least 1`, n)
			}
			if len(hooks.Deliveries()) != 0 {
				t.Errorf("the receiver accepted deliveries while answering 410")
			}

			hooks.Faults.Clear()
			res := inst.mustCLI(t, "deliveries", "replay", "--all-dead")
			if !strings.Contains(res.Stdout, "1") {
				t.Errorf("deliveries replay --all-dead printed %q, want it to say 1 was replayed", res.Stdout)
			}
			waitEnrolled(t, hooks, want{uid: {"C-1": lmstest.StateActive}}, deliveryTimeout)
			if evs := eventsFor(hooks, uid); len(evs) != 1 || evs[0].CorrelationID != corr {
				t.Errorf("after replay: events %+v, want one with correlation_id %q", evs, corr)
			}
			if dead := deadLetters(t, inst); len(dead) != 0 {
				t.Errorf("dead letters after replay: %v", dead)
			}
		})

		t.Run("max attempts", func(t *testing.T) {
			hooks.Faults.Add(lmstest.Fault{Status: http.StatusServiceUnavailable})
			uid, _ := hire(t, inst, uniq("down"))
			corr := "e2e-down-" + randHex(6)
			addMembers(t, inst, gid, []string{uid}, withHeader("X-Correlation-ID", corr))
			d := waitDeadLetter(t, inst, uid, deliveryTimeout)
			checkDeadLetter(t, d, uid, corr, "attempts", maxAttempts, "503")
			if n := inst.metrics(t)[`onramp_delivery_dead_letters_total{reason="attempts"}`]; n < 1 {
				t.Errorf(`onramp_delivery_dead_letters_total{reason="attempts"} = %v, want at least 1`, n)
			}
			if n := inst.jobStates(t)["discarded"]; n != 1 {
				t.Errorf(`onramp_delivery_jobs{state="discarded"} = %d, want 1`, n)
			}
			text := inst.mustCLI(t, "deliveries", "list", "--dead")
			if !strings.Contains(text.Stdout, uid) {
				t.Errorf("deliveries list --dead does not show user %s:\n%s", uid, text.Stdout)
			}

			hooks.Faults.Clear()
			id, _ := getNum(d, "id")
			inst.mustCLI(t, "deliveries", "replay", fmt.Sprint(id))
			waitEnrolled(t, hooks, want{uid: {"C-1": lmstest.StateActive}}, deliveryTimeout)
			if evs := eventsFor(hooks, uid); len(evs) != 1 || evs[0].CorrelationID != corr {
				t.Errorf("after replay: events %+v, want one with correlation_id %q", evs, corr)
			}
			if dead := deadLetters(t, inst); len(dead) != 0 {
				t.Errorf("dead letters after replay: %v", dead)
			}
			if res := inst.cli(t, "deliveries", "replay", fmt.Sprint(id)); res.Err == nil {
				t.Errorf("replaying dead letter %d twice succeeded: %s", id, res.Stdout)
			}
		})

		t.Run("purge", func(t *testing.T) {
			hooks.Faults.Add(lmstest.Fault{Status: http.StatusGone})
			uid, _ := hire(t, inst, uniq("purged"))
			addMembers(t, inst, gid, []string{uid})
			d := waitDeadLetter(t, inst, uid, deliveryTimeout)
			hooks.Faults.Clear()
			id, _ := getNum(d, "id")
			inst.mustCLI(t, "deliveries", "purge", fmt.Sprint(id))
			if dead := deadLetters(t, inst); len(dead) != 0 {
				t.Errorf("dead letters after purge: %v", dead)
			}
			inst.waitIdle(t, deliveryTimeout)
			if evs := eventsFor(hooks, uid); len(evs) != 0 {
				t.Errorf("a purged dead letter was delivered: %+v", evs)
			}
			if countAction(auditEvents(t, inst, "--resource-id", uid), "delivery.purge") != 1 {
				t.Errorf("the purge is not in the user's audit trail")
			}
		})
		checkNoDoubles(t, hooks)
	})
}

func checkDeadLetter(t *testing.T, d map[string]any, uid, corr, reason string, attempts int, errText string) {
	t.Helper()
	if d["user_id"] != uid || d["correlation_id"] != corr || d["reason"] != reason {
		t.Errorf("dead letter %v: want user_id %s, correlation_id %s, reason %s", d, uid, corr, reason)
	}
	if n, _ := getNum(d, "attempts"); n != attempts {
		t.Errorf("dead letter attempts = %v, want %d", d["attempts"], attempts)
	}
	if n, ok := getNum(d, "id"); !ok || n <= 0 {
		t.Errorf("dead letter id = %v, want a positive number", d["id"])
	}
	if !strings.Contains(getStr(d, "last_error"), errText) {
		t.Errorf("dead letter last_error %q does not mention %s", getStr(d, "last_error"), errText)
	}
}

// A change made while the user's previous change is still on its way to
// the LMS: the user joins a group, and leaves it while the enrollment is
// in flight to a slow LMS. The LMS must end with the user not enrolled.
// A second sync of the same user that runs alongside the first one and
// makes the opposite change can overtake it: for the webhook the removal
// arrives before the enrollment; for Moodle the removal finds no account
// yet (success), then the stalled enrollment creates and enrols it.
func TestDeliveryChangeDuringDelivery(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		moodle := srv.moodle(t, "moodle")
		moodle.AddCourse(101, "SEC-101", "")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: b, connector: hooks, courses: [C-1]}
  - {name: m, connector: moodle, courses: ["101"]}
rules:
  - {name: r, group: Team, bundles: [b]}
  - {name: m, group: Crew, bundles: [m]}
`)
		// The first request each LMS gets stalls; later ones do not.
		const stall = 1500 * time.Millisecond

		t.Run("webhook", func(t *testing.T) {
			gid := mustCreateGroup(t, inst, "Team")
			uid, _ := hire(t, inst, uniq("flip"))
			inst.waitIdle(t, deliveryTimeout)
			hooks.Faults.Add(lmstest.Fault{Times: 1, Delay: stall})
			addMembers(t, inst, gid, []string{uid})
			waitRunning(t, inst)
			removeMember(t, inst, gid, uid)
			inst.waitIdle(t, deliveryTimeout)
			// Give a late repair a moment, then look.
			waitFor(t, 5*time.Second, "the receiver to hold no enrollment for the user who left", func() error {
				if got := hooks.Enrolled()[uid]; len(got) != 0 {
					return fmt.Errorf("receiver holds %v; events in arrival order: %s", got, describeEvents(hooks, uid))
				}
				return nil
			})
			checkNoDoubles(t, hooks)
		})

		t.Run("moodle", func(t *testing.T) {
			gid := mustCreateGroup(t, inst, "Crew")
			uid, ext := hire(t, inst, uniq("flop"))
			inst.waitIdle(t, deliveryTimeout)
			moodle.Faults.Add(lmstest.Fault{Times: 1, Delay: stall})
			addMembers(t, inst, gid, []string{uid})
			waitRunning(t, inst)
			removeMember(t, inst, gid, uid)
			inst.waitIdle(t, deliveryTimeout)
			waitFor(t, 5*time.Second, "Moodle to hold no enrolment for the user who left", func() error {
				if st, ok := moodle.Enrolment(ext, "101"); ok {
					return fmt.Errorf("Moodle holds an enrolment (%s); calls in order: %v", st, moodleFunctions(moodle.Requests()))
				}
				return nil
			})
		})
	})
}

// waitRunning waits until a sync job is running.
func waitRunning(t *testing.T, inst *instance) {
	t.Helper()
	waitFor(t, deliveryTimeout, "a sync running", func() error {
		if n := inst.jobStates(t)["running"]; n == 0 {
			return fmt.Errorf("no sync running")
		}
		return nil
	})
}

// describeEvents lists a user's events in arrival order with the time
// Onramp decided on each, for failure messages.
func describeEvents(r *lmstest.WebhookReceiver, userID string) string {
	var out []string
	for _, e := range eventsFor(r, userID) {
		out = append(out, fmt.Sprintf("%s %s decided %s id %s", strings.TrimPrefix(e.Type, "enrollment."), e.CourseID,
			e.EventTime.Format("15:04:05.000000"), e.ID))
	}
	return "[" + strings.Join(out, "; ") + "]"
}

// Membership that flaps faster than deliveries complete converges: after
// a burst of joins and leaves the receiver holds each user's final state.
func TestDeliveryFlapping(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		hooks := srv.webhook(t, "hooks")
		// A slow receiver, so that syncs of one user overlap.
		hooks.Faults.Add(lmstest.Fault{Delay: 30 * time.Millisecond})
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: b, connector: hooks, courses: [F-1, F-2]}
rules:
  - {name: r, group: Flappers, bundles: [b]}
`)
		gid := mustCreateGroup(t, inst, "Flappers")
		const n = 8
		var ids []string
		for i := range n {
			uid, _ := hire(t, inst, uniq(fmt.Sprintf("flap%d", i)))
			ids = append(ids, uid)
		}
		// Odd users end in the group, even ones out.
		w := want{}
		var reqs []request
		for i, uid := range ids {
			joins := 3 + i%2 // 3 joins and 3 leaves, or 4 joins and 3 leaves
			for j := range joins + 3 {
				if j%2 == 0 {
					reqs = append(reqs, request{http.MethodPatch, "/scim/v2/Groups/" + gid,
						patchBody(op("add", "members", []map[string]any{{"value": uid}})), nil})
				} else {
					reqs = append(reqs, request{http.MethodPatch, "/scim/v2/Groups/" + gid,
						patchBody(op("remove", fmt.Sprintf("members[value eq %q]", uid), nil)), nil})
				}
			}
			w[uid] = nil
			if i%2 == 1 {
				w[uid] = map[string]string{"F-1": lmstest.StateActive, "F-2": lmstest.StateActive}
			}
		}
		// One user's requests in order; users interleaved.
		for _, r := range reqs {
			rr := inst.do(t, r.method, r.path, r.body)
			mustStatus(t, rr, http.StatusOK, http.StatusNoContent)
		}
		inst.waitIdle(t, 60*time.Second)
		waitFor(t, 5*time.Second, "every user's final state at the receiver", func() error {
			if !reached(hooks, w) {
				var wrong []string
				got := hooks.Enrolled()
				for uid, courses := range w {
					if !mapsEqual(got[uid], courses) {
						wrong = append(wrong, fmt.Sprintf("%s: got %v want %v; events %s", uid, got[uid], courses, describeEvents(hooks, uid)))
					}
				}
				return fmt.Errorf("%d users wrong:\n  %s", len(wrong), strings.Join(wrong, "\n  "))
			}
			return nil
		})
		checkConsistent(t, hooks)
	})
}
