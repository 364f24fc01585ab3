package lmstest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

const fakeCanvasToken = "fake-canvas-token"

// canvasCall sends one request to the fake and decodes its JSON answer.
type canvasCall struct {
	method      string
	path        string // escaped, from /api/v1
	contentType string
	body        string
	token       string // "" means fakeCanvasToken; "-" means none
}

type canvasAnswer struct {
	status int
	header http.Header
	body   string
}

func (a canvasAnswer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(a.body), v); err != nil {
		t.Fatalf("answer %d %q is not JSON: %v", a.status, a.body, err)
	}
}

func do(t *testing.T, fake *lmstest.Canvas, c canvasCall) canvasAnswer {
	t.Helper()
	target := c.path
	if !strings.HasPrefix(target, "http") {
		target = fake.URL + c.path
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, target, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	switch c.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+fakeCanvasToken)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return canvasAnswer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func newFakeCanvas(t *testing.T) *lmstest.Canvas {
	t.Helper()
	fake := lmstest.NewCanvas(t, fakeCanvasToken)
	fake.AddCourse(42, "CS/101.11é")
	fake.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ann@example.com", SISUserID: "E100"})
	return fake
}

const form = "application/x-www-form-urlencoded"

func TestFakeCanvasAuthentication(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	tests := []struct {
		name       string
		call       canvasCall
		wantStatus int
		wantBody   string
	}{
		{"no token", canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E100", token: "-"}, 401, `{"status":"unauthenticated","errors":[{"message":"user authorization required"}]}`},
		{"wrong token", canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E100", token: "nope"}, 401, `{"errors":[{"message":"Invalid access token."}]}`},
		{"access_token parameter", canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E100?access_token=" + fakeCanvasToken, token: "-"}, 200, ""},
		{"unknown user", canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E999"}, 404, `{"errors":[{"message":"The specified resource does not exist."}]}`},
		{"unknown route", canvasCall{method: "GET", path: "/api/v1/nothing/here"}, 404, `{"errors":[{"message":"The specified resource does not exist."}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := do(t, fake, tt.call)
			if a.status != tt.wantStatus || (tt.wantBody != "" && a.body != tt.wantBody) {
				t.Errorf("got %d %s, want %d %s", a.status, a.body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus == 401 && tt.call.token == "nope" && a.header.Get("WWW-Authenticate") == "" {
				t.Error("a 401 for a wrong token has no WWW-Authenticate")
			}
		})
	}
}

func TestFakeCanvasFindsByEveryKindOfID(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	ann, _ := fake.User("E100")
	paths := []string{
		fmt.Sprintf("/api/v1/users/%d", ann.ID),
		"/api/v1/users/sis_user_id:E100",
		"/api/v1/users/sis_login_id:ANN%40example.com", // logins match case-insensitively
		"/api/v1/users/hex:sis_user_id:45313030",       // the deprecated hex form
		"/api/v1/users/sis_user_id:E100.json",          // a format suffix
	}
	for _, p := range paths {
		a := do(t, fake, canvasCall{method: "GET", path: p})
		var u struct {
			ID        int    `json:"id"`
			SISUserID string `json:"sis_user_id"`
			LoginID   string `json:"login_id"`
		}
		a.decode(t, &u)
		if a.status != 200 || u.ID != ann.ID || u.SISUserID != "E100" || u.LoginID != "ann@example.com" {
			t.Errorf("GET %s = %d %s", p, a.status, a.body)
		}
	}
	// The course's SIS id holds "/" and ".": only the escaped form finds it.
	for p, want := range map[string]int{
		"/api/v1/courses/sis_course_id:CS%2F101%2E11%C3%A9/enrollments": 200,
		"/api/v1/courses/sis_course_id:CS/101.11é/enrollments":          404,
	} {
		if a := do(t, fake, canvasCall{method: "GET", path: p}); a.status != want {
			t.Errorf("GET %s = %d, want %d", p, a.status, want)
		}
	}
}

func TestFakeCanvasAcceptsEveryBodyEncoding(t *testing.T) {
	t.Parallel()
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("enrollment[user_id]", "sis_user_id:E100")
	_ = mw.WriteField("enrollment[enrollment_state]", "active")
	_ = mw.Close()
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{"form", form, "enrollment[user_id]=sis_user_id%3AE100&enrollment[type]=StudentEnrollment&enrollment[enrollment_state]=active"},
		{"JSON", "application/json", `{"enrollment":{"user_id":"sis_user_id:E100","type":"StudentEnrollment","enrollment_state":"active","notify":false}}`},
		{"multipart", mw.FormDataContentType(), mp.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeCanvas(t)
			a := do(t, fake, canvasCall{method: "POST", path: "/api/v1/courses/42/enrollments", contentType: tt.contentType, body: tt.body})
			var e struct {
				ID        int    `json:"id"`
				Type      string `json:"type"`
				State     string `json:"enrollment_state"`
				CourseID  int    `json:"course_id"`
				SISUserID string `json:"sis_user_id"`
			}
			a.decode(t, &e)
			if a.status != 200 || e.Type != "StudentEnrollment" || e.State != "active" || e.CourseID != 42 || e.SISUserID != "E100" {
				t.Errorf("POST = %d %s", a.status, a.body)
			}
			if got, _ := fake.Enrollment("E100", "42"); got != "active" {
				t.Errorf("enrollment state %q, want active", got)
			}
		})
	}
}

func TestFakeCanvasEnrollmentLifecycle(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	ann, _ := fake.User("E100")
	type enrollment struct {
		ID    int    `json:"id"`
		State string `json:"enrollment_state"`
	}
	call := func(method, path, body string) (int, enrollment, string) {
		t.Helper()
		a := do(t, fake, canvasCall{method: method, path: path, contentType: form, body: body})
		var e enrollment
		if a.status == 200 {
			a.decode(t, &e)
		}
		return a.status, e, a.body
	}
	enroll := fmt.Sprintf("enrollment[user_id]=%d", ann.ID)

	_, first, _ := call("POST", "/api/v1/courses/42/enrollments", enroll)
	if first.State != "invited" {
		t.Errorf("default state %q, want invited", first.State)
	}
	_, again, _ := call("POST", "/api/v1/courses/42/enrollments", enroll+"&enrollment[enrollment_state]=active")
	if again.ID != first.ID || again.State != "active" {
		t.Errorf("second POST = %+v, want enrollment %d made active", again, first.ID)
	}
	if status, _, body := call("PUT", fmt.Sprintf("/api/v1/courses/42/enrollments/%d/reactivate", first.ID), ""); status != 400 || body != `{"error":"enrollment not inactive"}` {
		t.Errorf("reactivating an active enrollment = %d %s", status, body)
	}
	if _, e, _ := call("DELETE", fmt.Sprintf("/api/v1/courses/42/enrollments/%d?task=deactivate", first.ID), ""); e.State != "inactive" {
		t.Errorf("deactivate gave %q", e.State)
	}
	if _, e, _ := call("PUT", fmt.Sprintf("/api/v1/courses/42/enrollments/%d/reactivate", first.ID), ""); e.State != "active" {
		t.Errorf("reactivate gave %q", e.State)
	}
	if _, e, _ := call("DELETE", fmt.Sprintf("/api/v1/courses/42/enrollments/%d", first.ID), ""); e.State != "completed" {
		t.Errorf("DELETE without a task gave %q, want completed", e.State)
	}
	if _, e, _ := call("POST", "/api/v1/courses/42/enrollments", enroll+"&enrollment[enrollment_state]=active"); e.ID != first.ID || e.State != "active" {
		t.Errorf("enrolling a concluded user = %+v, want enrollment %d revived", e, first.ID)
	}
	if _, e, _ := call("DELETE", fmt.Sprintf("/api/v1/courses/42/enrollments/%d?task=delete", first.ID), ""); e.State != "deleted" {
		t.Errorf("delete gave %q", e.State)
	}
	if status, _, _ := call("DELETE", fmt.Sprintf("/api/v1/courses/42/enrollments/%d", first.ID), ""); status != 404 {
		t.Errorf("DELETE of a deleted enrollment = %d, want 404", status)
	}
	if n := len(fake.Enrollments()); n != 1 {
		t.Errorf("%d enrollments, want 1", n)
	}
}

func TestFakeCanvasCreateUserConflicts(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantText   string
	}{
		{"login taken, any case", "pseudonym[unique_id]=ANN@example.com&pseudonym[sis_user_id]=E200", 400, "ID already in use for this account and authentication provider"},
		{"SIS id taken", "pseudonym[unique_id]=ann2@example.com&pseudonym[sis_user_id]=E100", 400, `SIS ID \"E100\" is already in use`},
		{"no login", "user[name]=Nobody", 400, `"unique_id":[{"attribute":"unique_id"`},
		{"new", "user[name]=Cy%20Doe&pseudonym[unique_id]=cy&pseudonym[sis_user_id]=E300", 200, `"sortable_name":"Doe, Cy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := do(t, fake, canvasCall{method: "POST", path: "/api/v1/accounts/self/users", contentType: form, body: tt.body})
			if a.status != tt.wantStatus || !strings.Contains(a.body, tt.wantText) {
				t.Errorf("got %d %s, want %d with %s", a.status, a.body, tt.wantStatus, tt.wantText)
			}
		})
	}
}

func TestFakeCanvasPaginatesWithLinks(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	for i := range 25 {
		sis := fmt.Sprintf("S%02d", i)
		fake.AddUser(lmstest.CanvasUser{Name: "Student " + sis, LoginID: sis, SISUserID: sis})
		fake.AddEnrollment(sis, "42", "active", 0)
	}
	next := "/api/v1/courses/42/enrollments?type[]=StudentEnrollment"
	seen := map[int]bool{}
	pages := 0
	for next != "" {
		a := do(t, fake, canvasCall{method: "GET", path: next})
		if a.status != 200 {
			t.Fatalf("GET %s = %d %s", next, a.status, a.body)
		}
		pages++
		var batch []struct {
			ID int `json:"id"`
		}
		a.decode(t, &batch)
		if len(batch) > 10 {
			t.Errorf("page of %d, want at most the default 10", len(batch))
		}
		for _, e := range batch {
			if seen[e.ID] {
				t.Errorf("enrollment %d on two pages", e.ID)
			}
			seen[e.ID] = true
		}
		links := a.header.Get("Link")
		if !strings.Contains(links, `rel="current"`) || !strings.Contains(links, `rel="first"`) {
			t.Errorf("Link %q lacks current or first", links)
		}
		next = ""
		for _, l := range strings.Split(links, ",") {
			if strings.HasSuffix(l, `rel="next"`) {
				raw := strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ";")[0], "<"), ">")
				u, err := url.Parse(raw)
				if err != nil || !u.IsAbs() || !strings.Contains(u.RawQuery, "bookmark") {
					t.Fatalf("next link %q is not an absolute bookmark URL", raw)
				}
				next = raw
			}
		}
	}
	if pages != 3 || len(seen) != 25 {
		t.Errorf("%d pages, %d enrollments; want 3 pages, 25 enrollments", pages, len(seen))
	}
}

func TestFakeCanvasRateLimitedAnswer(t *testing.T) {
	t.Parallel()
	fake := newFakeCanvas(t)
	fake.Faults.Add(lmstest.RateLimited(1, ""))
	a := do(t, fake, canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E100"})
	if a.status != 403 || a.body != "403 Forbidden (Rate Limit Exceeded)\n" || a.header.Get("X-Rate-Limit-Remaining") != "0.0" {
		t.Errorf("throttled answer = %d %q remaining %q", a.status, a.body, a.header.Get("X-Rate-Limit-Remaining"))
	}
	a = do(t, fake, canvasCall{method: "GET", path: "/api/v1/users/sis_user_id:E100"})
	if a.status != 200 || a.header.Get("X-Request-Cost") == "" || a.header.Get("X-Rate-Limit-Remaining") == "0.0" {
		t.Errorf("next answer = %d, cost %q remaining %q", a.status, a.header.Get("X-Request-Cost"), a.header.Get("X-Rate-Limit-Remaining"))
	}
	if n := fake.Count(lmstest.CanvasGetUser); n != 1 {
		t.Errorf("Count = %d, want 1 (the throttled request never reached Canvas)", n)
	}
}
