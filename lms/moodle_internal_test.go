package lms

import (
	"fmt"
	"testing"
	"time"
)

func TestMoodleCourseCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := newMoodleCourseCache(3, time.Minute)
	c.now = func() time.Time { return now }

	c.put("SEC-101", 7)
	if id, ok := c.get("SEC-101"); !ok || id != 7 {
		t.Fatalf("get after put = %d, %v; want 7, true", id, ok)
	}
	now = now.Add(time.Minute)
	if _, ok := c.get("SEC-101"); ok {
		t.Error("an entry older than the ttl was returned")
	}

	for i := range 10 {
		c.put(fmt.Sprintf("C-%d", i), i)
		if n := len(c.ids); n > 3 {
			t.Fatalf("cache holds %d entries, bound is 3", n)
		}
	}
	if id, ok := c.get("C-9"); !ok || id != 9 {
		t.Errorf("the newest entry is missing: %d, %v", id, ok)
	}
	c.forget("C-9")
	if _, ok := c.get("C-9"); ok {
		t.Error("a forgotten entry was returned")
	}
}

func TestMoodleErrorRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    MoodleError
		want bool
	}{
		{MoodleError{Exception: "dml_read_exception", ErrorCode: "dmlreadexception"}, true},
		{MoodleError{Exception: "dml_connection_exception", ErrorCode: "dbconnectionfailed"}, true},
		{MoodleError{Exception: "dml_some_new_exception", ErrorCode: "whatever"}, true},
		{MoodleError{Exception: "moodle_exception", ErrorCode: "sitemaintenance"}, true},
		{MoodleError{Exception: "dml_missing_record_exception", ErrorCode: "invalidrecord"}, false},
		{MoodleError{Exception: "dml_multiple_records_exception", ErrorCode: "multiplerecordsfound"}, false},
		{MoodleError{Exception: "moodle_exception", ErrorCode: "invalidtoken"}, false},
		{MoodleError{Exception: "webservice_access_exception", ErrorCode: "accessexception"}, false},
		{MoodleError{Exception: "invalid_parameter_exception", ErrorCode: "invalidparameter"}, false},
		{MoodleError{Exception: "moodle_exception", ErrorCode: "servicerequireslogin"}, false},
	}
	for _, tt := range tests {
		if got := tt.e.Retryable(); got != tt.want {
			t.Errorf("%s/%s: Retryable() = %v, want %v", tt.e.Exception, tt.e.ErrorCode, got, tt.want)
		}
	}
}

func TestMoodleEndpoint(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://moodle.example.com":                              "https://moodle.example.com/webservice/rest/server.php",
		"https://moodle.example.com/":                             "https://moodle.example.com/webservice/rest/server.php",
		"https://example.com/lms/moodle/":                         "https://example.com/lms/moodle/webservice/rest/server.php",
		"https://moodle.example.com/webservice/rest/server.php":   "https://moodle.example.com/webservice/rest/server.php",
		"http://127.0.0.1:8080/moodle/webservice/rest/server.php": "http://127.0.0.1:8080/moodle/webservice/rest/server.php",
		" https://moodle.example.com/with%20space/ ":              "https://moodle.example.com/with%20space/webservice/rest/server.php",
	}
	for in, want := range tests {
		got, err := moodleEndpoint(Spec{Name: "m", URL: in})
		if err != nil || got != want {
			t.Errorf("moodleEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
