package lms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/lms/lmstest"
)

// canvasToken is long and distinctive, so finding it in an error string
// cannot be a coincidence.
const canvasToken = "cnvs-7f3a9c2e-token-DO-NOT-LEAK"

const canvasCourse = "ENG-101"

type canvasBundle struct {
	fake *lmstest.Canvas
	conn lms.Connector
}

func setupCanvas(t *testing.T) *canvasBundle {
	t.Helper()
	fake := lmstest.NewCanvas(t, canvasToken)
	fake.AddCourse(42, canvasCourse)
	return &canvasBundle{fake: fake, conn: newCanvasConnector(t, fake.URL, canvasToken, "")}
}

func newCanvasConnector(t *testing.T, url, token, account string) lms.Connector {
	t.Helper()
	conn, err := lms.New(canvasSpec(url, account), lms.Deps{Env: canvasEnv(token)})
	if err != nil {
		t.Fatalf("lms.New: %v", err)
	}
	return conn
}

func canvasSpec(url, account string) lms.Spec {
	return lms.Spec{Name: "canvas", Type: "canvas", URL: url, TokenEnv: "CANVAS_TOKEN", AccountID: account, Timeout: 5 * time.Second}
}

func canvasEnv(token string) lms.Env {
	return func(name string) (string, bool) {
		if name == "CANVAS_TOKEN" && token != "" {
			return token, true
		}
		return "", false
	}
}

// canvasAnn is the user most tests deliver: SIS user id E100, login
// ann@example.com.
func canvasAnn() lms.User {
	return lms.User{ID: "scim-1", UserName: "ann@example.com", ExternalID: "E100", Email: "ann.lee@example.com",
		DisplayName: "Ann Lee", GivenName: "Ann", FamilyName: "Lee"}
}

func canvasDelivery(op lms.Op, course string) lms.Delivery {
	return lms.Delivery{ID: "dlv-1", Op: op, User: canvasAnn(), Course: course, Bundle: "onboarding",
		CorrelationID: "corr-canvas-1", Time: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (b *canvasBundle) deliver(t *testing.T, op lms.Op, course string) {
	t.Helper()
	if err := b.conn.Deliver(t.Context(), canvasDelivery(op, course)); err != nil {
		t.Fatalf("Deliver(%s, %s): %v", op, course, err)
	}
}

func wantEnrollment(t *testing.T, fake *lmstest.Canvas, sis, course, want string) {
	t.Helper()
	got, ok := fake.Enrollment(sis, course)
	switch {
	case want == "" && ok:
		t.Errorf("enrollment of %s in %s: state %q, want none", sis, course, got)
	case want != "" && got != want:
		t.Errorf("enrollment of %s in %s: state %q (exists %v), want %q", sis, course, got, ok, want)
	}
}

func wantCounts(t *testing.T, fake *lmstest.Canvas, want map[string]int) {
	t.Helper()
	for endpoint, n := range want {
		if got := fake.Count(endpoint); got != n {
			t.Errorf("%s: %d requests, want %d", endpoint, got, n)
		}
	}
}

// wantNoToken fails when err's text holds the token.
func wantNoToken(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canvasToken) {
		t.Errorf("error contains the token: %v", err)
	}
}

func TestCanvasDeliverSequences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		seed func(*lmstest.Canvas)
		ops  []lms.Op
		// want is the final state of Ann's enrollment; "" means none.
		want       string
		wantCounts map[string]int
		wantUsers  int
	}{
		{
			name: "enroll creates the user and the enrollment",
			ops:  []lms.Op{lms.OpEnroll},
			want: "active",
			wantCounts: map[string]int{lmstest.CanvasGetUser: 1, lmstest.CanvasCreateUser: 1,
				lmstest.CanvasListEnrollments: 1, lmstest.CanvasEnrollUser: 1},
			wantUsers: 1,
		},
		{
			name:       "enroll twice creates one user and one enrollment",
			ops:        []lms.Op{lms.OpEnroll, lms.OpEnroll},
			want:       "active",
			wantCounts: map[string]int{lmstest.CanvasCreateUser: 1, lmstest.CanvasEnrollUser: 1, lmstest.CanvasListEnrollments: 2},
			wantUsers:  1,
		},
		{
			name: "an existing user is not created again",
			seed: func(f *lmstest.Canvas) {
				f.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ann@example.com", SISUserID: "E100"})
			},
			ops:        []lms.Op{lms.OpEnroll},
			want:       "active",
			wantCounts: map[string]int{lmstest.CanvasCreateUser: 0, lmstest.CanvasEnrollUser: 1},
			wantUsers:  1,
		},
		{
			name:       "suspend deactivates",
			ops:        []lms.Op{lms.OpEnroll, lms.OpSuspend},
			want:       "inactive",
			wantCounts: map[string]int{lmstest.CanvasDeleteEnrollment: 1},
			wantUsers:  1,
		},
		{
			name:       "suspend twice deactivates once",
			ops:        []lms.Op{lms.OpEnroll, lms.OpSuspend, lms.OpSuspend},
			want:       "inactive",
			wantCounts: map[string]int{lmstest.CanvasDeleteEnrollment: 1},
			wantUsers:  1,
		},
		{
			name:       "suspend then enroll reactivates",
			ops:        []lms.Op{lms.OpEnroll, lms.OpSuspend, lms.OpEnroll},
			want:       "active",
			wantCounts: map[string]int{lmstest.CanvasReactivate: 1, lmstest.CanvasEnrollUser: 1},
			wantUsers:  1,
		},
		{
			name:       "unenroll concludes",
			ops:        []lms.Op{lms.OpEnroll, lms.OpUnenroll},
			want:       "completed",
			wantCounts: map[string]int{lmstest.CanvasDeleteEnrollment: 1},
			wantUsers:  1,
		},
		{
			name:       "unenroll twice concludes once",
			ops:        []lms.Op{lms.OpEnroll, lms.OpUnenroll, lms.OpUnenroll},
			want:       "completed",
			wantCounts: map[string]int{lmstest.CanvasDeleteEnrollment: 1},
			wantUsers:  1,
		},
		{
			name:       "unenroll concludes a suspended enrollment",
			ops:        []lms.Op{lms.OpEnroll, lms.OpSuspend, lms.OpUnenroll},
			want:       "completed",
			wantCounts: map[string]int{lmstest.CanvasDeleteEnrollment: 2},
			wantUsers:  1,
		},
		{
			name: "enroll after unenroll revives the concluded enrollment",
			ops:  []lms.Op{lms.OpEnroll, lms.OpUnenroll, lms.OpEnroll},
			want: "active",
			// The second POST reuses the concluded enrollment (checked below:
			// one enrollment in all).
			wantCounts: map[string]int{lmstest.CanvasEnrollUser: 2},
			wantUsers:  1,
		},
		{
			name:       "unenroll of a missing user succeeds without creating one",
			ops:        []lms.Op{lms.OpUnenroll},
			wantCounts: map[string]int{lmstest.CanvasGetUser: 1, lmstest.CanvasCreateUser: 0, lmstest.CanvasListEnrollments: 0},
		},
		{
			name:       "suspend of a missing user succeeds without creating one",
			ops:        []lms.Op{lms.OpSuspend},
			wantCounts: map[string]int{lmstest.CanvasGetUser: 1, lmstest.CanvasCreateUser: 0, lmstest.CanvasListEnrollments: 0},
		},
		{
			name: "suspend and unenroll without an enrollment succeed",
			seed: func(f *lmstest.Canvas) {
				f.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ann@example.com", SISUserID: "E100"})
			},
			ops:        []lms.Op{lms.OpSuspend, lms.OpUnenroll},
			wantCounts: map[string]int{lmstest.CanvasListEnrollments: 2, lmstest.CanvasDeleteEnrollment: 0},
			wantUsers:  1,
		},
		{
			name: "enroll leaves an invited enrollment alone",
			seed: func(f *lmstest.Canvas) {
				f.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ann@example.com", SISUserID: "E100"})
				f.AddEnrollment("E100", canvasCourse, "invited", 0)
			},
			ops:        []lms.Op{lms.OpEnroll},
			want:       "invited",
			wantCounts: map[string]int{lmstest.CanvasEnrollUser: 0},
			wantUsers:  1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupCanvas(t)
			if tt.seed != nil {
				tt.seed(b.fake)
			}
			for _, op := range tt.ops {
				b.deliver(t, op, canvasCourse)
			}
			wantEnrollment(t, b.fake, "E100", canvasCourse, tt.want)
			wantCounts(t, b.fake, tt.wantCounts)
			if got := len(b.fake.Users()); got != tt.wantUsers {
				t.Errorf("%d users in Canvas, want %d", got, tt.wantUsers)
			}
			if n := len(b.fake.Enrollments()); tt.want != "" && n != 1 {
				t.Errorf("%d enrollments in Canvas, want 1", n)
			}
		})
	}
}

func TestCanvasCreatesUserAsConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		account     string
		user        lms.User
		wantAccount string
		want        lmstest.CanvasUser
	}{
		{
			name:        "externalId is the SIS id, userName the login, default account self",
			user:        canvasAnn(),
			wantAccount: "/api/v1/accounts/self/users",
			want: lmstest.CanvasUser{Name: "Ann Lee", ShortName: "Ann Lee", SortableName: "Lee, Ann",
				LoginID: "ann@example.com", SISUserID: "E100", Email: "ann.lee@example.com",
				SkipRegistration: true, SkipConfirmation: true},
		},
		{
			name:        "without externalId the userName is the SIS id",
			account:     "1",
			user:        lms.User{ID: "scim-2", UserName: "bob", GivenName: "Bob", FamilyName: "Ray"},
			wantAccount: "/api/v1/accounts/1/users",
			want: lmstest.CanvasUser{Name: "Bob Ray", ShortName: "Bob Ray", SortableName: "Ray, Bob",
				LoginID: "bob", SISUserID: "bob", SkipRegistration: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lmstest.NewCanvas(t, canvasToken)
			fake.AddCourse(42, canvasCourse)
			conn := newCanvasConnector(t, fake.URL, canvasToken, tt.account)
			d := canvasDelivery(lms.OpEnroll, canvasCourse)
			d.User = tt.user
			if err := conn.Deliver(t.Context(), d); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			users := fake.Users()
			if len(users) != 1 {
				t.Fatalf("%d users, want 1", len(users))
			}
			got := users[0]
			got.ID, got.CreatedAt = 0, time.Time{}
			if got != tt.want {
				t.Errorf("created user\n got %+v\nwant %+v", got, tt.want)
			}
			for _, r := range fake.Requests() {
				if r.Endpoint == lmstest.CanvasCreateUser && r.Path != tt.wantAccount {
					t.Errorf("user created at %s, want %s", r.Path, tt.wantAccount)
				}
			}
			for _, e := range fake.Enrollments() {
				if e.Notify {
					t.Errorf("enrollment %d asked Canvas to notify the user", e.ID)
				}
			}
		})
	}
}

func TestCanvasCourseIDsInPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		courseID int
		sis      string
		course   string // as the bundle names it
		wantPath string // of the enrollments list
	}{
		{"digits are a Canvas course id", 42, "", "42", "/api/v1/courses/42/enrollments"},
		{"other ids are SIS course ids", 43, "ENG-101", "ENG-101", "/api/v1/courses/sis_course_id:ENG-101/enrollments"},
		{"slash, period and non-ASCII are escaped", 44, "CS/101.11é", "CS/101.11é", "/api/v1/courses/sis_course_id:CS%2F101%2E11%C3%A9/enrollments"},
		{"a .json suffix is not a format", 45, "notes.json", "notes.json", "/api/v1/courses/sis_course_id:notes%2Ejson/enrollments"},
		{"reserved characters are escaped", 46, "A&B 1?#%", "A&B 1?#%", "/api/v1/courses/sis_course_id:A&B%201%3F%23%25/enrollments"},
		{"an explicit sis_course_id prefix is kept", 47, "HIST 2", "sis_course_id:HIST 2", "/api/v1/courses/sis_course_id:HIST%202/enrollments"},
		{"more than 18 digits is a SIS id", 48, "1234567890123456789", "1234567890123456789", "/api/v1/courses/sis_course_id:1234567890123456789/enrollments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lmstest.NewCanvas(t, canvasToken)
			fake.AddCourse(tt.courseID, tt.sis)
			conn := newCanvasConnector(t, fake.URL, canvasToken, "")
			if err := conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, tt.course)); err != nil {
				t.Fatalf("Deliver: %v", err)
			}
			wantEnrollment(t, fake, "E100", fmt.Sprint(tt.courseID), "active")
			var paths []string
			for _, r := range fake.Requests() {
				if r.Endpoint == lmstest.CanvasListEnrollments {
					paths = append(paths, r.Path)
				}
			}
			if len(paths) != 1 || paths[0] != tt.wantPath {
				t.Errorf("enrollments listed at %q, want [%s]", paths, tt.wantPath)
			}
		})
	}
}

func TestCanvasFollowsPagination(t *testing.T) {
	t.Parallel()
	// Ann has many enrollments in the course, one per section; the fake
	// serves two a page.
	seed := func(t *testing.T, states ...string) *canvasBundle {
		t.Helper()
		b := setupCanvas(t)
		b.fake.SetMaxPerPage(2)
		b.fake.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ann@example.com", SISUserID: "E100"})
		for _, s := range states {
			b.fake.AddEnrollment("E100", canvasCourse, s, b.fake.AddSection(canvasCourse))
		}
		return b
	}
	t.Run("enroll finds the active enrollment on the last page", func(t *testing.T) {
		t.Parallel()
		b := seed(t, "completed", "completed", "completed", "completed", "active")
		b.deliver(t, lms.OpEnroll, canvasCourse)
		wantCounts(t, b.fake, map[string]int{lmstest.CanvasListEnrollments: 3, lmstest.CanvasEnrollUser: 0, lmstest.CanvasReactivate: 0})
	})
	t.Run("unenroll concludes enrollments on every page", func(t *testing.T) {
		t.Parallel()
		b := seed(t, "inactive", "active", "completed", "inactive", "active")
		b.deliver(t, lms.OpUnenroll, canvasCourse)
		wantCounts(t, b.fake, map[string]int{lmstest.CanvasListEnrollments: 3, lmstest.CanvasDeleteEnrollment: 4})
		for _, e := range b.fake.Enrollments() {
			if e.State != "completed" {
				t.Errorf("enrollment %d is %s, want completed", e.ID, e.State)
			}
		}
	})
}

func TestCanvasRateLimitIsRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"with Retry-After", "7", 7 * time.Second},
		{"without Retry-After", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupCanvas(t)
			b.fake.Faults.Add(lmstest.RateLimited(1, tt.retryAfter))
			err := b.conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
			var e *lms.Error
			if !errors.As(err, &e) || e.Status != http.StatusForbidden {
				t.Fatalf("Deliver = %v, want an *lms.Error with status 403", err)
			}
			if lms.IsPermanent(err) {
				t.Errorf("a rate-limited delivery is permanent: %v", err)
			}
			if got := lms.RetryAfter(err); got != tt.want {
				t.Errorf("RetryAfter = %v, want %v", got, tt.want)
			}
			if !strings.Contains(err.Error(), "rate limit") {
				t.Errorf("error %q does not say rate limit", err)
			}
			b.deliver(t, lms.OpEnroll, canvasCourse) // the retry
			wantEnrollment(t, b.fake, "E100", canvasCourse, "active")
		})
	}
}

func TestCanvasErrorsAreClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		token         string // the connector's; canvasToken when empty
		course        string
		fault         func(*lmstest.Canvas)
		wantStatus    int
		wantPermanent bool
		wantRetry     time.Duration
		wantMessage   string
	}{
		{
			name:          "401 for a wrong token is permanent",
			token:         canvasToken + "-revoked",
			wantStatus:    http.StatusUnauthorized,
			wantPermanent: true,
			wantMessage:   "Invalid access token.",
		},
		{
			name: "403 without rate limiting is permanent",
			fault: func(f *lmstest.Canvas) {
				f.FaultsFor(lmstest.CanvasGetUser).Add(lmstest.Fault{Times: 1, Status: http.StatusForbidden,
					Body: `{"status":"unauthorized","errors":[{"message":"user not authorized to perform that action"}]}`})
			},
			wantStatus:    http.StatusForbidden,
			wantPermanent: true,
			wantMessage:   "user not authorized to perform that action",
		},
		{
			name:          "an unknown course is permanent",
			course:        "NOPE-1",
			wantStatus:    http.StatusNotFound,
			wantPermanent: true,
			wantMessage:   `no course "NOPE-1" in Canvas: The specified resource does not exist.`,
		},
		{
			name: "400 is permanent with Canvas's message",
			fault: func(f *lmstest.Canvas) {
				f.FaultsFor(lmstest.CanvasEnrollUser).Add(lmstest.Fault{Times: 1, Status: http.StatusBadRequest,
					Body: `{"message":"Can't add an enrollment to a concluded course."}`})
			},
			wantStatus:    http.StatusBadRequest,
			wantPermanent: true,
			wantMessage:   "Can't add an enrollment to a concluded course.",
		},
		{
			name: "500 is retryable",
			fault: func(f *lmstest.Canvas) {
				f.Faults.Add(lmstest.Fault{Times: 1, Status: http.StatusInternalServerError})
			},
			wantStatus: http.StatusInternalServerError,
		},
		{
			name: "503 with Retry-After is retryable after it",
			fault: func(f *lmstest.Canvas) {
				f.FaultsFor(lmstest.CanvasListEnrollments).Add(lmstest.Fault{Times: 1, Status: http.StatusServiceUnavailable, RetryAfter: "30"})
			},
			wantStatus: http.StatusServiceUnavailable,
			wantRetry:  30 * time.Second,
		},
		{
			name: "429 is retryable",
			fault: func(f *lmstest.Canvas) {
				f.Faults.Add(lmstest.Fault{Times: 1, Status: http.StatusTooManyRequests, RetryAfter: "3"})
			},
			wantStatus: http.StatusTooManyRequests,
			wantRetry:  3 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := lmstest.NewCanvas(t, canvasToken)
			fake.AddCourse(42, canvasCourse)
			token := tt.token
			if token == "" {
				token = canvasToken
			}
			conn := newCanvasConnector(t, fake.URL, token, "")
			if tt.fault != nil {
				tt.fault(fake)
			}
			course := tt.course
			if course == "" {
				course = canvasCourse
			}
			err := conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, course))
			var e *lms.Error
			if !errors.As(err, &e) {
				t.Fatalf("Deliver = %v, want an *lms.Error", err)
			}
			if e.Status != tt.wantStatus || e.Permanent != tt.wantPermanent || e.RetryAfter != tt.wantRetry {
				t.Errorf("got status %d permanent %v retry after %v, want %d %v %v (%v)",
					e.Status, e.Permanent, e.RetryAfter, tt.wantStatus, tt.wantPermanent, tt.wantRetry, err)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("error %q does not contain %q", err, tt.wantMessage)
			}
			if strings.Contains(err.Error(), "{") {
				t.Errorf("error %q carries raw JSON instead of Canvas's message", err)
			}
			wantNoToken(t, err)
			if strings.Contains(err.Error(), token) {
				t.Errorf("error contains the connector's token: %v", err)
			}
		})
	}
}

func TestCanvasTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	// A misbehaving server (or proxy) that echoes the request's headers.
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf(`{"errors":[{"message":"bad header %s"}]}`, r.Header.Get("Authorization")), http.StatusBadRequest)
	}))
	t.Cleanup(echo.Close)
	conn := newCanvasConnector(t, echo.URL, canvasToken, "")
	err := conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
	if err == nil {
		t.Fatal("Deliver succeeded against a server answering 400")
	}
	wantNoToken(t, err)
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error %q does not show where the token was redacted", err)
	}
	if !lms.IsPermanent(err) {
		t.Errorf("a 400 is not permanent: %v", err)
	}

	// And a server that is not there at all.
	echo.Close()
	err = conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
	if err == nil || lms.IsPermanent(err) {
		t.Errorf("Deliver to a closed server = %v, want a retryable error", err)
	}
	wantNoToken(t, err)
}

func TestCanvasDroppedAnswerThenRetry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		endpoint string
		before   []lms.Op // delivered without faults first
		op       lms.Op
		want     string
	}{
		{"enroll POST", lmstest.CanvasEnrollUser, nil, lms.OpEnroll, "active"},
		{"user creation", lmstest.CanvasCreateUser, nil, lms.OpEnroll, "active"},
		{"reactivation", lmstest.CanvasReactivate, []lms.Op{lms.OpEnroll, lms.OpSuspend}, lms.OpEnroll, "active"},
		{"conclusion", lmstest.CanvasDeleteEnrollment, []lms.Op{lms.OpEnroll}, lms.OpUnenroll, "completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupCanvas(t)
			for _, op := range tt.before {
				b.deliver(t, op, canvasCourse)
			}
			b.fake.FaultsFor(tt.endpoint).Add(lmstest.Fault{Times: 1, DropAfterWrite: true})
			err := b.conn.Deliver(t.Context(), canvasDelivery(tt.op, canvasCourse))
			if err == nil || lms.IsPermanent(err) {
				t.Fatalf("Deliver with a dropped answer = %v, want a retryable error", err)
			}
			wantNoToken(t, err)
			b.deliver(t, tt.op, canvasCourse) // the retry
			wantEnrollment(t, b.fake, "E100", canvasCourse, tt.want)
			if n := len(b.fake.Users()); n != 1 {
				t.Errorf("%d users, want 1", n)
			}
			if n := len(b.fake.Enrollments()); n != 1 {
				t.Errorf("%d enrollments, want 1", n)
			}
			if n := b.fake.Count(tt.endpoint); n != 1 {
				t.Errorf("%s reached %d times, want 1 (the retry must see the change)", tt.endpoint, n)
			}
		})
	}
}

func TestCanvasUserCreatedMeanwhile(t *testing.T) {
	t.Parallel()
	b := setupCanvas(t)
	b.fake.AddUser(lmstest.CanvasUser{Name: "Ann Lee", LoginID: "ANN@example.com", SISUserID: "E100"})
	// The first lookup misses it, as if it were created just after.
	b.fake.FaultsFor(lmstest.CanvasGetUser).Add(lmstest.Fault{Times: 1, Status: http.StatusNotFound,
		Body: `{"errors":[{"message":"The specified resource does not exist."}]}`})
	b.deliver(t, lms.OpEnroll, canvasCourse)
	wantEnrollment(t, b.fake, "E100", canvasCourse, "active")
	wantCounts(t, b.fake, map[string]int{lmstest.CanvasCreateUser: 1, lmstest.CanvasGetUser: 1})
	if n := len(b.fake.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
}

func TestCanvasLoginTakenByAnotherUser(t *testing.T) {
	t.Parallel()
	b := setupCanvas(t)
	b.fake.AddUser(lmstest.CanvasUser{Name: "Other Ann", LoginID: "ann@example.com", SISUserID: "X999"})
	err := b.conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
	if !lms.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a permanent error", err)
	}
	for _, want := range []string{"already in use", "ann@example.com", "E100"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	wantEnrollment(t, b.fake, "E100", canvasCourse, "")
}

func TestCanvasSendsCorrelationID(t *testing.T) {
	t.Parallel()
	b := setupCanvas(t)
	for _, op := range []lms.Op{lms.OpEnroll, lms.OpSuspend, lms.OpEnroll, lms.OpUnenroll} {
		b.deliver(t, op, canvasCourse)
	}
	reqs := b.fake.Requests()
	if len(reqs) < 8 {
		t.Fatalf("only %d requests reached Canvas", len(reqs))
	}
	for _, r := range reqs {
		if r.CorrelationID != "corr-canvas-1" {
			t.Errorf("%s %s: X-Correlation-ID %q, want corr-canvas-1", r.Method, r.Path, r.CorrelationID)
		}
		if r.UserAgent != "onramp" {
			t.Errorf("%s %s: User-Agent %q, want onramp", r.Method, r.Path, r.UserAgent)
		}
	}
}

func TestCanvasHonoursDeadline(t *testing.T) {
	t.Parallel()
	b := setupCanvas(t)
	b.fake.FaultsFor(lmstest.CanvasListEnrollments).Add(lmstest.Fault{Times: 1, Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := b.conn.Deliver(ctx, canvasDelivery(lms.OpEnroll, canvasCourse))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Deliver took %v past a 200ms deadline", took)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Deliver = %v, want context.DeadlineExceeded", err)
	}
	if lms.IsPermanent(err) {
		t.Errorf("a timed-out delivery is permanent: %v", err)
	}
	wantCounts(t, b.fake, map[string]int{lmstest.CanvasEnrollUser: 0})
}

func TestCanvasConcurrentEnrollsMakeOneOfEach(t *testing.T) {
	t.Parallel()
	b := setupCanvas(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- b.conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Deliver: %v", err)
		}
	}
	if n := len(b.fake.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	if n := len(b.fake.Enrollments()); n != 1 {
		t.Errorf("%d enrollments, want 1", n)
	}
	wantEnrollment(t, b.fake, "E100", canvasCourse, "active")
}

func TestCanvasRefusesNextLinkToAnotherHost(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		_, _ = io.WriteString(w, "[]")
	}))
	t.Cleanup(other.Close)
	canvas := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v1/users/"):
			_, _ = io.WriteString(w, `{"id":7,"name":"Ann Lee","sis_user_id":"E100","login_id":"ann@example.com"}`)
		case strings.HasSuffix(r.URL.Path, "/enrollments"):
			w.Header().Set("Link", `<`+other.URL+`/api/v1/courses/42/enrollments?page=2>; rel="next"`)
			_, _ = io.WriteString(w, "[]")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(canvas.Close)
	conn := newCanvasConnector(t, canvas.URL, canvasToken, "")
	err := conn.Deliver(t.Context(), canvasDelivery(lms.OpEnroll, canvasCourse))
	if !lms.IsPermanent(err) || !strings.Contains(err.Error(), "Link") {
		t.Errorf("Deliver = %v, want a permanent error about the Link", err)
	}
	if n := stolen.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}
}

func TestNewCanvasChecksConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    lms.Spec
		token   string
		wantErr []string // substrings; none means success
	}{
		{name: "valid, account self by default", spec: canvasSpec("https://canvas.example.com", ""), token: canvasToken},
		{name: "valid numeric account and /api/v1 suffix", spec: canvasSpec("https://canvas.example.com/api/v1/", "1"), token: canvasToken},
		{name: "valid SIS account", spec: canvasSpec("https://canvas.example.com", "sis_account_id:HR.1"), token: canvasToken},
		{
			name:    "token_env missing",
			spec:    func() lms.Spec { s := canvasSpec("https://canvas.example.com", ""); s.TokenEnv = ""; return s }(),
			token:   canvasToken,
			wantErr: []string{"token_env is required"},
		},
		{name: "token not set", spec: canvasSpec("https://canvas.example.com", ""), wantErr: []string{"CANVAS_TOKEN", "not set"}},
		{name: "not http", spec: canvasSpec("ftp://canvas.example.com", ""), token: canvasToken, wantErr: []string{"url"}},
		{name: "a query in the url", spec: canvasSpec("https://canvas.example.com?x=1", ""), token: canvasToken, wantErr: []string{"url"}},
		{name: "a malformed account", spec: canvasSpec("https://canvas.example.com", "root account"), token: canvasToken, wantErr: []string{"account_id"}},
		{name: "not absolute", spec: canvasSpec("canvas.example.com", ""), token: canvasToken, wantErr: []string{"url"}},
		{
			name:    "every problem at once",
			spec:    canvasSpec("canvas.example.com", ""),
			wantErr: []string{"url", "not set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := lms.New(tt.spec, lms.Deps{Env: canvasEnv(tt.token)})
			if len(tt.wantErr) == 0 {
				if err != nil || conn == nil {
					t.Fatalf("New = %v, %v; want a connector", conn, err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			wantNoToken(t, err)
		})
	}
}

func TestCanvasRejectsBadDeliveries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*lms.Delivery)
	}{
		{"unknown op", func(d *lms.Delivery) { d.Op = "graduate" }},
		{"no ids", func(d *lms.Delivery) { d.User.ExternalID, d.User.UserName = "", "" }},
		{"no course", func(d *lms.Delivery) { d.Course = " " }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupCanvas(t)
			d := canvasDelivery(lms.OpEnroll, canvasCourse)
			tt.edit(&d)
			if err := b.conn.Deliver(t.Context(), d); !lms.IsPermanent(err) {
				t.Errorf("Deliver = %v, want a permanent error", err)
			}
			if n := len(b.fake.Requests()); n != 0 {
				t.Errorf("%d requests reached Canvas, want 0", n)
			}
		})
	}
}
