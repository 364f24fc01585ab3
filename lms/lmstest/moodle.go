package lmstest

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// States of a Moodle enrolment, as [Moodle.Enrolment] reports them.
const (
	MoodleActive    = "active"
	MoodleSuspended = "suspended"
)

// MoodleRESTPath is where Moodle's REST web service server answers.
const MoodleRESTPath = "/webservice/rest/server.php"

// The web service functions the fake implements.
const (
	MoodleGetCoursesByField = "core_course_get_courses_by_field"
	MoodleGetUsersByField   = "core_user_get_users_by_field"
	MoodleCreateUsers       = "core_user_create_users"
	MoodleGetUsersCourses   = "core_enrol_get_users_courses"
	MoodleEnrolUsers        = "enrol_manual_enrol_users"
	MoodleUnenrolUsers      = "enrol_manual_unenrol_users"
)

// MoodleUser is a user account in the fake Moodle.
type MoodleUser struct {
	ID        int
	Username  string
	Email     string
	IDNumber  string
	FirstName string
	LastName  string
	Auth      string // "manual" when empty
	// CreatePassword is true when core_user_create_users was asked to
	// generate a password (Moodle mails it and forces a change at login).
	CreatePassword bool
}

// MoodleCourse is a course in the fake Moodle. Every course has a manual
// enrolment instance.
type MoodleCourse struct {
	ID        int
	ShortName string
	IDNumber  string
	FullName  string
}

// MoodleEnrolment is one user's manual enrolment in one course.
type MoodleEnrolment struct {
	UserID    int
	Username  string
	CourseID  int
	Course    string // the course's shortname
	RoleIDs   []int  // roles assigned to the user in the course, ascending
	Suspended bool
}

// MoodleRequest is one request that reached the fake (past any fault).
type MoodleRequest struct {
	Method   string
	URL      string     // path and query, as requested
	Function string     // wsfunction
	Form     url.Values // every parameter sent, wstoken included
	Header   http.Header
}

// Moodle is a fake Moodle site for tests, speaking the REST web service
// protocol the way Moodle does: form parameters at [MoodleRESTPath] in PHP's
// nested-array notation (users[0][username]=...), moodlewsrestformat=json,
// results as Moodle's JSON shapes (null for functions that return nothing),
// and every failure as HTTP 200 with {"exception","errorcode","message"}
// ("debuginfo" too, after SetDebug(true), as on a site with debugging on).
// It checks parameters as Moodle's external API does: required keys,
// unexpected keys, integer and username formats.
//
// It keeps real state: users with ids (from 3: Moodle's guest and admin
// hold 1 and 2 but are not modelled), courses, and manual enrolments with
// their roles and suspended flag. What it reproduces, per function:
//
//   - core_user_get_users_by_field: field id, idnumber, username or email;
//     exact matches (as on PostgreSQL); a username that is not lower-case,
//     or an invalid email, is refused as invalidparameter.
//   - core_user_create_users: all or nothing; blank names, a taken username,
//     a taken email (case-insensitive), an internal auth without password
//     or createpassword are refused as invalidparameter. idnumber is not
//     unique, as in Moodle.
//   - core_course_get_courses_by_field: field "", id, ids, shortname,
//     idnumber, category; {"courses":[...],"warnings":[]}.
//   - core_enrol_get_users_courses: the courses a user is actively enrolled in.
//   - enrol_manual_enrol_users: an unknown course is invalidparameter
//     ("Context does not exist"), an unknown user a coding_exception, a role
//     other than 1, 3, 4, 5 wsusercannotassign; enrolling again updates the
//     enrolment in place (suspend=1 suspends, 0 reactivates).
//   - enrol_manual_unenrol_users: an unknown course is invalidrecord, an
//     unknown user invalidparameter, no enrolment is success.
//
// A wrong or missing wstoken is invalidtoken; an unknown function is
// invalidrecord (table external_functions); a function disabled with
// DisableFunction is accessexception. It answers in JSON only: a request
// without moodlewsrestformat=json gets an XML exception.
//
// It is safe for concurrent use; each call is atomic.
type Moodle struct {
	URL    string
	Faults *Faults

	t     testing.TB
	srv   *httptest.Server
	token string

	mu         sync.Mutex
	debug      bool
	disabled   map[string]bool
	nextUserID int
	users      map[int]*MoodleUser
	courses    map[int]*MoodleCourse
	enrolments map[moodleEnrolKey]*moodleEnrolment
	calls      map[string]int
	requests   []MoodleRequest
}

type moodleEnrolKey struct{ user, course int }

type moodleEnrolment struct {
	roles     map[int]bool
	suspended bool
	timestart int
	timeend   int
}

// NewMoodle starts a fake Moodle site that accepts token as its web
// service token, and stops it when the test ends.
func NewMoodle(t testing.TB, token string) *Moodle {
	t.Helper()
	m := &Moodle{
		Faults:     &Faults{},
		t:          t,
		token:      token,
		disabled:   make(map[string]bool),
		nextUserID: 3,
		users:      make(map[int]*MoodleUser),
		courses:    make(map[int]*MoodleCourse),
		enrolments: make(map[moodleEnrolKey]*moodleEnrolment),
		calls:      make(map[string]int),
	}
	m.srv = httptest.NewServer(m.Faults.Wrap(http.HandlerFunc(m.serve)))
	m.URL = m.srv.URL
	t.Cleanup(m.Close)
	return m
}

// Close stops the server. It is called when the test ends.
func (m *Moodle) Close() { m.srv.Close() }

// SetDebug turns Moodle's debugging on or off: when on, exceptions carry
// "debuginfo" (which says, for instance, which username is taken).
func (m *Moodle) SetDebug(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.debug = on
}

// DisableFunction removes a function from the token's external service:
// calls to it fail with accessexception.
func (m *Moodle) DisableFunction(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.disabled[name] = true
}

// AddCourse adds a course with a manual enrolment instance. The id must be
// positive and unused; shortname must be unused (Moodle keeps it unique).
func (m *Moodle) AddCourse(id int, shortname, idnumber string) {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if id <= 0 || m.courses[id] != nil {
		m.t.Fatalf("lmstest: Moodle.AddCourse: id %d is not positive or is taken", id)
	}
	for _, c := range m.courses {
		if c.ShortName == shortname {
			m.t.Fatalf("lmstest: Moodle.AddCourse: shortname %q is taken", shortname)
		}
	}
	m.courses[id] = &MoodleCourse{ID: id, ShortName: shortname, IDNumber: idnumber, FullName: shortname}
}

// AddUser adds a user account as an administrator would, without the web
// service's checks, and returns it with its id (assigned when u.ID is 0).
func (m *Moodle) AddUser(u MoodleUser) MoodleUser {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.ID == 0 {
		u.ID = m.nextUserID
	}
	if u.ID < 0 || m.users[u.ID] != nil {
		m.t.Fatalf("lmstest: Moodle.AddUser: id %d is negative or taken", u.ID)
	}
	if u.ID >= m.nextUserID {
		m.nextUserID = u.ID + 1
	}
	if u.Auth == "" {
		u.Auth = "manual"
	}
	m.users[u.ID] = &u
	return u
}

// Users lists every user account, by id.
func (m *Moodle) Users() []MoodleUser {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MoodleUser, 0, len(m.users))
	for _, u := range m.users {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// User finds a user account by idnumber, username or email.
func (m *Moodle) User(key string) (MoodleUser, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u := m.userByKey(key); u != nil {
		return *u, true
	}
	return MoodleUser{}, false
}

func (m *Moodle) userByKey(key string) *MoodleUser {
	for _, field := range []func(*MoodleUser) string{
		func(u *MoodleUser) string { return u.IDNumber },
		func(u *MoodleUser) string { return u.Username },
		func(u *MoodleUser) string { return u.Email },
	} {
		for _, id := range m.userIDs() {
			if u := m.users[id]; key != "" && field(u) == key {
				return u
			}
		}
	}
	return nil
}

func (m *Moodle) courseByKey(key string) *MoodleCourse {
	if id, err := strconv.Atoi(key); err == nil && m.courses[id] != nil {
		return m.courses[id]
	}
	for _, c := range m.courses {
		if key != "" && (c.ShortName == key || c.IDNumber == key) {
			return c
		}
	}
	return nil
}

func (m *Moodle) userIDs() []int {
	ids := make([]int, 0, len(m.users))
	for id := range m.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Enrolments lists every enrolment, by user id then course id.
func (m *Moodle) Enrolments() []MoodleEnrolment {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MoodleEnrolment, 0, len(m.enrolments))
	for k, e := range m.enrolments {
		me := MoodleEnrolment{UserID: k.user, CourseID: k.course, Suspended: e.suspended}
		if u := m.users[k.user]; u != nil {
			me.Username = u.Username
		}
		if c := m.courses[k.course]; c != nil {
			me.Course = c.ShortName
		}
		for r := range e.roles {
			me.RoleIDs = append(me.RoleIDs, r)
		}
		slices.Sort(me.RoleIDs)
		out = append(out, me)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].UserID != out[j].UserID {
			return out[i].UserID < out[j].UserID
		}
		return out[i].CourseID < out[j].CourseID
	})
	return out
}

// Enrolment reports the state (MoodleActive or MoodleSuspended) of the
// enrolment of the user with that idnumber, username or email in the course
// with that id, shortname or idnumber; ok is false when there is none.
func (m *Moodle) Enrolment(user, course string) (state string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, c := m.userByKey(user), m.courseByKey(course)
	if u == nil || c == nil {
		return "", false
	}
	e := m.enrolments[moodleEnrolKey{u.ID, c.ID}]
	switch {
	case e == nil:
		return "", false
	case e.suspended:
		return MoodleSuspended, true
	}
	return MoodleActive, true
}

// Calls is how many requests named function as their wsfunction (past any
// fault, whatever their outcome).
func (m *Moodle) Calls(function string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[function]
}

// Requests lists the requests that reached the fake, in order.
func (m *Moodle) Requests() []MoodleRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]MoodleRequest, len(m.requests))
	for i, r := range m.requests {
		out[i] = MoodleRequest{Method: r.Method, URL: r.URL, Function: r.Function, Form: cloneValues(r.Form), Header: r.Header.Clone()}
	}
	return out
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// moodleException is Moodle's JSON error answer.
type moodleException struct {
	Exception string `json:"exception"`
	ErrorCode string `json:"errorcode"`
	Message   string `json:"message"`
	DebugInfo string `json:"debuginfo,omitempty"`
}

func moodleInvalidParameter(debug string) *moodleException {
	return &moodleException{"invalid_parameter_exception", "invalidparameter", "Invalid parameter value detected", debug}
}

func moodleMissingRecord(table, debug string) *moodleException {
	return &moodleException{"dml_missing_record_exception", "invalidrecord",
		"Can't find data record in database table " + table + ".", debug}
}

func moodleCodingError(hint, debug string) *moodleException {
	return &moodleException{"coding_exception", "codingerror",
		"Coding error detected, it must be fixed by a programmer: " + hint, debug}
}

func (m *Moodle) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != MoodleRESTPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	form := cloneValues(r.Form) // query and body, as PHP merges $_GET and $_POST
	function := form.Get("wsfunction")

	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[function]++
	m.requests = append(m.requests, MoodleRequest{Method: r.Method, URL: r.URL.RequestURI(), Function: function, Form: cloneValues(form), Header: r.Header.Clone()})

	if form.Get("moodlewsrestformat") != "json" {
		m.writeXMLException(w, &moodleException{"moodle_exception", "invalidparameter",
			"Invalid parameter value detected", "the fake Moodle answers moodlewsrestformat=json only"})
		return
	}
	token := form.Get("wstoken")
	for _, k := range []string{"wstoken", "wsfunction", "moodlewsrestformat"} {
		form.Del(k)
	}
	if token == "" || token != m.token {
		m.writeException(w, &moodleException{"moodle_exception", "invalidtoken", "Invalid token - token not found", ""})
		return
	}
	fn, ok := m.functions()[function]
	if !ok {
		m.writeException(w, moodleMissingRecord("external_functions",
			"SELECT * FROM {external_functions} WHERE name = ?\n[array (\n  0 => '"+function+"',\n)]"))
		return
	}
	if m.disabled[function] {
		m.writeException(w, &moodleException{"webservice_access_exception", "accessexception", "Access control exception",
			"Access to the function " + function + "() is not allowed. The service linked to the user token does not contain the function."})
		return
	}
	// Parameters are checked before the function runs, so a refused call
	// changes nothing.
	p := &moodleParams{form: form, seen: make(map[string]bool)}
	for _, name := range fn.params {
		p.seen[name] = true
	}
	exc := p.unexpected()
	var result any
	if exc == nil {
		result, exc = fn.run(p)
	}
	if exc != nil {
		m.writeException(w, exc)
		return
	}
	body, err := json.Marshal(result)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (m *Moodle) writeException(w http.ResponseWriter, e *moodleException) {
	out := *e
	if !m.debug {
		out.DebugInfo = ""
	}
	body, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK) // Moodle answers exceptions with 200
	_, _ = w.Write(body)
}

func (m *Moodle) writeXMLException(w http.ResponseWriter, e *moodleException) {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	body := "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n" +
		"<EXCEPTION class=\"" + html.EscapeString(e.Exception) + "\">\n" +
		"<ERRORCODE>" + html.EscapeString(e.ErrorCode) + "</ERRORCODE>\n" +
		"<MESSAGE>" + html.EscapeString(e.Message) + "</MESSAGE>\n"
	if m.debug && e.DebugInfo != "" {
		body += "<DEBUGINFO>" + html.EscapeString(e.DebugInfo) + "</DEBUGINFO>\n"
	}
	body += "</EXCEPTION>\n"
	_, _ = w.Write([]byte(body))
}

// moodleFunction is one web service function: its top-level parameters
// and what it does.
type moodleFunction struct {
	params []string
	run    func(p *moodleParams) (any, *moodleException)
}

func (m *Moodle) functions() map[string]moodleFunction {
	return map[string]moodleFunction{
		MoodleGetCoursesByField: {[]string{"field", "value"}, m.getCoursesByField},
		MoodleGetUsersByField:   {[]string{"field", "values"}, m.getUsersByField},
		MoodleCreateUsers:       {[]string{"users"}, m.createUsers},
		MoodleGetUsersCourses:   {[]string{"userid", "returnusercount"}, m.getUsersCourses},
		MoodleEnrolUsers:        {[]string{"enrolments"}, m.enrolUsers},
		MoodleUnenrolUsers:      {[]string{"enrolments"}, m.unenrolUsers},
	}
}

// moodleParams reads a function's parameters from PHP's nested-array form
// notation and checks them as Moodle's external_api::validate_parameters
// does.
type moodleParams struct {
	form url.Values
	seen map[string]bool // top-level names read
}

// moodleSplitKey splits "users[0][username]" into "users" and ["0",
// "username"].
func moodleSplitKey(k string) (base string, subs []string) {
	i := strings.IndexByte(k, '[')
	if i <= 0 {
		return k, nil
	}
	base, rest := k[:i], k[i:]
	for strings.HasPrefix(rest, "[") {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			break
		}
		subs = append(subs, rest[1:j])
		rest = rest[j+1:]
	}
	return base, subs
}

// scalar reads a top-level value; ok is false when it is absent.
func (p *moodleParams) scalar(name string) (v string, ok bool, exc *moodleException) {
	p.seen[name] = true
	for k, vs := range p.form {
		if base, subs := moodleSplitKey(k); base == name && len(subs) > 0 {
			return "", false, moodleInvalidParameter(name + " => Invalid parameter value detected: Scalar type expected, array or object received.")
		}
		if k == name {
			return vs[len(vs)-1], true, nil
		}
	}
	return "", false, nil
}

// list reads name[i]=v values, in index order.
func (p *moodleParams) list(name string) (vals []string, ok bool, exc *moodleException) {
	p.seen[name] = true
	byIndex := map[string]string{}
	for k, vs := range p.form {
		base, subs := moodleSplitKey(k)
		if base != name {
			continue
		}
		if len(subs) != 1 {
			return nil, false, moodleInvalidParameter(name + " => Invalid parameter value detected: Only arrays accepted. The bad value is: '" + vs[0] + "'")
		}
		byIndex[subs[0]] = vs[len(vs)-1]
	}
	if len(byIndex) == 0 {
		return nil, false, nil
	}
	for _, i := range moodleIndexOrder(byIndex) {
		vals = append(vals, byIndex[i])
	}
	return vals, true, nil
}

// structs reads name[i][key]=v values into one map per index, in index
// order. Deeper keys (name[i][key][j][sub]) mark key as present with an
// empty value.
func (p *moodleParams) structs(name string) (items []map[string]string, ok bool, exc *moodleException) {
	p.seen[name] = true
	byIndex := map[string]map[string]string{}
	for k, vs := range p.form {
		base, subs := moodleSplitKey(k)
		if base != name {
			continue
		}
		if len(subs) < 2 {
			return nil, false, moodleInvalidParameter(name + " => Invalid parameter value detected: Only arrays accepted. The bad value is: '" + vs[0] + "'")
		}
		item := byIndex[subs[0]]
		if item == nil {
			item = map[string]string{}
			byIndex[subs[0]] = item
		}
		if len(subs) == 2 {
			item[subs[1]] = vs[len(vs)-1]
		} else if _, ok := item[subs[1]]; !ok {
			item[subs[1]] = ""
		}
	}
	if len(byIndex) == 0 {
		return nil, false, nil
	}
	order := make(map[string]string, len(byIndex))
	for i := range byIndex {
		order[i] = i
	}
	for _, i := range moodleIndexOrder(order) {
		items = append(items, byIndex[i])
	}
	return items, true, nil
}

// moodleIndexOrder sorts array indexes numerically, then the others.
func moodleIndexOrder(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, errA := strconv.Atoi(keys[i])
		b, errB := strconv.Atoi(keys[j])
		switch {
		case errA == nil && errB == nil:
			return a < b
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return keys[i] < keys[j]
	})
	return keys
}

// unexpected refuses top-level parameters the function does not take.
func (p *moodleParams) unexpected() *moodleException {
	var extra []string
	for k := range p.form {
		base, _ := moodleSplitKey(k)
		if !p.seen[base] && !slices.Contains(extra, base) {
			extra = append(extra, base)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	return moodleInvalidParameter("Unexpected keys (" + strings.Join(extra, ", ") + ") detected in parameter array.")
}

// moodleCheckStruct checks one item of a list of structures: required
// keys present, no unknown keys.
func moodleCheckStruct(list string, item map[string]string, required, optional []string) *moodleException {
	for _, k := range required {
		if _, ok := item[k]; !ok {
			return moodleInvalidParameter(list + " => Invalid parameter value detected: Missing required key in single structure: " + k)
		}
	}
	var extra []string
	for k := range item {
		if !slices.Contains(required, k) && !slices.Contains(optional, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return moodleInvalidParameter(list + " => Invalid parameter value detected: Unexpected keys (" + strings.Join(extra, ", ") + ") detected in parameter array.")
	}
	return nil
}

// moodleInt validates a PARAM_INT value: PHP's (int) cast must give it back.
func moodleInt(name, v string) (int, *moodleException) {
	n, err := strconv.Atoi(v)
	if err != nil || strconv.Itoa(n) != v {
		return 0, moodleInvalidParameter(name + " => Invalid parameter value detected: Invalid external api parameter: the value is \"" + v + "\", the server was expecting \"int\" type")
	}
	return n, nil
}

// moodleBool validates a PARAM_BOOL value: 0 or 1.
func moodleBool(name, v string) (bool, *moodleException) {
	switch v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	}
	return false, moodleInvalidParameter(name + " => Invalid parameter value detected: Invalid external api parameter: the value is \"" + v + "\", the server was expecting \"bool\" type")
}

var (
	moodleUsernameJunk = regexp.MustCompile(`[^-.@_a-z0-9]`)
	moodleEmailPattern = regexp.MustCompile("^[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+(\\.[-!#$%&'*+/0-9=?A-Z^_`a-z{|}~]+)*@([a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?\\.)+[a-zA-Z]{2,}$")
	moodleAlpha        = regexp.MustCompile(`[^a-zA-Z]`)
	moodleTag          = regexp.MustCompile(`<[^>]*>`)
)

// moodleCleanUsername is clean_param(PARAM_USERNAME) on a site without
// extended username characters.
func moodleCleanUsername(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	return moodleUsernameJunk.ReplaceAllString(v, "")
}

// moodleCleanEmail is clean_param(PARAM_EMAIL): the address, or "" when
// validate_email refuses it.
func moodleCleanEmail(v string) string {
	if moodleEmailPattern.MatchString(v) {
		return v
	}
	return ""
}

// moodleUserJSON is user_get_user_details() as an administrator sees it;
// optional fields are left out when empty, as Moodle does.
type moodleUserJSON struct {
	ID                   int    `json:"id"`
	Username             string `json:"username"`
	FirstName            string `json:"firstname"`
	LastName             string `json:"lastname"`
	FullName             string `json:"fullname"`
	Email                string `json:"email,omitempty"`
	IDNumber             string `json:"idnumber,omitempty"`
	FirstAccess          int    `json:"firstaccess"`
	LastAccess           int    `json:"lastaccess"`
	Auth                 string `json:"auth"`
	Suspended            bool   `json:"suspended"`
	Confirmed            bool   `json:"confirmed"`
	Lang                 string `json:"lang"`
	Theme                string `json:"theme"`
	Timezone             string `json:"timezone"`
	MailFormat           int    `json:"mailformat"`
	Description          string `json:"description"`
	DescriptionFormat    int    `json:"descriptionformat"`
	ProfileImageURLSmall string `json:"profileimageurlsmall"`
	ProfileImageURL      string `json:"profileimageurl"`
}

func (m *Moodle) userJSON(u *MoodleUser) moodleUserJSON {
	return moodleUserJSON{
		ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		FullName: strings.TrimSpace(u.FirstName + " " + u.LastName), Email: u.Email, IDNumber: u.IDNumber,
		Auth: u.Auth, Confirmed: true, Lang: "en", Timezone: "99", MailFormat: 1, DescriptionFormat: 1,
		ProfileImageURLSmall: m.URL + "/theme/image.php/boost/core/1/u/f2",
		ProfileImageURL:      m.URL + "/theme/image.php/boost/core/1/u/f1",
	}
}

// getUsersByField is core_user_get_users_by_field(field, values[]).
func (m *Moodle) getUsersByField(p *moodleParams) (any, *moodleException) {
	field, ok, exc := p.scalar("field")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: field")
	}
	if moodleAlpha.MatchString(field) {
		return nil, moodleInvalidParameter("field => Invalid parameter value detected: Invalid external api parameter: the value is \"" + field + "\", the server was expecting \"alpha\" type")
	}
	values, ok, exc := p.list("values")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: values")
	}
	var get func(*MoodleUser) string
	var clean func(string) string
	switch field {
	case "id":
		get = func(u *MoodleUser) string { return strconv.Itoa(u.ID) }
		clean = func(v string) string { n, _ := strconv.Atoi(strings.TrimSpace(v)); return strconv.Itoa(n) }
	case "idnumber":
		get = func(u *MoodleUser) string { return u.IDNumber }
		clean = func(v string) string { return v }
	case "username":
		get = func(u *MoodleUser) string { return u.Username }
		clean = moodleCleanUsername
	case "email":
		get = func(u *MoodleUser) string { return u.Email }
		clean = moodleCleanEmail
	default:
		return nil, moodleCodingError("invalid field parameter",
			"The search field '"+field+"' is not supported, look at the web service documentation")
	}
	for _, v := range values {
		if c := clean(v); c != v {
			return nil, moodleInvalidParameter("The field '" + field + "' value is invalid: " + v + "(cleaned value: " + c + ")")
		}
	}
	out := []moodleUserJSON{}
	for _, id := range m.userIDs() {
		u := m.users[id]
		if v := get(u); v != "" && slices.Contains(values, v) {
			out = append(out, m.userJSON(u))
		}
	}
	return out, nil
}

var moodleUserKeys = []string{
	"createpassword", "username", "auth", "password", "firstname", "lastname", "email", "maildisplay",
	"city", "country", "timezone", "description", "firstnamephonetic", "lastnamephonetic", "middlename",
	"alternatename", "interests", "idnumber", "institution", "department", "phone1", "phone2", "address",
	"lang", "calendartype", "theme", "mailformat", "customfields", "preferences",
}

// moodleAuths are the auth plugins a web service may create users with
// (mnet and webservice are excluded, as in Moodle); the internal ones need a
// password or createpassword.
var moodleAuths = map[string]bool{
	"manual": true, "email": true, "nologin": false, "ldap": false, "cas": false, "db": false,
	"lti": false, "oauth2": false, "shibboleth": false,
}

// createUsers is core_user_create_users(users[]): all users or none.
func (m *Moodle) createUsers(p *moodleParams) (any, *moodleException) {
	items, ok, exc := p.structs("users")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: users")
	}
	type created struct {
		ID       int    `json:"id"`
		Username string `json:"username"`
	}
	var out []created
	var staged []*MoodleUser
	taken := func(match func(*MoodleUser) bool) bool {
		for _, u := range m.users {
			if match(u) {
				return true
			}
		}
		return slices.ContainsFunc(staged, match)
	}
	for _, it := range items {
		if exc := moodleCheckStruct("users", it, []string{"username", "firstname", "lastname", "email"},
			moodleUserKeys); exc != nil {
			return nil, exc
		}
		username := it["username"]
		if moodleCleanUsername(username) != username {
			return nil, moodleInvalidParameter("users => Invalid parameter value detected: username => Invalid parameter value detected: " +
				"Invalid external api parameter: the value is \"" + username + "\", the server was expecting \"username\" type")
		}
		for _, k := range []string{"firstname", "lastname"} {
			if moodleTag.MatchString(it[k]) {
				return nil, moodleInvalidParameter("users => Invalid parameter value detected: " + k + " => Invalid parameter value detected: " +
					"Invalid external api parameter: the value is \"" + it[k] + "\", the server was expecting \"notags\" type")
			}
		}
		createPassword := false
		if v, ok := it["createpassword"]; ok {
			b, exc := moodleBool("createpassword", v)
			if exc != nil {
				return nil, exc
			}
			createPassword = b
		}
		for _, k := range []string{"username", "firstname", "lastname"} {
			if strings.TrimSpace(it[k]) == "" {
				return nil, moodleInvalidParameter("The field " + k + " cannot be blank")
			}
		}
		if taken(func(u *MoodleUser) bool { return u.Username == username }) {
			return nil, moodleInvalidParameter("Username already exists: " + username)
		}
		auth, ok := it["auth"]
		if !ok {
			auth = "manual"
		}
		internal, known := moodleAuths[auth]
		if !known {
			return nil, moodleInvalidParameter("Invalid authentication type: " + auth)
		}
		if lang, ok := it["lang"]; ok && lang != "en" {
			return nil, moodleInvalidParameter("Invalid language code: " + lang)
		}
		if internal && it["password"] == "" && !createPassword {
			return nil, moodleInvalidParameter("Invalid password: you must provide a password, or set createpassword.")
		}
		email := strings.TrimSpace(it["email"])
		if moodleCleanEmail(email) == "" {
			return nil, moodleInvalidParameter("Email address is invalid: " + email)
		}
		if taken(func(u *MoodleUser) bool { return strings.EqualFold(u.Email, email) }) {
			return nil, moodleInvalidParameter("Email address already exists: " + email)
		}
		staged = append(staged, &MoodleUser{
			Username: username, Email: email, IDNumber: it["idnumber"],
			FirstName: it["firstname"], LastName: it["lastname"], Auth: auth, CreatePassword: createPassword,
		})
	}
	for _, u := range staged {
		u.ID = m.nextUserID
		m.nextUserID++
		m.users[u.ID] = u
		out = append(out, created{ID: u.ID, Username: u.Username})
	}
	return out, nil
}

// moodleCourseJSON is a course as core_course_get_courses_by_field returns
// it to a manager.
type moodleCourseJSON struct {
	ID                int      `json:"id"`
	FullName          string   `json:"fullname"`
	DisplayName       string   `json:"displayname"`
	ShortName         string   `json:"shortname"`
	CategoryID        int      `json:"categoryid"`
	CategoryName      string   `json:"categoryname"`
	SortOrder         int      `json:"sortorder"`
	Summary           string   `json:"summary"`
	SummaryFormat     int      `json:"summaryformat"`
	SummaryFiles      []any    `json:"summaryfiles"`
	OverviewFiles     []any    `json:"overviewfiles"`
	Contacts          []any    `json:"contacts"`
	EnrollmentMethods []string `json:"enrollmentmethods"`
	IDNumber          string   `json:"idnumber"`
	Format            string   `json:"format"`
	ShowGrades        int      `json:"showgrades"`
	NewsItems         int      `json:"newsitems"`
	StartDate         int      `json:"startdate"`
	EndDate           int      `json:"enddate"`
	Visible           int      `json:"visible"`
	EnableCompletion  int      `json:"enablecompletion"`
	Filters           []any    `json:"filters"`
}

// getCoursesByField is core_course_get_courses_by_field(field, value).
func (m *Moodle) getCoursesByField(p *moodleParams) (any, *moodleException) {
	field, _, exc := p.scalar("field")
	if exc != nil {
		return nil, exc
	}
	value, _, exc := p.scalar("value")
	if exc != nil {
		return nil, exc
	}
	if moodleAlpha.MatchString(field) {
		return nil, moodleInvalidParameter("field => Invalid parameter value detected: Invalid external api parameter: the value is \"" + field + "\", the server was expecting \"alpha\" type")
	}
	var match func(c *MoodleCourse) bool
	switch field {
	case "":
		match = func(*MoodleCourse) bool { return true }
	case "id":
		n, _ := strconv.Atoi(strings.TrimSpace(value))
		match = func(c *MoodleCourse) bool { return c.ID == n }
	case "ids":
		ids := map[int]bool{}
		for _, s := range strings.Split(value, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				ids[n] = true
			}
		}
		match = func(c *MoodleCourse) bool { return ids[c.ID] }
	case "shortname":
		v := moodleTag.ReplaceAllString(value, "")
		match = func(c *MoodleCourse) bool { return c.ShortName == v }
	case "idnumber":
		match = func(c *MoodleCourse) bool { return c.IDNumber == value }
	case "category":
		n, _ := strconv.Atoi(strings.TrimSpace(value))
		match = func(*MoodleCourse) bool { return n == 1 } // every course is in category 1
	default:
		return nil, moodleInvalidParameter("Invalid field name")
	}
	ids := make([]int, 0, len(m.courses))
	for id := range m.courses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	courses := []moodleCourseJSON{}
	for _, id := range ids {
		c := m.courses[id]
		if !match(c) {
			continue
		}
		courses = append(courses, moodleCourseJSON{
			ID: c.ID, FullName: c.FullName, DisplayName: c.FullName, ShortName: c.ShortName,
			CategoryID: 1, CategoryName: "Category 1", SortOrder: 10000 + c.ID, SummaryFormat: 1,
			SummaryFiles: []any{}, OverviewFiles: []any{}, Contacts: []any{}, EnrollmentMethods: []string{"manual"},
			IDNumber: c.IDNumber, Format: "topics", ShowGrades: 1, NewsItems: 5, Visible: 1, EnableCompletion: 1,
			Filters: []any{},
		})
	}
	return map[string]any{"courses": courses, "warnings": []any{}}, nil
}

// moodleUserCourseJSON is a course as core_enrol_get_users_courses returns it.
type moodleUserCourseJSON struct {
	ID                    int      `json:"id"`
	ShortName             string   `json:"shortname"`
	FullName              string   `json:"fullname"`
	DisplayName           string   `json:"displayname"`
	EnrolledUserCount     *int     `json:"enrolledusercount,omitempty"`
	IDNumber              string   `json:"idnumber"`
	Visible               int      `json:"visible"`
	Summary               string   `json:"summary"`
	SummaryFormat         int      `json:"summaryformat"`
	Format                string   `json:"format"`
	ShowGrades            bool     `json:"showgrades"`
	Lang                  string   `json:"lang"`
	EnableCompletion      bool     `json:"enablecompletion"`
	CompletionHasCriteria bool     `json:"completionhascriteria"`
	CompletionUserTracked bool     `json:"completionusertracked"`
	Category              int      `json:"category"`
	Progress              *float64 `json:"progress"`
	Completed             *bool    `json:"completed"`
	StartDate             int      `json:"startdate"`
	EndDate               int      `json:"enddate"`
	Marker                int      `json:"marker"`
	LastAccess            *int     `json:"lastaccess"`
	IsFavourite           bool     `json:"isfavourite"`
	Hidden                bool     `json:"hidden"`
	OverviewFiles         []any    `json:"overviewfiles"`
}

// getUsersCourses is core_enrol_get_users_courses(userid, returnusercount):
// the courses the user is actively enrolled in.
func (m *Moodle) getUsersCourses(p *moodleParams) (any, *moodleException) {
	v, ok, exc := p.scalar("userid")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: userid")
	}
	userID, exc := moodleInt("userid", v)
	if exc != nil {
		return nil, exc
	}
	count := true
	if v, ok, exc := p.scalar("returnusercount"); exc != nil {
		return nil, exc
	} else if ok {
		if count, exc = moodleBool("returnusercount", v); exc != nil {
			return nil, exc
		}
	}
	out := []moodleUserCourseJSON{}
	ids := make([]int, 0, len(m.courses))
	for id := range m.courses {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := m.enrolments[moodleEnrolKey{userID, id}]
		if e == nil || e.suspended {
			continue
		}
		c := m.courses[id]
		uc := moodleUserCourseJSON{
			ID: c.ID, ShortName: c.ShortName, FullName: c.FullName, DisplayName: c.FullName, IDNumber: c.IDNumber,
			Visible: 1, SummaryFormat: 1, Format: "topics", ShowGrades: true, EnableCompletion: true,
			Category: 1, OverviewFiles: []any{},
		}
		if count {
			n := 0
			for k, e := range m.enrolments {
				if k.course == id && !e.suspended {
					n++
				}
			}
			uc.EnrolledUserCount = &n
		}
		out = append(out, uc)
	}
	return out, nil
}

// moodleAssignableRoles are the roles the fake's web service user may
// assign: manager, editingteacher, teacher, student.
var moodleAssignableRoles = map[int]bool{1: true, 3: true, 4: true, 5: true}

// enrolUsers is enrol_manual_enrol_users(enrolments[]): all or nothing.
func (m *Moodle) enrolUsers(p *moodleParams) (any, *moodleException) {
	items, ok, exc := p.structs("enrolments")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: enrolments")
	}
	type change struct {
		key                moodleEnrolKey
		role               int
		suspend            bool
		timestart, timeend int
	}
	var changes []change
	for _, it := range items {
		if exc := moodleCheckStruct("enrolments", it, []string{"roleid", "userid", "courseid"},
			[]string{"timestart", "timeend", "suspend"}); exc != nil {
			return nil, exc
		}
		n := map[string]int{}
		for _, k := range []string{"roleid", "userid", "courseid", "timestart", "timeend", "suspend"} {
			v, ok := it[k]
			if !ok {
				continue
			}
			i, exc := moodleInt("enrolments => "+k, v)
			if exc != nil {
				return nil, exc
			}
			n[k] = i
		}
		if m.courses[n["courseid"]] == nil {
			return nil, moodleInvalidParameter("Context does not exist")
		}
		if !moodleAssignableRoles[n["roleid"]] {
			return nil, &moodleException{"moodle_exception", "wsusercannotassign", fmt.Sprintf(
				"You don't have the permission to assign this role (%d) to this user (%d) in this course(%d).",
				n["roleid"], n["userid"], n["courseid"]), ""}
		}
		if m.users[n["userid"]] == nil {
			return nil, moodleCodingError("User ID does not exist or is deleted!", "userid:"+strconv.Itoa(n["userid"]))
		}
		changes = append(changes, change{
			key: moodleEnrolKey{n["userid"], n["courseid"]}, role: n["roleid"], suspend: n["suspend"] != 0,
			timestart: n["timestart"], timeend: n["timeend"],
		})
	}
	for _, c := range changes {
		e := m.enrolments[c.key]
		if e == nil {
			e = &moodleEnrolment{roles: map[int]bool{}}
			m.enrolments[c.key] = e
		}
		e.suspended, e.timestart, e.timeend = c.suspend, c.timestart, c.timeend
		e.roles[c.role] = true
	}
	return nil, nil
}

// unenrolUsers is enrol_manual_unenrol_users(enrolments[]): all or nothing.
func (m *Moodle) unenrolUsers(p *moodleParams) (any, *moodleException) {
	items, ok, exc := p.structs("enrolments")
	if exc != nil {
		return nil, exc
	}
	if !ok {
		return nil, moodleInvalidParameter("Missing required key in single structure: enrolments")
	}
	var keys []moodleEnrolKey
	for _, it := range items {
		if exc := moodleCheckStruct("enrolments", it, []string{"userid", "courseid"}, []string{"roleid"}); exc != nil {
			return nil, exc
		}
		userID, exc := moodleInt("enrolments => userid", it["userid"])
		if exc != nil {
			return nil, exc
		}
		courseID, exc := moodleInt("enrolments => courseid", it["courseid"])
		if exc != nil {
			return nil, exc
		}
		if v, ok := it["roleid"]; ok {
			if _, exc := moodleInt("enrolments => roleid", v); exc != nil {
				return nil, exc
			}
		}
		if m.courses[courseID] == nil {
			return nil, moodleMissingRecord("course",
				"SELECT id,category FROM {course} WHERE id = ?\n[array (\n  0 => "+strconv.Itoa(courseID)+",\n)]")
		}
		if m.users[userID] == nil {
			return nil, moodleInvalidParameter("User id not exist: " + strconv.Itoa(userID))
		}
		keys = append(keys, moodleEnrolKey{userID, courseID})
	}
	for _, k := range keys {
		delete(m.enrolments, k) // no enrolment: nothing to do
	}
	return nil, nil
}
