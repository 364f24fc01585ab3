package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// Moodle and Canvas: a hire and a group add enroll the user in the fake
// LMS, creating the account once even when the answer to the create (and,
// for Canvas, to the enroll) is lost; removal from the group unenrolls
// (Canvas: concludes).
func TestDeliveryMoodleCanvas(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		var srv deliveryServer
		moodle := srv.moodle(t, "moodle")
		canvas := srv.canvas(t, "canvas")
		moodle.AddCourse(101, "SEC-101", "sec101")
		moodle.AddCourse(102, "GIT-201", "git201")
		canvas.AddCourse(2001, "CNV-SEC")
		canvas.AddCourse(2002, "")
		inst := srv.start(t, db)
		inst.apply(t, `
bundles:
  - {name: moodle-b, connector: moodle, courses: ["101", "102"], on_deactivate: suspend}
  - {name: canvas-b, connector: canvas, courses: [CNV-SEC, "2002"], on_deactivate: suspend}
rules:
  - {name: m, group: Moodlers, bundles: [moodle-b]}
  - {name: c, group: Canvassers, bundles: [canvas-b]}
`)
		mg := mustCreateGroup(t, inst, "Moodlers")
		cg := mustCreateGroup(t, inst, "Canvassers")

		t.Run("moodle", func(t *testing.T) {
			userName := uniq("mia")
			uid, ext := hire(t, inst, userName)
			// A fresh user is looked up by idnumber, email and username,
			// then created (courses given by id need no look-up): the
			// create's answer is lost after Moodle made the account.
			moodle.Faults.Add(lmstest.Fault{Times: 3, Delay: time.Nanosecond})
			moodle.Faults.Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
			corr := "e2e-moodle-" + randHex(6)
			addMembers(t, inst, mg, []string{uid}, withHeader("X-Correlation-ID", corr))
			waitFor(t, deliveryTimeout, "Moodle enrolments in 101 and 102", func() error {
				return moodleStates(moodle, ext, map[string]string{"101": lmstest.MoodleActive, "102": lmstest.MoodleActive})
			})
			if reqs := moodle.Requests(); len(reqs) < 4 || reqs[3].Function != lmstest.MoodleCreateUsers {
				t.Errorf("the dropped answer was the 4th call's, not the create's, so this test no longer loses a create;"+
					" the connector's call order changed: adjust the faults: %v", moodleFunctions(reqs))
			}
			users := moodle.Users()
			if len(users) != 1 {
				t.Fatalf("Moodle has %d users, want 1: %+v", len(users), users)
			}
			u := users[0]
			if u.IDNumber != ext || u.Email != userName+"@example.com" || u.Username != userName {
				t.Errorf("Moodle user %+v: want idnumber %s, email %s@example.com, username %s", u, ext, userName, userName)
			}
			if n := len(moodle.Enrolments()); n != 2 {
				t.Errorf("Moodle has %d enrolments, want 2: %+v", n, moodle.Enrolments())
			}
			for _, r := range moodle.Requests() {
				if r.Function == lmstest.MoodleEnrolUsers && r.Header.Get("X-Correlation-ID") != corr {
					t.Errorf("Moodle enrol call with X-Correlation-ID %q, want %q", r.Header.Get("X-Correlation-ID"), corr)
				}
			}

			setActive(t, inst, uid, false)
			waitFor(t, deliveryTimeout, "Moodle enrolments suspended", func() error {
				return moodleStates(moodle, ext, map[string]string{"101": lmstest.MoodleSuspended, "102": lmstest.MoodleSuspended})
			})
			setActive(t, inst, uid, true)
			waitFor(t, deliveryTimeout, "Moodle enrolments resumed", func() error {
				return moodleStates(moodle, ext, map[string]string{"101": lmstest.MoodleActive, "102": lmstest.MoodleActive})
			})

			removeMember(t, inst, mg, uid)
			waitFor(t, deliveryTimeout, "Moodle unenrolments", func() error {
				return moodleStates(moodle, ext, map[string]string{"101": "", "102": ""})
			})
			if n := len(moodle.Users()); n != 1 {
				t.Errorf("Moodle has %d users after the removal, want 1", n)
			}
		})

		t.Run("canvas", func(t *testing.T) {
			userName := uniq("cal")
			uid, ext := hire(t, inst, userName)
			canvas.FaultsFor(lmstest.CanvasCreateUser).Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
			canvas.FaultsFor(lmstest.CanvasEnrollUser).Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
			corr := "e2e-canvas-" + randHex(6)
			addMembers(t, inst, cg, []string{uid}, withHeader("X-Correlation-ID", corr))
			waitFor(t, deliveryTimeout, "Canvas enrollments in CNV-SEC and 2002", func() error {
				return canvasStates(canvas, ext, map[string]string{"CNV-SEC": "active", "2002": "active"})
			})
			users := canvas.Users()
			if len(users) != 1 {
				t.Fatalf("Canvas has %d users, want 1 (the create's answer was lost once): %+v", len(users), users)
			}
			if u := users[0]; u.SISUserID != ext || u.LoginID != userName {
				t.Errorf("Canvas user %+v: want SIS id %s, login %s", u, ext, userName)
			}
			if n := canvas.Count(lmstest.CanvasCreateUser); n < 1 {
				t.Errorf("Canvas create user calls: %d", n)
			}
			checkCanvasOnePerCourse(t, canvas)
			for _, r := range canvas.Requests() {
				if r.Endpoint == lmstest.CanvasEnrollUser && r.CorrelationID != corr {
					t.Errorf("Canvas enroll call with X-Correlation-ID %q, want %q", r.CorrelationID, corr)
				}
			}

			setActive(t, inst, uid, false)
			waitFor(t, deliveryTimeout, "Canvas enrollments deactivated", func() error {
				return canvasStates(canvas, ext, map[string]string{"CNV-SEC": "inactive", "2002": "inactive"})
			})
			setActive(t, inst, uid, true)
			waitFor(t, deliveryTimeout, "Canvas enrollments reactivated", func() error {
				return canvasStates(canvas, ext, map[string]string{"CNV-SEC": "active", "2002": "active"})
			})
			checkCanvasOnePerCourse(t, canvas)

			removeMember(t, inst, cg, uid)
			waitFor(t, deliveryTimeout, "Canvas enrollments concluded", func() error {
				return canvasStates(canvas, ext, map[string]string{"CNV-SEC": "completed", "2002": "completed"})
			})
			checkCanvasOnePerCourse(t, canvas)
		})
		inst.waitIdle(t, deliveryTimeout)
		if dead := deadLetters(t, inst); len(dead) > 0 {
			t.Errorf("dead letters: %v", dead)
		}
	})
}

// moodleStates checks the user's enrolment state per course ("" for none).
func moodleStates(m *lmstest.Moodle, user string, want map[string]string) error {
	for course, w := range want {
		got, _ := m.Enrolment(user, course)
		if got != w {
			return errorState("Moodle", course, got, w, m.Enrolments())
		}
	}
	return nil
}

// canvasStates checks the user's enrollment state per course ("" for none).
func canvasStates(c *lmstest.Canvas, sisUserID string, want map[string]string) error {
	for course, w := range want {
		got, _ := c.Enrollment(sisUserID, course)
		if got != w {
			return errorState("Canvas", course, got, w, c.Enrollments())
		}
	}
	return nil
}

func errorState(lms, course, got, want string, all any) error {
	return fmt.Errorf("%s course %s: state %q, want %q; all: %+v", lms, course, got, want, all)
}

// checkCanvasOnePerCourse checks that no course holds two enrollments of
// one user.
func checkCanvasOnePerCourse(t *testing.T, c *lmstest.Canvas) {
	t.Helper()
	seen := map[[2]int]int{}
	for _, e := range c.Enrollments() {
		if e.State != "deleted" {
			seen[[2]int{e.UserID, e.CourseID}]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("Canvas user %d has %d enrollments in course %d, want 1: %+v", k[0], n, k[1], c.Enrollments())
		}
	}
}

func moodleFunctions(reqs []lmstest.MoodleRequest) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Function)
	}
	return out
}

// setActive PATCHes a user's active flag as Okta does.
func setActive(t *testing.T, inst *instance, userID string, active bool) {
	t.Helper()
	mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+userID,
		patchBody(op("replace", "", map[string]any{"active": active}))), http.StatusOK, http.StatusNoContent)
}
