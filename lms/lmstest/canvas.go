package lmstest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Canvas is a fake Canvas LMS speaking the parts of the REST API that
// Onramp's canvas connector uses, with real state:
//
//	GET    /api/v1/users/:id                                     show a user
//	POST   /api/v1/accounts/:account_id/users                    create a user
//	GET    /api/v1/courses/:course_id/enrollments                list enrollments
//	POST   /api/v1/courses/:course_id/enrollments                enroll a user
//	PUT    /api/v1/courses/:course_id/enrollments/:id/reactivate reactivate
//	DELETE /api/v1/courses/:course_id/enrollments/:id            conclude, deactivate or delete
//
// It follows Canvas's source (instructure/canvas-lms) where it matters to a
// client:
//   - Authentication: "Authorization: Bearer <token>" or access_token; a
//     wrong token is 401 {"errors":[{"message":"Invalid access token."}]},
//     none is 401 "user authorization required".
//   - Ids in the path may be Canvas ids or SIS ids (sis_user_id:,
//     sis_login_id:, sis_course_id:, sis_integration_id:, and the
//     deprecated hex: form), percent-decoded per path segment, so an
//     escaped "/" stays inside its id (lib/api.rb sis_parse_id; the Object
//     IDs guide). A final segment ending in ".json" is a format suffix, as
//     in lib/api_route_set.rb, which is why SIS ids escape "." as %2E.
//   - Unknown objects are 404 {"errors":[{"message":"The specified resource
//     does not exist."}]}.
//   - Parameters come from the query string and from form-encoded,
//     multipart or JSON bodies, nested as Rails nests them
//     (enrollment[user_id]=1 and {"enrollment":{"user_id":1}} alike).
//   - Creating a user whose login (case-insensitive) or SIS id is taken is
//     400 with Canvas's field errors ("ID already in use for this account
//     and authentication provider", "SIS ID \"x\" is already in use").
//   - Enrolling reuses the user's enrollment of that type in the same
//     section, if any: an active one comes back unchanged, any other gets
//     the requested state (Course#enroll_user with
//     allow_multiple_enrollments: true, as the API's create passes). So
//     POSTing twice never makes a duplicate. enrollment_state defaults to
//     invited.
//   - Reactivating an enrollment that is not inactive is 400 {"error":
//     "enrollment not inactive"}; DELETE's task defaults to conclude
//     (completed), deactivate/inactivate make it inactive, delete deleted;
//     deleted enrollments are 404 to both (EnrollmentsApiController).
//   - Lists are paginated: per_page defaults to 10 and is capped at
//     [Canvas.SetMaxPerPage] (100 by default, Canvas's usual), pages are
//     opaque bookmarks in absolute Link URLs with rel current, next and
//     first (bookmarked lists have no rel="last"). Listing a user's
//     enrollments in a course without state[] gives active and invited ones.
//   - Every answer carries X-Request-Cost and X-Rate-Limit-Remaining; a
//     throttled one is 403 "403 Forbidden (Rate Limit Exceeded)" with
//     X-Rate-Limit-Remaining: 0.0 (app/middleware/request_throttle.rb):
//     queue [RateLimited] faults to get one.
//
// There is one account (id 1, also "self"); every course has a default
// section, where the API enrolls users. The token owner may do anything.
// Canvas is safe for concurrent use.
type Canvas struct {
	// URL is the fake's base URL, e.g. http://127.0.0.1:1234; the API is
	// under /api/v1.
	URL string
	// Faults misbehave on every request, in order; [Canvas.FaultsFor]
	// keeps faults for one endpoint.
	Faults *Faults

	srv   *httptest.Server
	token string

	mu          sync.Mutex
	users       []*CanvasUser
	courses     []*canvasCourse
	sections    map[int]int // section id -> course id
	enrollments []*CanvasEnrollment
	nextID      int
	maxPerPage  int
	requests    []CanvasRequest
	endpointFlt map[string]*Faults
}

// The endpoints the fake serves, as [Canvas.Count] and [Canvas.FaultsFor]
// name them.
const (
	CanvasGetUser          = "GET /api/v1/users/:id"
	CanvasCreateUser       = "POST /api/v1/accounts/:account_id/users"
	CanvasListEnrollments  = "GET /api/v1/courses/:course_id/enrollments"
	CanvasEnrollUser       = "POST /api/v1/courses/:course_id/enrollments"
	CanvasReactivate       = "PUT /api/v1/courses/:course_id/enrollments/:id/reactivate"
	CanvasDeleteEnrollment = "DELETE /api/v1/courses/:course_id/enrollments/:id"
)

// CanvasRateLimitBody is the body of Canvas's throttled answer.
const CanvasRateLimitBody = "403 Forbidden (Rate Limit Exceeded)"

// canvasNotFound is Canvas's answer for an object that does not exist.
const canvasNotFound = `{"errors":[{"message":"The specified resource does not exist."}]}`

// CanvasUser is a user with one login (pseudonym) in the fake's account.
type CanvasUser struct {
	ID           int
	Name         string
	ShortName    string
	SortableName string
	LoginID      string // the login's unique_id
	SISUserID    string
	Email        string // the email communication channel, if any
	// SkipRegistration, SendConfirmation and SkipConfirmation record what
	// the create call asked for.
	SkipRegistration bool
	SendConfirmation bool
	SkipConfirmation bool
	CreatedAt        time.Time
}

// CanvasEnrollment is one enrollment of a user in a course section.
type CanvasEnrollment struct {
	ID              int
	UserID          int
	CourseID        int
	CourseSectionID int
	Type            string // StudentEnrollment, TeacherEnrollment, ...
	// State is the workflow state: active, invited, creation_pending,
	// inactive, completed, rejected or deleted.
	State string
	// Notify records whether the last enroll call asked Canvas to notify
	// the user.
	Notify    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CanvasRequest is one request that reached the fake's handler.
type CanvasRequest struct {
	Endpoint      string // one of the Canvas* endpoint constants, "" when no route matched
	Method        string
	Path          string // as sent, escaped
	Query         string
	CorrelationID string // X-Correlation-ID
	UserAgent     string
}

type canvasCourse struct {
	id             int
	sisCourseID    string
	defaultSection int
}

// RateLimited is Canvas's throttled answer, for times requests, with
// Retry-After when retryAfter is not empty (Canvas itself sends none; a
// proxy in front of it may). Queue it on [Canvas.Faults] or
// [Canvas.FaultsFor].
func RateLimited(times int, retryAfter string) Fault {
	return Fault{Times: times, Status: http.StatusForbidden, Body: CanvasRateLimitBody, RetryAfter: retryAfter}
}

// NewCanvas starts a fake Canvas that accepts token, closed when the test
// ends.
func NewCanvas(t testing.TB, token string) *Canvas {
	t.Helper()
	c := &Canvas{
		Faults:      &Faults{},
		token:       token,
		sections:    map[int]int{},
		nextID:      1,
		maxPerPage:  100,
		endpointFlt: map[string]*Faults{},
	}
	c.srv = httptest.NewServer(canvasHeaders(c.Faults.Wrap(http.HandlerFunc(c.route))))
	c.URL = c.srv.URL
	t.Cleanup(c.Close)
	return c
}

// Close shuts the server down; the test's cleanup calls it.
func (c *Canvas) Close() { c.srv.Close() }

// FaultsFor returns the faults applied to one endpoint's requests only
// (after [Canvas.Faults]), e.g. to drop the answer to the enroll call.
func (c *Canvas) FaultsFor(endpoint string) *Faults {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.endpointFlt[endpoint]
	if !ok {
		f = &Faults{}
		c.endpointFlt[endpoint] = f
	}
	return f
}

// SetMaxPerPage caps the page size whatever per_page asks (Canvas's
// api_max_per_page setting); small values make every list paginate.
func (c *Canvas) SetMaxPerPage(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxPerPage = max(n, 1)
}

// AddCourse adds a course with Canvas id id and, when not empty, a SIS
// course id, and its default section.
func (c *Canvas) AddCourse(id int, sisCourseID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sec := c.newID()
	c.courses = append(c.courses, &canvasCourse{id: id, sisCourseID: sisCourseID, defaultSection: sec})
	c.sections[sec] = id
}

// AddSection adds a section to a course (its Canvas id or SIS course id)
// and returns the section's id.
func (c *Canvas) AddSection(course string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	co := c.courseByName(course)
	if co == nil {
		panic(fmt.Sprintf("lmstest: Canvas has no course %q", course))
	}
	sec := c.newID()
	c.sections[sec] = co.id
	return sec
}

// AddUser adds a user as an SIS import or an admin would; an ID of 0 is
// assigned. It returns the user as stored.
func (c *Canvas) AddUser(u CanvasUser) CanvasUser {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u.ID == 0 {
		u.ID = c.newID()
	}
	if u.Name == "" {
		u.Name = u.LoginID
	}
	fillNames(&u)
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now().UTC()
	}
	c.users = append(c.users, &u)
	return u
}

// AddEnrollment adds a StudentEnrollment in state for the user with SIS
// user id sisUserID, in a course (Canvas id or SIS course id) section;
// section 0 is the course's default section. It returns the enrollment.
func (c *Canvas) AddEnrollment(sisUserID, course, state string, section int) CanvasEnrollment {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.userBy("sis_user_id", sisUserID)
	co := c.courseByName(course)
	if u == nil || co == nil {
		panic(fmt.Sprintf("lmstest: Canvas has no user %q or no course %q", sisUserID, course))
	}
	if section == 0 {
		section = co.defaultSection
	} else if c.sections[section] != co.id {
		panic(fmt.Sprintf("lmstest: section %d is not in course %q", section, course))
	}
	now := time.Now().UTC()
	e := &CanvasEnrollment{ID: c.newID(), UserID: u.ID, CourseID: co.id, CourseSectionID: section,
		Type: "StudentEnrollment", State: state, CreatedAt: now, UpdatedAt: now}
	c.enrollments = append(c.enrollments, e)
	return *e
}

// Users returns a copy of every user, oldest first.
func (c *Canvas) Users() []CanvasUser {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CanvasUser, len(c.users))
	for i, u := range c.users {
		out[i] = *u
	}
	return out
}

// User returns the user with a SIS user id.
func (c *Canvas) User(sisUserID string) (CanvasUser, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.userBy("sis_user_id", sisUserID); u != nil {
		return *u, true
	}
	return CanvasUser{}, false
}

// Enrollments returns a copy of every enrollment, deleted ones included,
// oldest first.
func (c *Canvas) Enrollments() []CanvasEnrollment {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CanvasEnrollment, len(c.enrollments))
	for i, e := range c.enrollments {
		out[i] = *e
	}
	return out
}

// Enrollment returns the state of the StudentEnrollment of the user with
// SIS user id sisUserID in the default section of a course (its Canvas id
// or SIS course id), where the API enrolls users.
func (c *Canvas) Enrollment(sisUserID, course string) (state string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.userBy("sis_user_id", sisUserID)
	co := c.courseByName(course)
	if u == nil || co == nil {
		return "", false
	}
	for _, e := range c.enrollments {
		if e.UserID == u.ID && e.CourseSectionID == co.defaultSection && e.Type == "StudentEnrollment" {
			return e.State, true
		}
	}
	return "", false
}

// Count returns how many requests to endpoint reached the handler
// (requests answered by a fault's status do not).
func (c *Canvas) Count(endpoint string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.requests {
		if r.Endpoint == endpoint {
			n++
		}
	}
	return n
}

// Requests returns every request that reached the handler, in order.
func (c *Canvas) Requests() []CanvasRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// newID hands out ids; callers hold c.mu. Users, courses' sections and
// enrollments share one sequence, so an id of the wrong kind never
// matches by accident.
func (c *Canvas) newID() int {
	c.nextID++
	return c.nextID*7 + 100 // not small and not consecutive: ids are not counts
}

func fillNames(u *CanvasUser) {
	if u.ShortName == "" {
		u.ShortName = u.Name
	}
	if u.SortableName == "" {
		u.SortableName = u.Name
		if i := strings.LastIndex(u.Name, " "); i > 0 {
			u.SortableName = u.Name[i+1:] + ", " + u.Name[:i]
		}
	}
}

// courseByName finds a course by Canvas id or SIS course id (test helpers).
func (c *Canvas) courseByName(name string) *canvasCourse {
	for _, co := range c.courses {
		if co.sisCourseID != "" && co.sisCourseID == name {
			return co
		}
	}
	if id, err := strconv.Atoi(name); err == nil {
		for _, co := range c.courses {
			if co.id == id {
				return co
			}
		}
	}
	return nil
}

var (
	canvasIDRef  = regexp.MustCompile(`\A\d{1,18}\z`)
	canvasSISRef = regexp.MustCompile(`\A(lti_[\w_]+|sis_[\w_]+):(.+)\z`)
	canvasHexRef = regexp.MustCompile(`\Ahex:(lti_[\w_]+|sis_[\w_]+):((?:[0-9A-Fa-f]{2})+)\z`)
)

// parseRef splits an API id into its column and value, as Api.sis_parse_id
// does; column is "" for a malformed id.
func parseRef(ref string) (column, value string) {
	ref = strings.TrimSpace(ref)
	if m := canvasHexRef.FindStringSubmatch(ref); m != nil {
		b, _ := hex.DecodeString(m[2])
		return m[1], string(b)
	}
	if m := canvasSISRef.FindStringSubmatch(ref); m != nil {
		return m[1], m[2]
	}
	if canvasIDRef.MatchString(ref) {
		return "id", ref
	}
	return "", ""
}

func (c *Canvas) userBy(column, value string) *CanvasUser {
	for _, u := range c.users {
		switch column {
		case "id":
			if strconv.Itoa(u.ID) == value {
				return u
			}
		case "sis_user_id":
			if u.SISUserID != "" && u.SISUserID == value {
				return u
			}
		case "sis_login_id":
			if strings.EqualFold(u.LoginID, value) {
				return u
			}
		}
	}
	return nil
}

func (c *Canvas) findUser(ref string) *CanvasUser {
	col, val := parseRef(ref)
	if col == "" {
		return nil
	}
	return c.userBy(col, val)
}

func (c *Canvas) findCourse(ref string) *canvasCourse {
	col, val := parseRef(ref)
	for _, co := range c.courses {
		switch col {
		case "id":
			if strconv.Itoa(co.id) == val {
				return co
			}
		case "sis_course_id":
			if co.sisCourseID != "" && co.sisCourseID == val {
				return co
			}
		}
	}
	return nil
}

// route matches a request to an endpoint, then applies that endpoint's
// faults and serves it.
func (c *Canvas) route(w http.ResponseWriter, r *http.Request) {
	endpoint, args, ok := matchCanvasRoute(r)
	h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.record(endpoint, r)
		if !ok {
			writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
			return
		}
		c.serve(endpoint, args, w, r)
	}))
	if ok {
		h = c.FaultsFor(endpoint).Wrap(h)
	}
	h.ServeHTTP(w, r)
}

// matchCanvasRoute splits the escaped path into decoded segments, so an
// escaped "/" stays inside its segment, and names the endpoint.
func matchCanvasRoute(r *http.Request) (endpoint string, args []string, ok bool) {
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(raw) < 3 || raw[0] != "api" || raw[1] != "v1" {
		return "", nil, false
	}
	raw = raw[2:]
	raw[len(raw)-1] = strings.TrimSuffix(raw[len(raw)-1], ".json") // a format suffix
	segs := make([]string, len(raw))
	for i, s := range raw {
		if s == "" {
			return "", nil, false
		}
		if i < len(raw)-1 && strings.HasSuffix(s, ".json") {
			return "", nil, false // Canvas's id pattern excludes ".json" before a "/"
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return "", nil, false
		}
		segs[i] = d
	}
	m := r.Method
	switch {
	case len(segs) == 2 && segs[0] == "users" && m == http.MethodGet:
		return CanvasGetUser, []string{segs[1]}, true
	case len(segs) == 3 && segs[0] == "accounts" && segs[2] == "users" && m == http.MethodPost:
		return CanvasCreateUser, []string{segs[1]}, true
	case len(segs) == 3 && segs[0] == "courses" && segs[2] == "enrollments" && m == http.MethodGet:
		return CanvasListEnrollments, []string{segs[1]}, true
	case len(segs) == 3 && segs[0] == "courses" && segs[2] == "enrollments" && m == http.MethodPost:
		return CanvasEnrollUser, []string{segs[1]}, true
	case len(segs) == 5 && segs[0] == "courses" && segs[2] == "enrollments" && segs[4] == "reactivate" && m == http.MethodPut:
		return CanvasReactivate, []string{segs[1], segs[3]}, true
	case len(segs) == 4 && segs[0] == "courses" && segs[2] == "enrollments" && m == http.MethodDelete:
		return CanvasDeleteEnrollment, []string{segs[1], segs[3]}, true
	}
	return "", nil, false
}

func (c *Canvas) record(endpoint string, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, CanvasRequest{
		Endpoint:      endpoint,
		Method:        r.Method,
		Path:          r.URL.EscapedPath(),
		Query:         r.URL.RawQuery,
		CorrelationID: r.Header.Get("X-Correlation-ID"),
		UserAgent:     r.UserAgent(),
	})
}

func (c *Canvas) serve(endpoint string, args []string, w http.ResponseWriter, r *http.Request) {
	params, err := canvasParams(r)
	if err != nil {
		writeCanvasJSON(w, http.StatusBadRequest, canvasErrors(err.Error()))
		return
	}
	if !c.authenticate(w, r, params) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch endpoint {
	case CanvasGetUser:
		c.getUser(w, args[0])
	case CanvasCreateUser:
		c.createUser(w, args[0], params)
	case CanvasListEnrollments:
		c.listEnrollments(w, r, args[0], params)
	case CanvasEnrollUser:
		c.enroll(w, r, args[0], params)
	case CanvasReactivate:
		c.reactivate(w, r, args[0], args[1])
	case CanvasDeleteEnrollment:
		c.deleteEnrollment(w, r, args[0], args[1], params)
	}
}

// authenticate checks the access token, from the Authorization header or
// the access_token parameter.
func (c *Canvas) authenticate(w http.ResponseWriter, r *http.Request, params url.Values) bool {
	tok := params.Get("access_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, v, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			v = ""
		}
		tok = strings.TrimSpace(v)
	}
	switch {
	case tok == "":
		writeCanvasJSON(w, http.StatusUnauthorized, `{"status":"unauthenticated","errors":[{"message":"user authorization required"}]}`)
		return false
	case tok != c.token:
		w.Header().Set("WWW-Authenticate", `Bearer realm="canvas-lms"`)
		writeCanvasJSON(w, http.StatusUnauthorized, canvasErrors("Invalid access token."))
		return false
	}
	return true
}

func (c *Canvas) getUser(w http.ResponseWriter, ref string) {
	u := c.findUser(ref)
	if u == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	writeCanvasValue(w, http.StatusOK, userJSON(u))
}

func (c *Canvas) createUser(w http.ResponseWriter, account string, p url.Values) {
	if account != "self" && account != "1" {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	login := strings.TrimSpace(p.Get("pseudonym[unique_id]"))
	sis := strings.TrimSpace(p.Get("pseudonym[sis_user_id]"))
	pseudonymErrs := map[string]any{}
	switch {
	case login == "":
		pseudonymErrs["unique_id"] = []any{fieldError("unique_id", "blank", "blank")}
	case c.userBy("sis_login_id", login) != nil:
		pseudonymErrs["unique_id"] = []any{fieldError("unique_id", "taken", "ID already in use for this account and authentication provider")}
	}
	if sis != "" && c.userBy("sis_user_id", sis) != nil {
		pseudonymErrs["sis_user_id"] = []any{fieldError("sis_user_id", "taken", fmt.Sprintf("SIS ID %q is already in use", sis))}
	}
	if len(pseudonymErrs) > 0 {
		writeCanvasValue(w, http.StatusBadRequest, map[string]any{"errors": map[string]any{
			"user":         map[string]any{"pseudonyms": []any{fieldError("pseudonyms", "invalid", "is invalid")}},
			"pseudonym":    pseudonymErrs,
			"observee":     map[string]any{},
			"pairing_code": map[string]any{},
			"recaptcha":    nil,
		}})
		return
	}
	u := &CanvasUser{
		ID:               c.newID(),
		Name:             strings.TrimSpace(p.Get("user[name]")),
		ShortName:        strings.TrimSpace(p.Get("user[short_name]")),
		SortableName:     strings.TrimSpace(p.Get("user[sortable_name]")),
		LoginID:          login,
		SISUserID:        sis,
		SkipRegistration: canvasBool(p.Get("user[skip_registration]")),
		SendConfirmation: canvasBool(p.Get("pseudonym[send_confirmation]")),
		SkipConfirmation: canvasBool(p.Get("communication_channel[skip_confirmation]")),
		CreatedAt:        time.Now().UTC(),
	}
	if u.Name == "" {
		u.Name = login
	}
	fillNames(u)
	if t := p.Get("communication_channel[type]"); t == "" || t == "email" {
		u.Email = strings.TrimSpace(p.Get("communication_channel[address]"))
	}
	c.users = append(c.users, u)
	writeCanvasValue(w, http.StatusOK, userJSON(u))
}

func (c *Canvas) listEnrollments(w http.ResponseWriter, r *http.Request, courseRef string, p url.Values) {
	co := c.findCourse(courseRef)
	if co == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	types := paramList(p, "type")
	states := paramList(p, "state")
	var user *CanvasUser
	if p.Has("user_id") {
		if user = c.findUser(p.Get("user_id")); user == nil {
			writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
			return
		}
		if len(states) == 0 {
			states = []string{"active", "invited"}
		}
	} else if len(states) == 0 {
		states = []string{"active", "invited", "creation_pending", "inactive"}
	}
	var list []*CanvasEnrollment
	for _, e := range c.enrollments {
		if e.CourseID != co.id || (user != nil && e.UserID != user.ID) {
			continue
		}
		if len(types) > 0 && !slices.Contains(types, e.Type) {
			continue
		}
		if !slices.Contains(states, e.State) {
			continue
		}
		list = append(list, e)
	}
	// Canvas orders by type, the user's sortable name, then id.
	slices.SortStableFunc(list, func(a, b *CanvasEnrollment) int {
		if a.Type != b.Type {
			return strings.Compare(a.Type, b.Type)
		}
		if na, nb := c.userBy("id", strconv.Itoa(a.UserID)).SortableName, c.userBy("id", strconv.Itoa(b.UserID)).SortableName; na != nb {
			return strings.Compare(na, nb)
		}
		return a.ID - b.ID
	})

	perPage := 10
	if n, err := strconv.Atoi(p.Get("per_page")); err == nil && n > 0 {
		perPage = n
	}
	perPage = min(perPage, c.maxPerPage)
	offset := 0
	if page := p.Get("page"); page != "" && page != "first" {
		off, ok := parseBookmark(page)
		if !ok {
			writeCanvasJSON(w, http.StatusBadRequest, canvasErrors("invalid page"))
			return
		}
		offset = off
	}
	start := min(offset, len(list))
	end := min(start+perPage, len(list))

	links := []string{pageLink(r, p, perPage, bookmark(offset), "current")}
	if end < len(list) {
		links = append(links, pageLink(r, p, perPage, bookmark(end), "next"))
	}
	links = append(links, pageLink(r, p, perPage, "first", "first"))
	w.Header().Set("Link", strings.Join(links, ","))

	out := make([]any, 0, end-start)
	for _, e := range list[start:end] {
		out = append(out, c.enrollmentJSON(r, e))
	}
	writeCanvasValue(w, http.StatusOK, out)
}

// bookmark and parseBookmark make opaque page tokens in the style of
// Canvas's bookmarked collections ("bookmark:<base64>").
func bookmark(offset int) string {
	return "bookmark:" + base64.RawURLEncoding.EncodeToString([]byte("["+strconv.Itoa(offset)+"]"))
}

func parseBookmark(page string) (int, bool) {
	rest, ok := strings.CutPrefix(page, "bookmark:")
	if !ok {
		return 0, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, false
	}
	var v []int
	if json.Unmarshal(b, &v) != nil || len(v) != 1 || v[0] < 0 {
		return 0, false
	}
	return v[0], true
}

// pageLink is one absolute Link entry repeating the request's parameters.
func pageLink(r *http.Request, p url.Values, perPage int, page, rel string) string {
	q := url.Values{}
	for k, v := range p {
		if k != "page" && k != "per_page" && k != "access_token" {
			q[k] = v
		}
	}
	q.Set("page", page)
	q.Set("per_page", strconv.Itoa(perPage))
	u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: q.Encode()}
	return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
}

var canvasEnrollmentTypes = []string{"StudentEnrollment", "TeacherEnrollment", "TaEnrollment", "ObserverEnrollment", "DesignerEnrollment"}

func (c *Canvas) enroll(w http.ResponseWriter, r *http.Request, courseRef string, p url.Values) {
	co := c.findCourse(courseRef)
	if co == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	typ := p.Get("enrollment[type]")
	if typ == "" {
		typ = "StudentEnrollment"
	}
	if !slices.Contains(canvasEnrollmentTypes, typ) {
		writeCanvasJSON(w, http.StatusBadRequest, `{"message":"Invalid type"}`)
		return
	}
	if p.Get("enrollment[user_id]") == "" {
		writeCanvasJSON(w, http.StatusBadRequest, `{"message":"Can't create an enrollment without a user. Include enrollment[user_id] to create an enrollment"}`)
		return
	}
	u := c.findUser(p.Get("enrollment[user_id]"))
	if u == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	section := co.defaultSection
	if s := p.Get("enrollment[course_section_id]"); s != "" {
		id, err := strconv.Atoi(s)
		if err != nil || c.sections[id] != co.id {
			writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
			return
		}
		section = id
	}
	state := p.Get("enrollment[enrollment_state]")
	if state != "active" && state != "inactive" {
		state = "invited" // Canvas's default for an available course
	}
	notify := canvasBool(p.Get("enrollment[notify]"))
	now := time.Now().UTC()
	for _, e := range c.enrollments {
		if e.UserID == u.ID && e.CourseSectionID == section && e.Type == typ {
			if e.State != "active" {
				e.State = state
				e.Notify = notify
				e.UpdatedAt = now
			}
			writeCanvasValue(w, http.StatusOK, c.enrollmentJSON(r, e))
			return
		}
	}
	e := &CanvasEnrollment{ID: c.newID(), UserID: u.ID, CourseID: co.id, CourseSectionID: section,
		Type: typ, State: state, Notify: notify, CreatedAt: now, UpdatedAt: now}
	c.enrollments = append(c.enrollments, e)
	writeCanvasValue(w, http.StatusOK, c.enrollmentJSON(r, e))
}

// courseEnrollment finds a course's enrollment that is not deleted
// (Course#enrollments).
func (c *Canvas) courseEnrollment(courseRef, id string) *CanvasEnrollment {
	co := c.findCourse(courseRef)
	if co == nil {
		return nil
	}
	for _, e := range c.enrollments {
		if e.CourseID == co.id && strconv.Itoa(e.ID) == id && e.State != "deleted" {
			return e
		}
	}
	return nil
}

func (c *Canvas) reactivate(w http.ResponseWriter, r *http.Request, courseRef, id string) {
	e := c.courseEnrollment(courseRef, id)
	if e == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	if e.State != "inactive" {
		writeCanvasJSON(w, http.StatusBadRequest, `{"error":"enrollment not inactive"}`)
		return
	}
	e.State = "active"
	e.UpdatedAt = time.Now().UTC()
	writeCanvasValue(w, http.StatusOK, c.enrollmentJSON(r, e))
}

func (c *Canvas) deleteEnrollment(w http.ResponseWriter, r *http.Request, courseRef, id string, p url.Values) {
	e := c.courseEnrollment(courseRef, id)
	if e == nil {
		writeCanvasJSON(w, http.StatusNotFound, canvasNotFound)
		return
	}
	switch p.Get("task") {
	case "delete":
		e.State = "deleted"
	case "deactivate", "inactivate":
		e.State = "inactive"
	default: // conclude
		e.State = "completed"
	}
	e.UpdatedAt = time.Now().UTC()
	writeCanvasValue(w, http.StatusOK, c.enrollmentJSON(r, e))
}

func userJSON(u *CanvasUser) map[string]any {
	return map[string]any{
		"id":             u.ID,
		"name":           u.Name,
		"created_at":     u.CreatedAt.Format(time.RFC3339),
		"sortable_name":  u.SortableName,
		"short_name":     u.ShortName,
		"sis_user_id":    nullable(u.SISUserID),
		"integration_id": nil,
		"sis_import_id":  nil,
		"login_id":       u.LoginID,
	}
}

func (c *Canvas) enrollmentJSON(r *http.Request, e *CanvasEnrollment) map[string]any {
	u := c.userBy("id", strconv.Itoa(e.UserID))
	var sisCourse string
	for _, co := range c.courses {
		if co.id == e.CourseID {
			sisCourse = co.sisCourseID
		}
	}
	return map[string]any{
		"id":                                 e.ID,
		"user_id":                            e.UserID,
		"course_id":                          e.CourseID,
		"type":                               e.Type,
		"created_at":                         e.CreatedAt.Format(time.RFC3339),
		"updated_at":                         e.UpdatedAt.Format(time.RFC3339),
		"associated_user_id":                 nil,
		"start_at":                           nil,
		"end_at":                             nil,
		"course_section_id":                  e.CourseSectionID,
		"root_account_id":                    1,
		"limit_privileges_to_course_section": false,
		"enrollment_state":                   e.State,
		"role":                               e.Type,
		"role_id":                            canvasRoleID(e.Type),
		"last_activity_at":                   nil,
		"last_attended_at":                   nil,
		"total_activity_time":                0,
		"sis_account_id":                     nil,
		"sis_course_id":                      nullable(sisCourse),
		"course_integration_id":              nil,
		"sis_section_id":                     nil,
		"section_integration_id":             nil,
		"sis_user_id":                        nullable(u.SISUserID),
		"html_url":                           fmt.Sprintf("http://%s/courses/%d/users/%d", r.Host, e.CourseID, e.UserID),
		"user": map[string]any{
			"id":            u.ID,
			"name":          u.Name,
			"created_at":    u.CreatedAt.Format(time.RFC3339),
			"sortable_name": u.SortableName,
			"short_name":    u.ShortName,
			"sis_user_id":   nullable(u.SISUserID),
			"login_id":      u.LoginID,
		},
	}
}

func canvasRoleID(typ string) int {
	return slices.Index(canvasEnrollmentTypes, typ) + 3
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func fieldError(attribute, typ, message string) map[string]any {
	return map[string]any{"attribute": attribute, "type": typ, "message": message}
}

func canvasErrors(message string) string {
	b, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{"message": message}}})
	return string(b)
}

func writeCanvasJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeCanvasValue(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	writeCanvasJSON(w, status, string(b))
}

// canvasBool reads a boolean parameter as Rails's value_to_boolean does.
func canvasBool(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "t", "yes", "y", "on":
		return true
	}
	return false
}

// paramList reads a list parameter given as name[] or name.
func paramList(p url.Values, name string) []string {
	return append(slices.Clone(p[name+"[]"]), p[name]...)
}

// maxCanvasRequest bounds a request body the fake reads.
const maxCanvasRequest = 1 << 20

// canvasParams merges the query string with a form-encoded, multipart or
// JSON body, as Rails's params do; nested JSON becomes bracketed keys.
func canvasParams(r *http.Request) (url.Values, error) {
	params := url.Values{}
	for k, v := range r.URL.Query() {
		params[k] = v
	}
	if r.Body == nil {
		return params, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		b, err := io.ReadAll(io.LimitReader(r.Body, maxCanvasRequest))
		if err != nil {
			return nil, err
		}
		body, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, fmt.Errorf("malformed form body: %v", err)
		}
		for k, v := range body {
			params[k] = v
		}
	case "multipart/form-data":
		if err := r.ParseMultipartForm(maxCanvasRequest); err != nil {
			return nil, fmt.Errorf("malformed multipart body: %v", err)
		}
		for k, v := range r.MultipartForm.Value {
			params[k] = v
		}
	case "application/json":
		dec := json.NewDecoder(io.LimitReader(r.Body, maxCanvasRequest))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil && err != io.EOF {
			return nil, fmt.Errorf("malformed JSON body: %v", err)
		}
		if m, ok := v.(map[string]any); ok {
			body := url.Values{}
			flattenJSON("", m, body)
			for k, vs := range body {
				params[k] = vs
			}
		}
	}
	return params, nil
}

func flattenJSON(prefix string, v any, out url.Values) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			key := k
			if prefix != "" {
				key = prefix + "[" + k + "]"
			}
			flattenJSON(key, val, out)
		}
	case []any:
		for _, val := range x {
			flattenJSON(prefix+"[]", val, out)
		}
	case string:
		out.Add(prefix, x)
	case json.Number:
		out.Add(prefix, x.String())
	case bool:
		out.Add(prefix, strconv.FormatBool(x))
	case nil:
		out.Add(prefix, "")
	}
}

// canvasHeaders adds the throttling headers Canvas sends on every answer:
// X-Rate-Limit-Remaining is 0.0 on a throttled answer (a plain-text 403,
// which only a [RateLimited] fault gives here).
func canvasHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&canvasHeaderWriter{ResponseWriter: w}, r)
	})
}

type canvasHeaderWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *canvasHeaderWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		h := w.Header()
		if code == http.StatusForbidden && strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
			h.Set("X-Rate-Limit-Remaining", "0.0")
		} else {
			h.Set("X-Request-Cost", "0.0125")
			h.Set("X-Rate-Limit-Remaining", "599.9875")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *canvasHeaderWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to drop it).
func (w *canvasHeaderWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
