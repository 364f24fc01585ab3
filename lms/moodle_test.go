package lms_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/lms/lmstest"
)

// moodleToken is long and distinctive, so finding it in an error string
// cannot be a coincidence.
const moodleToken = "mdl-4b1d2c7e-wstoken-DO-NOT-LEAK"

// The -update flag may also be registered by another test file of this
// binary; share it rather than panic on a second definition.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func moodleUpdating() bool { return flag.Lookup("update").Value.String() == "true" }

type moodleBundle struct {
	fake *lmstest.Moodle
	conn lms.Connector
}

// setupMoodle starts a fake Moodle with two courses: 7 (shortname SEC-101,
// idnumber sec101-2026) and 8 (shortname GIT-201, no idnumber).
func setupMoodle(t *testing.T) *moodleBundle {
	t.Helper()
	fake := lmstest.NewMoodle(t, moodleToken)
	fake.AddCourse(7, "SEC-101", "sec101-2026")
	fake.AddCourse(8, "GIT-201", "")
	return &moodleBundle{fake: fake, conn: newMoodleConnector(t, moodleSpec(fake.URL), moodleToken)}
}

func moodleSpec(url string) lms.Spec {
	return lms.Spec{Name: "moodle", Type: "moodle", URL: url, TokenEnv: "MOODLE_TOKEN", Timeout: 5 * time.Second}
}

func newMoodleConnector(t *testing.T, spec lms.Spec, token string) lms.Connector {
	t.Helper()
	conn, err := lms.New(spec, lms.Deps{Env: moodleEnv(token)})
	if err != nil {
		t.Fatalf("lms.New: %v", err)
	}
	return conn
}

func moodleEnv(token string) lms.Env {
	return func(name string) (string, bool) {
		if name == "MOODLE_TOKEN" && token != "" {
			return token, true
		}
		return "", false
	}
}

// moodleJane is the user most tests deliver: externalId E100, a mixed-case
// userName (Moodle usernames are lower-case).
func moodleJane() lms.User {
	return lms.User{ID: "scim-1", UserName: "Jane.Doe", ExternalID: "E100", Email: "jane.doe@example.com",
		DisplayName: "Jane Doe", GivenName: "Jane", FamilyName: "Doe"}
}

func moodleDelivery(op lms.Op, course string, u lms.User) lms.Delivery {
	return lms.Delivery{ID: "dlv-1", Op: op, User: u, Course: course, Bundle: "onboarding",
		CorrelationID: "corr-moodle-1", Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (b *moodleBundle) deliver(t *testing.T, op lms.Op, course string, u lms.User) {
	t.Helper()
	if err := b.conn.Deliver(t.Context(), moodleDelivery(op, course, u)); err != nil {
		t.Fatalf("Deliver(%s, %s): %v", op, course, err)
	}
}

func wantMoodleEnrolment(t *testing.T, fake *lmstest.Moodle, user, course, want string) {
	t.Helper()
	got, ok := fake.Enrolment(user, course)
	switch {
	case want == "" && ok:
		t.Errorf("enrolment of %s in %s: %q, want none", user, course, got)
	case want != "" && got != want:
		t.Errorf("enrolment of %s in %s: %q (exists %v), want %q", user, course, got, ok, want)
	}
}

func wantMoodleCalls(t *testing.T, fake *lmstest.Moodle, want map[string]int) {
	t.Helper()
	for fn, n := range want {
		if got := fake.Calls(fn); got != n {
			t.Errorf("%s: %d calls, want %d", fn, got, n)
		}
	}
}

func wantMoodleUsers(t *testing.T, fake *lmstest.Moodle, n int) []lmstest.MoodleUser {
	t.Helper()
	users := fake.Users()
	if len(users) != n {
		t.Errorf("Moodle has %d users, want %d: %+v", len(users), n, users)
	}
	return users
}

func wantMoodleEnrolments(t *testing.T, fake *lmstest.Moodle, n int) []lmstest.MoodleEnrolment {
	t.Helper()
	es := fake.Enrolments()
	if len(es) != n {
		t.Errorf("Moodle has %d enrolments, want %d: %+v", len(es), n, es)
	}
	return es
}

// wantMoodleNoToken fails when err's text holds the token, plain or
// URL-encoded.
func wantMoodleNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && (strings.Contains(err.Error(), moodleToken) || strings.Contains(err.Error(), "DO-NOT-LEAK")) {
		t.Errorf("error contains the token: %v", err)
	}
}

func TestMoodleEnrollCreatesUserOnceAndEnrols(t *testing.T) {
	t.Parallel()
	b := setupMoodle(t)
	b.deliver(t, lms.OpEnroll, "7", moodleJane())

	users := wantMoodleUsers(t, b.fake, 1)
	want := lmstest.MoodleUser{ID: users[0].ID, Username: "jane.doe", Email: "jane.doe@example.com", IDNumber: "E100",
		FirstName: "Jane", LastName: "Doe", Auth: "manual", CreatePassword: true}
	if users[0] != want {
		t.Errorf("created user %+v\nwant %+v", users[0], want)
	}
	es := wantMoodleEnrolments(t, b.fake, 1)
	if len(es) == 1 && (es[0].UserID != users[0].ID || es[0].CourseID != 7 || es[0].Suspended ||
		fmt.Sprint(es[0].RoleIDs) != "[5]") {
		t.Errorf("enrolment %+v, want user %d active in course 7 as student (role 5)", es[0], users[0].ID)
	}

	// Enrolling again changes nothing: no second user, one enrolment.
	b.deliver(t, lms.OpEnroll, "7", moodleJane())
	wantMoodleUsers(t, b.fake, 1)
	wantMoodleEnrolments(t, b.fake, 1)
	wantMoodleEnrolment(t, b.fake, "E100", "SEC-101", lmstest.MoodleActive)
	wantMoodleCalls(t, b.fake, map[string]int{
		lmstest.MoodleCreateUsers: 1,
		lmstest.MoodleEnrolUsers:  2,
		// first: idnumber, email, username all miss; second: idnumber hits
		lmstest.MoodleGetUsersByField: 4,
	})
}

func TestMoodleLifecycle(t *testing.T) {
	t.Parallel()
	type step struct {
		op   lms.Op
		want string // the enrolment's state after the step; "" for none
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"enroll then suspend", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpSuspend, lmstest.MoodleSuspended}}},
		{"suspend twice", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpSuspend, lmstest.MoodleSuspended}, {lms.OpSuspend, lmstest.MoodleSuspended}}},
		{"suspend then enroll reactivates", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpSuspend, lmstest.MoodleSuspended}, {lms.OpEnroll, lmstest.MoodleActive}}},
		{"enroll then unenroll", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpUnenroll, ""}}},
		{"unenroll twice", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpUnenroll, ""}, {lms.OpUnenroll, ""}}},
		{"suspended then unenroll", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpSuspend, lmstest.MoodleSuspended}, {lms.OpUnenroll, ""}}},
		{"unenroll then enroll", []step{{lms.OpEnroll, lmstest.MoodleActive}, {lms.OpUnenroll, ""}, {lms.OpEnroll, lmstest.MoodleActive}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			for i, s := range tt.steps {
				b.deliver(t, s.op, "SEC-101", moodleJane())
				if got, _ := b.fake.Enrolment("E100", "SEC-101"); got != s.want {
					t.Fatalf("after step %d (%s): enrolment %q, want %q", i, s.op, got, s.want)
				}
			}
			wantMoodleUsers(t, b.fake, 1)
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: 1})
		})
	}
}

func TestMoodleNothingToChangeIsSuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		op        lms.Op
		knownUser bool // the user exists in Moodle, not enrolled
	}{
		{"suspend unknown user", lms.OpSuspend, false},
		{"unenroll unknown user", lms.OpUnenroll, false},
		{"suspend without enrolment", lms.OpSuspend, true},
		{"unenroll without enrolment", lms.OpUnenroll, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			if tt.knownUser {
				b.fake.AddUser(lmstest.MoodleUser{Username: "jane.doe", Email: "jane.doe@example.com", IDNumber: "E100"})
			}
			b.deliver(t, tt.op, "SEC-101", moodleJane())
			wantMoodleEnrolments(t, b.fake, 0)
			n := 0
			if tt.knownUser {
				n = 1
			}
			wantMoodleUsers(t, b.fake, n)
			// Suspending must not create a suspended enrolment.
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: 0, lmstest.MoodleEnrolUsers: 0})
		})
	}
}

func TestMoodleFindsExistingUsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing []lmstest.MoodleUser
		user     func() lms.User
		want     string // username of the user who must end up enrolled
		lookups  int    // core_user_get_users_by_field calls
	}{
		{
			name:     "by idnumber",
			existing: []lmstest.MoodleUser{{Username: "legacy1", Email: "old@example.com", IDNumber: "E100"}},
			user:     moodleJane, want: "legacy1", lookups: 1,
		},
		{
			name:     "by email when idnumber misses",
			existing: []lmstest.MoodleUser{{Username: "legacy2", Email: "jane.doe@example.com"}},
			user:     moodleJane, want: "legacy2", lookups: 2,
		},
		{
			name:     "by lower-cased username when idnumber and email miss",
			existing: []lmstest.MoodleUser{{Username: "jane.doe", Email: "jd@corp.example.com"}},
			user:     moodleJane, want: "jane.doe", lookups: 3,
		},
		{
			name: "idnumber wins over email",
			existing: []lmstest.MoodleUser{
				{Username: "by-email", Email: "jane.doe@example.com"},
				{Username: "by-idnumber", Email: "x@example.com", IDNumber: "E100"},
			},
			user: moodleJane, want: "by-idnumber", lookups: 1,
		},
		{
			name:     "email when there is no externalId",
			existing: []lmstest.MoodleUser{{Username: "legacy3", Email: "jane.doe@example.com", IDNumber: "E100"}},
			user:     func() lms.User { u := moodleJane(); u.ExternalID = ""; return u },
			want:     "legacy3", lookups: 1,
		},
		{
			name:     "username when there is neither",
			existing: []lmstest.MoodleUser{{Username: "jane.doe", Email: "jd@corp.example.com"}},
			user:     func() lms.User { u := moodleJane(); u.ExternalID, u.Email = "", ""; return u },
			want:     "jane.doe", lookups: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			for _, u := range tt.existing {
				b.fake.AddUser(u)
			}
			b.deliver(t, lms.OpEnroll, "GIT-201", tt.user())
			wantMoodleUsers(t, b.fake, len(tt.existing))
			wantMoodleEnrolment(t, b.fake, tt.want, "GIT-201", lmstest.MoodleActive)
			wantMoodleEnrolments(t, b.fake, 1)
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: 0, lmstest.MoodleGetUsersByField: tt.lookups})
		})
	}
}

func TestMoodleCourseResolution(t *testing.T) {
	t.Parallel()
	tests := []struct {
		course   string
		wantID   string
		lookups  int // core_course_get_courses_by_field calls for two deliveries
		wantFail bool
	}{
		{course: "7", wantID: "7", lookups: 0},
		{course: "sec101-2026", wantID: "7", lookups: 1}, // idnumber; then cached
		{course: "GIT-201", wantID: "8", lookups: 2},     // idnumber misses, shortname hits; then cached
		{course: "SEC-101", wantID: "7", lookups: 2},
	}
	for _, tt := range tests {
		t.Run(tt.course, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.deliver(t, lms.OpEnroll, tt.course, moodleJane())
			b.deliver(t, lms.OpEnroll, tt.course, moodleJane())
			wantMoodleEnrolment(t, b.fake, "E100", tt.wantID, lmstest.MoodleActive)
			wantMoodleEnrolments(t, b.fake, 1)
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleGetCoursesByField: tt.lookups})
		})
	}
}

func TestMoodleUnknownCourseIsPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		op     lms.Op
		course string
		wantIn string
	}{
		{"enroll by shortname", lms.OpEnroll, "NOPE-404", `"NOPE-404" not found`},
		{"suspend by shortname", lms.OpSuspend, "NOPE-404", `"NOPE-404" not found`},
		{"unenroll by shortname", lms.OpUnenroll, "NOPE-404", `"NOPE-404" not found`},
		{"enroll by id", lms.OpEnroll, "999", "invalidparameter"},
		{"unenroll by id", lms.OpUnenroll, "999", "invalidrecord"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.fake.AddUser(lmstest.MoodleUser{Username: "jane.doe", Email: "jane.doe@example.com", IDNumber: "E100"})
			err := b.conn.Deliver(t.Context(), moodleDelivery(tt.op, tt.course, moodleJane()))
			if !lms.IsPermanent(err) {
				t.Fatalf("Deliver: %v, want a permanent error", err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) || !strings.Contains(err.Error(), tt.course) {
				t.Errorf("error %q does not name course %q and %q", err, tt.course, tt.wantIn)
			}
			wantMoodleEnrolments(t, b.fake, 0)
			wantMoodleUsers(t, b.fake, 1)
		})
	}
}

func TestMoodleBadTokenIsPermanentAndNeverShown(t *testing.T) {
	t.Parallel()
	fake := lmstest.NewMoodle(t, "the-right-token")
	fake.AddCourse(7, "SEC-101", "")
	conn := newMoodleConnector(t, moodleSpec(fake.URL), moodleToken)
	err := conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane()))
	if !lms.IsPermanent(err) {
		t.Fatalf("Deliver with a wrong token: %v, want a permanent error", err)
	}
	var me *lms.MoodleError
	if !errors.As(err, &me) || me.ErrorCode != "invalidtoken" {
		t.Errorf("error %v: want a MoodleError with errorcode invalidtoken", err)
	}
	wantMoodleNoToken(t, err)
	wantMoodleUsers(t, fake, 0)
}

func TestMoodleErrorsNeverCarryTheToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault lmstest.Fault
	}{
		// A proxy that echoes the request body in its error page.
		{"echoed in a 502 page", lmstest.Fault{Status: http.StatusBadGateway, Body: "bad gateway for wstoken=" + moodleToken + "&wsfunction=x"}},
		{"in a 400 page", lmstest.Fault{Status: http.StatusBadRequest, Body: "rejected: token " + moodleToken + " is not allowed here"}},
		{"in a Moodle exception", lmstest.Fault{Status: http.StatusOK, Body: `{"exception":"moodle_exception","errorcode":"x","message":"token ` + moodleToken + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.fake.Faults.Add(tt.fault)
			err := b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane()))
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			wantMoodleNoToken(t, err)
			if !strings.Contains(err.Error(), "[REDACTED]") {
				t.Errorf("error %q: want the token replaced by [REDACTED]", err)
			}
		})
	}
}

func TestMoodleExceptionsWithHTTP200AreErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		code      string
		permanent bool
	}{
		{"access", `{"exception":"webservice_access_exception","errorcode":"accessexception","message":"Access control exception"}`, "accessexception", true},
		{"capability", `{"exception":"required_capability_exception","errorcode":"nopermissions","message":"Sorry, but you do not currently have permissions to do that (Create users)."}`, "nopermissions", true},
		{"session login", `{"exception":"moodle_exception","errorcode":"servicerequireslogin","message":"Web service requires login"}`, "servicerequireslogin", true},
		{"invalid parameter with debuginfo", `{"exception":"invalid_parameter_exception","errorcode":"invalidparameter","message":"Invalid parameter value detected","debuginfo":"Missing required key in single structure: field"}`, "invalidparameter", true},
		{"database read", `{"exception":"dml_read_exception","errorcode":"dmlreadexception","message":"Error reading from database"}`, "dmlreadexception", false},
		{"database write", `{"exception":"dml_write_exception","errorcode":"dmlwriteexception","message":"Error writing to database"}`, "dmlwriteexception", false},
		{"maintenance", `{"exception":"moodle_exception","errorcode":"sitemaintenance","message":"The site is undergoing maintenance and is currently not available"}`, "sitemaintenance", false},
		{"missing record", `{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can't find data record in database table course."}`, "invalidrecord", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.fake.Faults.Add(lmstest.Fault{Times: 1, Status: http.StatusOK, Body: tt.body})
			err := b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane()))
			var me *lms.MoodleError
			if !errors.As(err, &me) || me.ErrorCode != tt.code {
				t.Fatalf("Deliver: %v, want a MoodleError with errorcode %s", err, tt.code)
			}
			if got := lms.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			var le *lms.Error
			if errors.As(err, &le) && le.Status != http.StatusOK {
				t.Errorf("Status %d, want 200 (what Moodle answered)", le.Status)
			}
		})
	}
}

func TestMoodleFunctionMissingFromServiceIsPermanent(t *testing.T) {
	t.Parallel()
	b := setupMoodle(t)
	b.fake.DisableFunction(lmstest.MoodleEnrolUsers)
	err := b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane()))
	var me *lms.MoodleError
	if !lms.IsPermanent(err) || !errors.As(err, &me) || me.ErrorCode != "accessexception" {
		t.Fatalf("Deliver: %v, want a permanent accessexception", err)
	}
	if !strings.Contains(err.Error(), lmstest.MoodleEnrolUsers) {
		t.Errorf("error %q does not name the function", err)
	}
}

func TestMoodleRetryableStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status     int
		retryAfter string
		want       time.Duration
	}{
		{http.StatusServiceUnavailable, "7", 7 * time.Second},
		{http.StatusTooManyRequests, "120", 2 * time.Minute},
		{http.StatusBadGateway, "", 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.fake.Faults.Add(lmstest.Fault{Times: 1, Status: tt.status, RetryAfter: tt.retryAfter})
			d := moodleDelivery(lms.OpEnroll, "7", moodleJane())
			err := b.conn.Deliver(t.Context(), d)
			if err == nil || lms.IsPermanent(err) {
				t.Fatalf("Deliver: %v, want a retryable error", err)
			}
			if got := lms.RetryAfter(err); got != tt.want {
				t.Errorf("RetryAfter = %v, want %v", got, tt.want)
			}
			var le *lms.Error
			if !errors.As(err, &le) || le.Status != tt.status {
				t.Errorf("error %v: want Status %d", err, tt.status)
			}
			if err := b.conn.Deliver(t.Context(), d); err != nil {
				t.Fatalf("retry: %v", err)
			}
			wantMoodleEnrolment(t, b.fake, "E100", "7", lmstest.MoodleActive)
		})
	}
}

func TestMoodleDroppedAnswerThenRetryConverges(t *testing.T) {
	t.Parallel()
	// A new user enrolled in course 7 (an id: no course lookup) makes these
	// calls, in order: get_users_by_field idnumber, email, username,
	// create_users, enrol_users.
	tests := []struct {
		name       string
		enrolFirst bool // the user is enrolled before the faulty delivery
		op         lms.Op
		skip       int // requests served before the dropped one
		dropped    string
		want       string
		creates    int
		wantUser   bool
	}{
		{name: "create answer lost", op: lms.OpEnroll, skip: 3, dropped: lmstest.MoodleCreateUsers, want: lmstest.MoodleActive, creates: 1},
		{name: "enrol answer lost", op: lms.OpEnroll, skip: 4, dropped: lmstest.MoodleEnrolUsers, want: lmstest.MoodleActive, creates: 1},
		{name: "first lookup answer lost", op: lms.OpEnroll, skip: 0, dropped: lmstest.MoodleGetUsersByField, want: lmstest.MoodleActive, creates: 1},
		{
			name:       "suspend answer lost",
			enrolFirst: true,
			// idnumber lookup, get_users_courses, enrol with suspend=1
			op: lms.OpSuspend, skip: 2, dropped: lmstest.MoodleEnrolUsers, want: lmstest.MoodleSuspended, creates: 1,
		},
		{
			name:       "unenrol answer lost",
			enrolFirst: true,
			op:         lms.OpUnenroll, skip: 1, dropped: lmstest.MoodleUnenrolUsers, want: "", creates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			if tt.enrolFirst {
				if err := b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane())); err != nil {
					t.Fatalf("prepare: %v", err)
				}
			}
			before := len(b.fake.Requests())
			if tt.skip > 0 {
				b.fake.Faults.Add(lmstest.Fault{Times: tt.skip})
			}
			b.fake.Faults.Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
			d := moodleDelivery(tt.op, "7", moodleJane())
			err := b.conn.Deliver(t.Context(), d)
			if err == nil || lms.IsPermanent(err) {
				t.Fatalf("Deliver with a dropped answer: %v, want a retryable error", err)
			}
			reqs := b.fake.Requests()
			if last := reqs[len(reqs)-1]; len(reqs)-before != tt.skip+1 || last.Function != tt.dropped {
				t.Fatalf("dropped request %d was %s, want request %d to be %s", len(reqs)-before, last.Function, tt.skip+1, tt.dropped)
			}
			wantMoodleNoToken(t, err)
			if err := b.conn.Deliver(t.Context(), d); err != nil {
				t.Fatalf("retry: %v", err)
			}
			wantMoodleEnrolment(t, b.fake, "E100", "7", tt.want)
			wantMoodleUsers(t, b.fake, 1)
			n := 1
			if tt.want == "" {
				n = 0
			}
			wantMoodleEnrolments(t, b.fake, n)
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: tt.creates})
		})
	}
}

func TestMoodleAdoptsUserWhenCreateSaysTaken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		debug bool
	}{
		{"debugging off", false}, // Moodle says only "Invalid parameter value detected"
		{"debugging on", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			b.fake.SetDebug(tt.debug)
			// The email is taken, in lower case: the exact-match look-ups
			// miss, the create is refused, the lower-cased look-up finds it.
			existing := b.fake.AddUser(lmstest.MoodleUser{Username: "jdoe", Email: "jane.doe@example.com"})
			u := moodleJane()
			u.Email = "Jane.Doe@Example.com"
			b.deliver(t, lms.OpEnroll, "7", u)
			wantMoodleUsers(t, b.fake, 1)
			es := wantMoodleEnrolments(t, b.fake, 1)
			if len(es) == 1 && es[0].UserID != existing.ID {
				t.Errorf("enrolled user %d, want the existing user %d", es[0].UserID, existing.ID)
			}
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: 1})
		})
	}
}

func TestMoodleCreateRefusedIsPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		user    func() lms.User
		wantIn  string
		creates int
	}{
		{"no email", func() lms.User { u := moodleJane(); u.Email = ""; return u }, "requires an email", 0},
		// Moodle refuses the look-up by such a username before any create.
		{"username Moodle refuses", func() lms.User { u := moodleJane(); u.UserName = "jane doe+x"; return u }, "invalidparameter", 0},
		{"invalid email", func() lms.User { u := moodleJane(); u.Email = "not-an-email"; return u }, "invalidparameter", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			err := b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", tt.user()))
			if !lms.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("Deliver: %v, want a permanent error containing %q", err, tt.wantIn)
			}
			wantMoodleUsers(t, b.fake, 0)
			wantMoodleCalls(t, b.fake, map[string]int{lmstest.MoodleCreateUsers: tt.creates, lmstest.MoodleEnrolUsers: 0})
		})
	}
}

func TestMoodleNamesFallBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		given, fam  string
		display     string
		first, last string
	}{
		{"name parts", "Jane", "Doe", "Someone Else", "Jane", "Doe"},
		{"display name", "", "", "Mary Ann Smith", "Mary", "Ann Smith"},
		{"given only", "Jane", "", "Jane van Dijk", "Jane", "van Dijk"},
		{"family only", "", "Doe", "Jane Doe", "Jane", "Doe"},
		{"one-word display", "", "", "Cher", "Cher", "-"},
		{"nothing", "", "", "", "jane.doe", "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			u := moodleJane()
			u.UserName = "jane.doe@example.com"
			u.GivenName, u.FamilyName, u.DisplayName = tt.given, tt.fam, tt.display
			b.deliver(t, lms.OpEnroll, "7", u)
			users := wantMoodleUsers(t, b.fake, 1)
			if len(users) == 1 && (users[0].FirstName != tt.first || users[0].LastName != tt.last) {
				t.Errorf("names %q %q, want %q %q", users[0].FirstName, users[0].LastName, tt.first, tt.last)
			}
		})
	}
}

func TestMoodleSendsCorrelationIDAndTokenInBody(t *testing.T) {
	t.Parallel()
	b := setupMoodle(t)
	b.deliver(t, lms.OpEnroll, "SEC-101", moodleJane())
	reqs := b.fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("no requests reached the fake")
	}
	for i, r := range reqs {
		if got := r.Header.Get("X-Correlation-ID"); got != "corr-moodle-1" {
			t.Errorf("request %d (%s): X-Correlation-ID %q, want corr-moodle-1", i, r.Function, got)
		}
		if got := r.Header.Get("User-Agent"); got != "onramp" {
			t.Errorf("request %d: User-Agent %q", i, got)
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("request %d: %s with Content-Type %q, want a form POST", i, r.Method, r.Header.Get("Content-Type"))
		}
		if r.URL != lmstest.MoodleRESTPath {
			t.Errorf("request %d: URL %q, want %s with nothing in the query", i, r.URL, lmstest.MoodleRESTPath)
		}
		if r.Form.Get("wstoken") != moodleToken || r.Form.Get("moodlewsrestformat") != "json" {
			t.Errorf("request %d: form %v lacks the token or the json format", i, r.Form)
		}
	}
}

func TestMoodleHonoursDeadlines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ctx     time.Duration // 0: no deadline of its own
		timeout time.Duration // Spec.Timeout
	}{
		{"context deadline", 100 * time.Millisecond, 10 * time.Second},
		{"spec timeout", 0, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lmstest.NewMoodle(t, moodleToken)
			fake.AddCourse(7, "SEC-101", "")
			fake.Faults.Add(lmstest.Fault{Delay: 10 * time.Second})
			spec := moodleSpec(fake.URL)
			spec.Timeout = tt.timeout
			conn := newMoodleConnector(t, spec, moodleToken)
			ctx := t.Context()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			err := conn.Deliver(ctx, moodleDelivery(lms.OpEnroll, "7", moodleJane()))
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Deliver took %v, want it to give up after about 100ms", elapsed)
			}
			if err == nil || lms.IsPermanent(err) {
				t.Fatalf("Deliver: %v, want a retryable error", err)
			}
			if tt.ctx > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v: want it to wrap context.DeadlineExceeded", err)
			}
			fake.Faults.Clear()
		})
	}
}

func TestMoodleConcurrentEnrollsMakeOneUser(t *testing.T) {
	t.Parallel()
	b := setupMoodle(t)
	const courses = 6
	for i := range courses {
		b.fake.AddCourse(100+i, fmt.Sprintf("C-%d", i), "")
	}
	var wg sync.WaitGroup
	errs := make(chan error, courses)
	for i := range courses {
		wg.Go(func() {
			errs <- b.conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, fmt.Sprintf("C-%d", i), moodleJane()))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Deliver: %v", err)
		}
	}
	wantMoodleUsers(t, b.fake, 1)
	wantMoodleEnrolments(t, b.fake, courses)
}

func TestMoodleRejectsBadDeliveries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    func() lms.Delivery
	}{
		{"unknown op", func() lms.Delivery { return moodleDelivery("promote", "7", moodleJane()) }},
		{"no course", func() lms.Delivery { return moodleDelivery(lms.OpEnroll, " ", moodleJane()) }},
		{"course id out of range", func() lms.Delivery { return moodleDelivery(lms.OpEnroll, "99999999999999999999", moodleJane()) }},
		{"no way to find the user", func() lms.Delivery { return moodleDelivery(lms.OpEnroll, "7", lms.User{ID: "x"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupMoodle(t)
			if err := b.conn.Deliver(t.Context(), tt.d()); !lms.IsPermanent(err) {
				t.Errorf("Deliver: %v, want a permanent error", err)
			}
			wantMoodleEnrolments(t, b.fake, 0)
		})
	}
}

func TestNewMoodleChecksConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		spec   lms.Spec
		token  string
		wantIn []string
	}{
		{"no token variable", lms.Spec{Name: "m", Type: "moodle", URL: "https://moodle.example.com"}, "", []string{"token_env is required"}},
		{"token not set", lms.Spec{Name: "m", Type: "moodle", URL: "https://moodle.example.com", TokenEnv: "MOODLE_TOKEN"}, "", []string{"MOODLE_TOKEN"}},
		{"query in url", lms.Spec{Name: "m", Type: "moodle", URL: "https://moodle.example.com/?wstoken=abc", TokenEnv: "MOODLE_TOKEN"}, "t", []string{"without query"}},
		{"credentials in url", lms.Spec{Name: "m", Type: "moodle", URL: "https://admin:pw@moodle.example.com", TokenEnv: "MOODLE_TOKEN"}, "t", []string{"credentials"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := lms.New(tt.spec, lms.Deps{Env: moodleEnv(tt.token)})
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q repeats a secret from the url", err)
			}
		})
	}
}

func TestMoodleSiteURLForms(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"", "/", lmstest.MoodleRESTPath} {
		t.Run(fmt.Sprintf("%q", suffix), func(t *testing.T) {
			t.Parallel()
			fake := lmstest.NewMoodle(t, moodleToken)
			fake.AddCourse(7, "SEC-101", "")
			conn := newMoodleConnector(t, moodleSpec(fake.URL+suffix), moodleToken)
			if err := conn.Deliver(t.Context(), moodleDelivery(lms.OpEnroll, "7", moodleJane())); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
		})
	}
}

// TestMoodleFormGolden pins the form bodies of a new user's enrolment, the
// token masked.
func TestMoodleFormGolden(t *testing.T) {
	t.Parallel()
	b := setupMoodle(t)
	b.deliver(t, lms.OpEnroll, "SEC-101", moodleJane())
	var sb strings.Builder
	for _, r := range b.fake.Requests() {
		form := r.Form
		form.Set("wstoken", "TOKEN")
		fmt.Fprintf(&sb, "%s %s\n", r.Method, r.URL)
		// One parameter a line, decoded, sorted by name.
		for _, kv := range strings.Split(form.Encode(), "&") {
			k, v, _ := strings.Cut(kv, "=")
			k, _ = url.QueryUnescape(k)
			v, _ = url.QueryUnescape(v)
			fmt.Fprintf(&sb, "  %s=%s\n", k, v)
		}
	}
	golden := filepath.Join("testdata", "moodle_enroll_new_user.golden")
	if moodleUpdating() {
		if err := os.WriteFile(golden, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if sb.String() != string(want) {
		t.Errorf("form bodies differ from %s:\ngot:\n%s\nwant:\n%s", golden, sb.String(), want)
	}
}
