package lmstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

const moodleFakeToken = "fake-token"

// moodlePost calls function on fake with params and returns the raw answer,
// checking that Moodle's HTTP 200 came back.
func moodlePost(t *testing.T, fake *lmstest.Moodle, token, function string, params url.Values) string {
	t.Helper()
	form := url.Values{"wstoken": {token}, "wsfunction": {function}, "moodlewsrestformat": {"json"}}
	for k, v := range params {
		form[k] = v
	}
	resp, err := http.PostForm(fake.URL+lmstest.MoodleRESTPath, form)
	if err != nil {
		t.Fatalf("POST %s: %v", function, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200 (Moodle answers exceptions with 200 too)", function, resp.StatusCode)
	}
	return strings.TrimSpace(string(body))
}

// wantMoodleException checks an answer is Moodle's exception JSON with code.
func wantMoodleException(t *testing.T, answer, exception, code string) map[string]string {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal([]byte(answer), &got); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if got["exception"] != exception || got["errorcode"] != code || got["message"] == "" {
		t.Errorf("answer %s: want exception %s with errorcode %s and a message", answer, exception, code)
	}
	return got
}

func newFakeMoodle(t *testing.T) *lmstest.Moodle {
	t.Helper()
	fake := lmstest.NewMoodle(t, moodleFakeToken)
	fake.AddCourse(7, "SEC-101", "sec-2026")
	fake.AddUser(lmstest.MoodleUser{Username: "ann", Email: "ann@example.com", IDNumber: "E1", FirstName: "Ann", LastName: "Lee"})
	return fake
}

func TestMoodleFakeRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		token     string
		function  string
		params    url.Values
		exception string
		code      string
		message   string // a part of the message, when it matters
	}{
		{"wrong token", "nope", lmstest.MoodleGetUsersByField, nil, "moodle_exception", "invalidtoken", "Invalid token - token not found"},
		{"unknown function", moodleFakeToken, "core_nope", nil, "dml_missing_record_exception", "invalidrecord", "external_functions"},
		{"missing parameter", moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"email"}}, "invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected"},
		{"unexpected parameter", moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"email"}, "values[0]": {"a@example.com"}, "extra": {"1"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"scalar where a list is wanted", moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"email"}, "values": {"a@example.com"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"upper-case username", moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"username"}, "values[0]": {"Ann"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"unsupported field", moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"lastname"}, "values[0]": {"Lee"}}, "coding_exception", "codingerror", "invalid field parameter"},
		{"username taken", moodleFakeToken, lmstest.MoodleCreateUsers, moodleNewUser("ann", "other@example.com"), "invalid_parameter_exception", "invalidparameter", ""},
		{"email taken in another case", moodleFakeToken, lmstest.MoodleCreateUsers, moodleNewUser("ann2", "ANN@example.com"), "invalid_parameter_exception", "invalidparameter", ""},
		{"no password", moodleFakeToken, lmstest.MoodleCreateUsers, url.Values{"users[0][username]": {"bo"}, "users[0][firstname]": {"Bo"}, "users[0][lastname]": {"Ek"}, "users[0][email]": {"bo@example.com"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"blank lastname", moodleFakeToken, lmstest.MoodleCreateUsers, url.Values{"users[0][username]": {"bo"}, "users[0][firstname]": {"Bo"}, "users[0][lastname]": {" "}, "users[0][email]": {"bo@example.com"}, "users[0][createpassword]": {"1"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"enrol in unknown course", moodleFakeToken, lmstest.MoodleEnrolUsers, moodleEnrolParams("5", "3", "99"), "invalid_parameter_exception", "invalidparameter", ""},
		{"enrol unknown user", moodleFakeToken, lmstest.MoodleEnrolUsers, moodleEnrolParams("5", "42", "7"), "coding_exception", "codingerror", "User ID does not exist or is deleted!"},
		{"enrol with a role not assignable", moodleFakeToken, lmstest.MoodleEnrolUsers, moodleEnrolParams("2", "3", "7"), "moodle_exception", "wsusercannotassign", ""},
		{"enrol with a non-integer id", moodleFakeToken, lmstest.MoodleEnrolUsers, moodleEnrolParams("5", "03", "7"), "invalid_parameter_exception", "invalidparameter", ""},
		{"unenrol from unknown course", moodleFakeToken, lmstest.MoodleUnenrolUsers, url.Values{"enrolments[0][userid]": {"3"}, "enrolments[0][courseid]": {"99"}}, "dml_missing_record_exception", "invalidrecord", "Can't find data record in database table course."},
		{"unenrol unknown user", moodleFakeToken, lmstest.MoodleUnenrolUsers, url.Values{"enrolments[0][userid]": {"42"}, "enrolments[0][courseid]": {"7"}}, "invalid_parameter_exception", "invalidparameter", ""},
		{"course by unknown field", moodleFakeToken, lmstest.MoodleGetCoursesByField, url.Values{"field": {"fullname"}, "value": {"x"}}, "invalid_parameter_exception", "invalidparameter", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeMoodle(t)
			before := len(fake.Users())
			got := wantMoodleException(t, moodlePost(t, fake, tt.token, tt.function, tt.params), tt.exception, tt.code)
			if !strings.Contains(got["message"], tt.message) {
				t.Errorf("message %q does not contain %q", got["message"], tt.message)
			}
			if _, ok := got["debuginfo"]; ok {
				t.Errorf("debuginfo %q sent with debugging off", got["debuginfo"])
			}
			if n := len(fake.Users()); n != before || len(fake.Enrolments()) != 0 {
				t.Errorf("a refused call changed state: %d users, %d enrolments", n, len(fake.Enrolments()))
			}
		})
	}
}

func moodleNewUser(username, email string) url.Values {
	return url.Values{
		"users[0][username]": {username}, "users[0][firstname]": {"A"}, "users[0][lastname]": {"B"},
		"users[0][email]": {email}, "users[0][createpassword]": {"1"},
	}
}

func moodleEnrolParams(role, user, course string) url.Values {
	return url.Values{"enrolments[0][roleid]": {role}, "enrolments[0][userid]": {user}, "enrolments[0][courseid]": {course}}
}

func TestMoodleFakeDebugInfo(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t)
	fake.SetDebug(true)
	got := wantMoodleException(t, moodlePost(t, fake, moodleFakeToken, lmstest.MoodleCreateUsers, moodleNewUser("ann", "x@example.com")),
		"invalid_parameter_exception", "invalidparameter")
	if got["message"] != "Invalid parameter value detected" || got["debuginfo"] != "Username already exists: ann" {
		t.Errorf("answer %v: want the generic message and the reason in debuginfo", got)
	}
}

func TestMoodleFakeAnswers(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t)

	// A user look-up answers a list of user descriptions.
	var users []map[string]any
	ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"idnumber"}, "values[0]": {"E1"}})
	if err := json.Unmarshal([]byte(ans), &users); err != nil || len(users) != 1 || users[0]["username"] != "ann" || users[0]["fullname"] != "Ann Lee" {
		t.Fatalf("get_users_by_field: %s (%v)", ans, err)
	}
	if ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleGetUsersByField, url.Values{"field": {"email"}, "values[0]": {"nobody@example.com"}}); ans != "[]" {
		t.Errorf("get_users_by_field with no match: %s, want []", ans)
	}

	// create_users answers [{id, username}].
	ans = moodlePost(t, fake, moodleFakeToken, lmstest.MoodleCreateUsers, moodleNewUser("bo", "bo@example.com"))
	var created []struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	}
	if err := json.Unmarshal([]byte(ans), &created); err != nil || len(created) != 1 || created[0].Username != "bo" || created[0].ID != 4 {
		t.Fatalf("create_users: %s (%v), want [{id:4, username:bo}]", ans, err)
	}

	// Courses come wrapped with warnings.
	ans = moodlePost(t, fake, moodleFakeToken, lmstest.MoodleGetCoursesByField, url.Values{"field": {"shortname"}, "value": {"SEC-101"}})
	var courses struct {
		Courses  []map[string]any `json:"courses"`
		Warnings []any            `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(ans), &courses); err != nil || len(courses.Courses) != 1 || courses.Courses[0]["id"] != 7.0 || courses.Warnings == nil {
		t.Fatalf("get_courses_by_field: %s (%v)", ans, err)
	}

	// Enrolling answers null, twice over, and leaves one enrolment.
	for range 2 {
		if ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleEnrolUsers, moodleEnrolParams("5", "3", "7")); ans != "null" {
			t.Fatalf("enrol_users: %s, want null", ans)
		}
	}
	if es := fake.Enrolments(); len(es) != 1 || es[0].Username != "ann" || es[0].Course != "SEC-101" || es[0].Suspended {
		t.Fatalf("enrolments %+v, want ann active in SEC-101", es)
	}
	if ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleGetUsersCourses, url.Values{"userid": {"3"}, "returnusercount": {"0"}}); !strings.Contains(ans, `"shortname":"SEC-101"`) {
		t.Errorf("get_users_courses while active: %s", ans)
	}

	// suspend=1 suspends in place; suspended enrolments are not "courses".
	p := moodleEnrolParams("5", "3", "7")
	p.Set("enrolments[0][suspend]", "1")
	moodlePost(t, fake, moodleFakeToken, lmstest.MoodleEnrolUsers, p)
	if st, ok := fake.Enrolment("E1", "sec-2026"); !ok || st != lmstest.MoodleSuspended {
		t.Errorf("after suspend=1: %q %v", st, ok)
	}
	if ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleGetUsersCourses, url.Values{"userid": {"3"}}); ans != "[]" {
		t.Errorf("get_users_courses while suspended: %s, want []", ans)
	}

	// Unenrolling answers null, and again when there is nothing left.
	for range 2 {
		if ans := moodlePost(t, fake, moodleFakeToken, lmstest.MoodleUnenrolUsers, url.Values{"enrolments[0][userid]": {"3"}, "enrolments[0][courseid]": {"7"}}); ans != "null" {
			t.Fatalf("unenrol_users: %s, want null", ans)
		}
	}
	if es := fake.Enrolments(); len(es) != 0 {
		t.Errorf("enrolments after unenrol: %+v", es)
	}
	if n := fake.Calls(lmstest.MoodleEnrolUsers); n != 3 {
		t.Errorf("Calls(enrol) = %d, want 3", n)
	}
}

func TestMoodleFakeCreateIsAllOrNothing(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t)
	p := moodleNewUser("cy", "cy@example.com")
	for k, v := range moodleNewUser("ann", "ann2@example.com") { // taken username, second item
		p[strings.Replace(k, "[0]", "[1]", 1)] = v
	}
	wantMoodleException(t, moodlePost(t, fake, moodleFakeToken, lmstest.MoodleCreateUsers, p), "invalid_parameter_exception", "invalidparameter")
	if _, ok := fake.User("cy"); ok {
		t.Error("the first user was created although the second was refused")
	}
}

func TestMoodleFakeAnswersXMLWithoutJSONFormat(t *testing.T) {
	t.Parallel()
	fake := newFakeMoodle(t)
	resp, err := http.PostForm(fake.URL+lmstest.MoodleRESTPath, url.Values{"wstoken": {moodleFakeToken}, "wsfunction": {lmstest.MoodleGetUsersByField}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "<?xml") || !strings.Contains(string(body), "<EXCEPTION") {
		t.Errorf("answer without moodlewsrestformat=json: %s, want an XML exception", body)
	}
}
