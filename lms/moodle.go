package lms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The moodle connector drives Moodle's REST web services: every call is a
// form POST to {url}/webservice/rest/server.php carrying wstoken, wsfunction
// and moodlewsrestformat=json, with the function's parameters in PHP's
// nested-array notation (users[0][username]=...).
//
// Moodle answers a failed call with HTTP 200 and a JSON body
// {"exception", "errorcode", "message"} ("debuginfo" too when the site has
// debugging on), so every answer is read before it is trusted; see
// [MoodleError].
//
// The web service user behind the token needs these functions in its
// external service: core_course_get_courses_by_field,
// core_user_get_users_by_field, core_user_create_users,
// core_enrol_get_users_courses, enrol_manual_enrol_users and
// enrol_manual_unenrol_users; and the capabilities they check
// (moodle/user:create, enrol/manual:enrol, enrol/manual:unenrol,
// moodle/course:viewparticipants, the right to assign the student role).
//
// Delivery, per op, looking before it writes so that a repeat is harmless:
//
//   - The course is the bundle's course id: all digits is Moodle's course
//     id; anything else is looked up as the course idnumber, then the
//     shortname (cached for a while). No match is a permanent error.
//   - The user is looked up by idnumber = externalId, then by email, then by
//     username = lower-cased userName, the first key that matches wins.
//   - enroll creates a missing user (auth "manual", createpassword=1, so
//     Moodle mails a generated password and forces a change at first login;
//     Moodle insists on an email, a firstname and a lastname), then enrols
//     with enrol_manual_enrol_users as student (roleid 5), suspend=0. Moodle
//     updates an existing enrolment in place, so enrolling twice leaves one
//     enrolment and re-activates a suspended one.
//   - suspend enrols with suspend=1, but only when the user is actively
//     enrolled in the course (core_enrol_get_users_courses lists active
//     enrolments only): Moodle would otherwise create a suspended
//     enrolment. A missing user or enrolment is success.
//   - unenroll calls enrol_manual_unenrol_users, which Moodle treats as done
//     when there is no enrolment; a missing user is success.
//
// A create that fails with a Moodle exception (the username or the email is
// taken: a create whose answer was lost, or a user made by someone else) is
// followed by a second look-up, which adopts the user it finds.

const (
	moodleRESTPath = "/webservice/rest/server.php"
	// moodleStudentRole is the role id of "student" on a standard install.
	moodleStudentRole = 5
	// moodleMaxBody bounds how much of an answer is read.
	moodleMaxBody = 8 << 20
	// moodleCourseTTL is how long a course idnumber or shortname lookup is
	// trusted; moodleCourseCacheSize bounds how many are kept.
	moodleCourseTTL       = 10 * time.Minute
	moodleCourseCacheSize = 1024
)

// Moodle web service functions the connector calls.
const (
	moodleGetCourses     = "core_course_get_courses_by_field"
	moodleGetUsers       = "core_user_get_users_by_field"
	moodleCreateUsers    = "core_user_create_users"
	moodleGetUserCourses = "core_enrol_get_users_courses"
	moodleEnrol          = "enrol_manual_enrol_users"
	moodleUnenrol        = "enrol_manual_unenrol_users"
)

// MoodleError is an exception Moodle answered instead of a result. It is the
// Err of the *[Error] that Deliver returns.
type MoodleError struct {
	// Exception is the PHP exception class, e.g. invalid_parameter_exception.
	Exception string `json:"exception"`
	// ErrorCode is Moodle's string identifier, e.g. invalidparameter,
	// invalidtoken, invalidrecord.
	ErrorCode string `json:"errorcode"`
	// Message is the human-readable text in the site's language.
	Message string `json:"message"`
	// DebugInfo is only sent when the site has debugging on.
	DebugInfo string `json:"debuginfo,omitempty"`
}

func (e *MoodleError) Error() string {
	msg := "Moodle " + e.ErrorCode
	if e.Exception != "" {
		msg += " (" + e.Exception + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.DebugInfo != "" {
		msg += " [" + truncate(strings.TrimSpace(e.DebugInfo), 300) + "]"
	}
	return msg
}

// Retryable reports whether the same call may succeed later: database
// trouble (any dml_* exception except a missing or duplicate record) and a
// site in maintenance mode. Everything else Moodle refuses (a bad or expired
// token, a function missing from the service, a missing capability, an
// invalid parameter, an unknown record) needs a person to fix it first.
func (e *MoodleError) Retryable() bool {
	switch e.ErrorCode {
	case "sitemaintenance", "dmlreadexception", "dmlwriteexception", "dbconnectionfailed",
		"sessionwaiterr", "dmltransactionexception":
		return true
	}
	switch e.Exception {
	case "dml_missing_record_exception", "dml_multiple_records_exception":
		return false
	}
	return strings.HasPrefix(e.Exception, "dml_")
}

type moodle struct {
	name     string
	endpoint string
	token    string
	client   *http.Client
	log      *slog.Logger
	courses  *moodleCourseCache
}

func newMoodle(s Spec, deps Deps) (Connector, error) {
	env := deps.Env
	if env == nil {
		env = os.LookupEnv
	}
	var errs []error
	endpoint, err := moodleEndpoint(s)
	if err != nil {
		errs = append(errs, err)
	}
	token, err := secret(s, "token_env", s.TokenEnv, env)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	client := deps.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &moodle{
		name:     s.Name,
		endpoint: endpoint,
		token:    token,
		client:   client,
		log:      logger.With("connector", s.Name, "type", "moodle"),
		courses:  newMoodleCourseCache(moodleCourseCacheSize, moodleCourseTTL),
	}, nil
}

// moodleEndpoint turns the site URL of s into the REST server's URL.
func moodleEndpoint(s Spec) (string, error) {
	// The url is not repeated in errors: it may carry a credential.
	u, err := url.Parse(strings.TrimSpace(s.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("connector %q: url must be the Moodle site's absolute http:// or https:// address", s.Name)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("connector %q: url must be the Moodle site's address, without query, fragment or credentials", s.Name)
	}
	path := strings.TrimRight(u.Path, "/")
	path = strings.TrimSuffix(path, moodleRESTPath)
	u.Path = path + moodleRESTPath
	u.RawPath = ""
	return u.String(), nil
}

// Deliver makes d's change in Moodle; see the package comment above for
// what each op does.
func (m *moodle) Deliver(ctx context.Context, d Delivery) error {
	switch d.Op {
	case OpEnroll, OpSuspend, OpUnenroll:
	default:
		return &Error{Op: "moodle", Permanent: true, Err: fmt.Errorf("unknown op %q", d.Op)}
	}
	courseID, err := m.courseID(ctx, d)
	if err != nil {
		return err
	}
	user, found, err := m.findUser(ctx, d)
	if err != nil {
		return err
	}
	switch d.Op {
	case OpEnroll:
		if !found {
			if user, err = m.createUser(ctx, d); err != nil {
				return err
			}
		}
		return m.enrol(ctx, d, user, courseID, false)
	case OpSuspend:
		if !found {
			return nil // nothing to suspend
		}
		active, err := m.activelyEnrolled(ctx, d, user, courseID)
		if err != nil || !active {
			return err // nil when there is no active enrolment to suspend
		}
		return m.enrol(ctx, d, user, courseID, true)
	default: // OpUnenroll
		if !found {
			return nil // nothing to remove
		}
		return m.unenrol(ctx, d, user, courseID)
	}
}

// moodleUser is the part of Moodle's user description the connector reads.
type moodleUser struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	IDNumber string `json:"idnumber"`
}

// moodleCourse is the part of Moodle's course description the connector reads.
type moodleCourse struct {
	ID        int    `json:"id"`
	ShortName string `json:"shortname"`
	IDNumber  string `json:"idnumber"`
}

// courseID resolves the bundle's course id to Moodle's numeric course id.
func (m *moodle) courseID(ctx context.Context, d Delivery) (int, error) {
	c := strings.TrimSpace(d.Course)
	if c == "" {
		return 0, &Error{Op: "moodle", Permanent: true, Err: errors.New("the delivery names no course")}
	}
	if moodleDigits(c) {
		id, err := strconv.Atoi(c)
		if err != nil || id <= 0 {
			return 0, &Error{Op: "moodle", Permanent: true, Err: fmt.Errorf("course %q is not a valid Moodle course id", c)}
		}
		return id, nil
	}
	if id, ok := m.courses.get(c); ok {
		return id, nil
	}
	for _, field := range []string{"idnumber", "shortname"} {
		var ans struct {
			Courses []moodleCourse `json:"courses"`
		}
		params := url.Values{"field": {field}, "value": {c}}
		if err := m.call(ctx, d, moodleGetCourses, params, &ans, fmt.Sprintf("course %s %q", field, c)); err != nil {
			return 0, err
		}
		switch len(ans.Courses) {
		case 0:
			continue
		case 1:
			if ans.Courses[0].ID <= 0 {
				return 0, errorf("moodle: "+moodleGetCourses, http.StatusOK, "course %s %q: answer has no course id", field, c)
			}
			m.courses.put(c, ans.Courses[0].ID)
			return ans.Courses[0].ID, nil
		default:
			return 0, errorf("moodle: "+moodleGetCourses, http.StatusOK, "course %q is ambiguous: %d Moodle courses have that %s", c, len(ans.Courses), field)
		}
	}
	return 0, errorf("moodle: "+moodleGetCourses, http.StatusOK, "course %q not found: no Moodle course has that idnumber or shortname", c)
}

// moodleUserKeys lists the look-ups for u, in order: idnumber, email,
// username. Moodle keeps usernames lower-case and rejects a look-up by an
// upper-case one.
func moodleUserKeys(u User) [][2]string {
	var keys [][2]string
	if v := strings.TrimSpace(u.ExternalID); v != "" {
		keys = append(keys, [2]string{"idnumber", v})
	}
	if v := strings.TrimSpace(u.Email); v != "" {
		keys = append(keys, [2]string{"email", v})
	}
	if v := moodleUsername(u); v != "" {
		keys = append(keys, [2]string{"username", v})
	}
	return keys
}

func moodleUsername(u User) string { return strings.ToLower(strings.TrimSpace(u.UserName)) }

// findUser looks d's user up by each key in turn.
func (m *moodle) findUser(ctx context.Context, d Delivery) (moodleUser, bool, error) {
	keys := moodleUserKeys(d.User)
	if len(keys) == 0 {
		return moodleUser{}, false, &Error{Op: "moodle", Permanent: true, Err: errors.New("the user has no externalId, email or userName to find them by")}
	}
	for _, k := range keys {
		u, ok, err := m.userBy(ctx, d, k[0], k[1])
		if err != nil || ok {
			return u, ok, err
		}
	}
	return moodleUser{}, false, nil
}

func (m *moodle) userBy(ctx context.Context, d Delivery, field, value string) (moodleUser, bool, error) {
	var users []moodleUser
	params := url.Values{"field": {field}, "values[0]": {value}}
	if err := m.call(ctx, d, moodleGetUsers, params, &users, fmt.Sprintf("user %s %q", field, value)); err != nil {
		return moodleUser{}, false, err
	}
	switch {
	case len(users) == 0:
		return moodleUser{}, false, nil
	case len(users) > 1:
		// Moodle does not keep idnumber unique, nor email when the site
		// allows accounts to share one.
		return moodleUser{}, false, errorf("moodle: "+moodleGetUsers, http.StatusOK, "user %s %q is ambiguous: %d Moodle users have it", field, value, len(users))
	case users[0].ID <= 0:
		return moodleUser{}, false, errorf("moodle: "+moodleGetUsers, http.StatusOK, "user %s %q: answer has no user id", field, value)
	}
	return users[0], true, nil
}

// createUser creates d's user, or adopts the one that a failed create says
// is there already.
func (m *moodle) createUser(ctx context.Context, d Delivery) (moodleUser, error) {
	const op = "moodle: " + moodleCreateUsers
	u := d.User
	username := moodleUsername(u)
	email := strings.TrimSpace(u.Email)
	switch {
	case username == "":
		return moodleUser{}, &Error{Op: op, Permanent: true, Err: errors.New("cannot create a Moodle user without a userName")}
	case email == "":
		return moodleUser{}, &Error{Op: op, Permanent: true, Err: fmt.Errorf("cannot create Moodle user %q: Moodle requires an email address and the user has none", username)}
	}
	first, last := moodleNames(u)
	params := url.Values{
		"users[0][username]":       {username},
		"users[0][auth]":           {"manual"},
		"users[0][createpassword]": {"1"},
		"users[0][firstname]":      {first},
		"users[0][lastname]":       {last},
		"users[0][email]":          {email},
	}
	if v := strings.TrimSpace(u.ExternalID); v != "" {
		params.Set("users[0][idnumber]", v)
	}
	var created []moodleUser
	err := m.call(ctx, d, moodleCreateUsers, params, &created, fmt.Sprintf("user %q", username))
	if err != nil {
		var me *MoodleError
		if !errors.As(err, &me) {
			return moodleUser{}, err // no answer: the next attempt looks first
		}
		// Moodle refuses a username or email that is taken with
		// invalidparameter, and tells which only with debugging on: look
		// again, by every key and by the lower-cased email too.
		if found, ok, lerr := m.findUser(ctx, d); lerr == nil && ok {
			return found, nil
		}
		if lower := strings.ToLower(email); lower != email {
			if found, ok, lerr := m.userBy(ctx, d, "email", lower); lerr == nil && ok {
				return found, nil
			}
		}
		return moodleUser{}, err
	}
	if len(created) != 1 || created[0].ID <= 0 {
		return moodleUser{}, errorf(op, http.StatusOK, "user %q: answer lists %d users, want 1 with an id", username, len(created))
	}
	m.log.InfoContext(ctx, "moodle user created",
		"moodle_user_id", created[0].ID, "username", username, "correlation_id", d.CorrelationID)
	return moodleUser{ID: created[0].ID, Username: username, Email: email, IDNumber: u.ExternalID}, nil
}

// moodleNames gives the firstname and lastname Moodle requires (neither may
// be blank): the SCIM name parts, else the displayName split at its first
// space, else the username's local part and "-".
func moodleNames(u User) (first, last string) {
	first, last = strings.TrimSpace(u.GivenName), strings.TrimSpace(u.FamilyName)
	if words := strings.Fields(u.DisplayName); len(words) > 0 && (first == "" || last == "") {
		switch {
		case first == "" && last == "":
			first = words[0]
			last = strings.Join(words[1:], " ")
		case first == "":
			first = words[0]
		case len(words) > 1:
			last = strings.Join(words[1:], " ")
		}
	}
	if first == "" {
		first, _, _ = strings.Cut(moodleUsername(u), "@")
	}
	if first == "" {
		first = "-"
	}
	if last == "" {
		last = "-"
	}
	return first, last
}

// activelyEnrolled reports whether user has an active enrolment in course.
func (m *moodle) activelyEnrolled(ctx context.Context, d Delivery, user moodleUser, courseID int) (bool, error) {
	var courses []moodleCourse
	params := url.Values{"userid": {strconv.Itoa(user.ID)}, "returnusercount": {"0"}}
	if err := m.call(ctx, d, moodleGetUserCourses, params, &courses, fmt.Sprintf("user %d", user.ID)); err != nil {
		return false, err
	}
	for _, c := range courses {
		if c.ID == courseID {
			return true, nil
		}
	}
	return false, nil
}

func (m *moodle) enrol(ctx context.Context, d Delivery, user moodleUser, courseID int, suspend bool) error {
	s := "0"
	if suspend {
		s = "1"
	}
	params := url.Values{
		"enrolments[0][roleid]":   {strconv.Itoa(moodleStudentRole)},
		"enrolments[0][userid]":   {strconv.Itoa(user.ID)},
		"enrolments[0][courseid]": {strconv.Itoa(courseID)},
		"enrolments[0][suspend]":  {s},
	}
	err := m.call(ctx, d, moodleEnrol, params, nil, fmt.Sprintf("user %d in course %d (%s)", user.ID, courseID, d.Course))
	m.forgetCourseOnRefusal(d, err)
	return err
}

func (m *moodle) unenrol(ctx context.Context, d Delivery, user moodleUser, courseID int) error {
	params := url.Values{
		"enrolments[0][userid]":   {strconv.Itoa(user.ID)},
		"enrolments[0][courseid]": {strconv.Itoa(courseID)},
	}
	err := m.call(ctx, d, moodleUnenrol, params, nil, fmt.Sprintf("user %d from course %d (%s)", user.ID, courseID, d.Course))
	m.forgetCourseOnRefusal(d, err)
	return err
}

// forgetCourseOnRefusal drops a cached course lookup when Moodle refused a
// call about it, so that a course deleted or renumbered since is looked up
// afresh on the next attempt.
func (m *moodle) forgetCourseOnRefusal(d Delivery, err error) {
	var me *MoodleError
	if errors.As(err, &me) {
		m.courses.forget(strings.TrimSpace(d.Course))
	}
}

// call invokes one web service function with params and decodes its result
// into out (nil: the function returns null). what describes the call's
// subject for error messages. The token travels in the form body only, and
// no error carries the body or the token.
func (m *moodle) call(ctx context.Context, d Delivery, function string, params url.Values, out any, what string) error {
	op := "moodle: " + function
	form := make(url.Values, len(params)+3)
	for k, v := range params {
		form[k] = v
	}
	form.Set("wstoken", m.token)
	form.Set("wsfunction", function)
	form.Set("moodlewsrestformat", "json")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return m.scrub(&Error{Op: op, Permanent: true, Err: err})
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := time.Now()
	resp, err := do(m.client, req, d, op)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Err = moodleWhat(what, e.Err)
		}
		m.log.DebugContext(ctx, "moodle call failed", "function", function, "correlation_id", d.CorrelationID,
			"duration", time.Since(start), "error", m.scrub(err))
		return m.scrub(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, moodleMaxBody+1))
	if err != nil {
		// The answer was cut off: whether the call took effect is unknown,
		// and the next attempt looks before it writes.
		return m.scrub(&Error{Op: op, Status: resp.StatusCode, Err: moodleWhat(what, fmt.Errorf("reading the answer: %w", err))})
	}
	m.log.DebugContext(ctx, "moodle call", "function", function, "correlation_id", d.CorrelationID,
		"status", resp.StatusCode, "duration", time.Since(start))
	if len(body) > moodleMaxBody {
		return errorf(op, resp.StatusCode, "%s: answer larger than %d bytes", what, moodleMaxBody)
	}
	return m.scrub(moodleDecode(op, resp.StatusCode, body, out, what))
}

// moodleDecode reads a 2xx answer: a Moodle exception, or the result.
func moodleDecode(op string, status int, body []byte, out any, what string) error {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		var me MoodleError
		if json.Unmarshal(body, &me) == nil && (me.Exception != "" || me.ErrorCode != "") {
			return &Error{Op: op, Status: status, Permanent: !me.Retryable(), Err: moodleWhat(what, &me)}
		}
	}
	if !json.Valid(body) {
		return errorf(op, status, "%s: answer is not JSON: %q", what, truncate(string(body), 120))
	}
	if out == nil {
		return nil // null, [] or {} when nothing is returned
	}
	if err := json.Unmarshal(body, out); err != nil {
		return errorf(op, status, "%s: unexpected answer: %v", what, err)
	}
	return nil
}

// moodleWhat puts the call's subject in front of err.
func moodleWhat(what string, err error) error {
	if what == "" || err == nil {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// scrub makes sure no error carries the token, in case an answer or a proxy
// echoed it back.
func (m *moodle) scrub(err error) error {
	if err == nil || m.token == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, m.token) && !strings.Contains(msg, url.QueryEscape(m.token)) {
		return err
	}
	clean := strings.ReplaceAll(msg, url.QueryEscape(m.token), "[REDACTED]")
	clean = strings.ReplaceAll(clean, m.token, "[REDACTED]")
	var e *Error
	if errors.As(err, &e) {
		return &Error{Op: e.Op, Status: e.Status, RetryAfter: e.RetryAfter, Permanent: e.Permanent, Err: errors.New(clean)}
	}
	return errors.New(clean)
}

func moodleDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// moodleCourseCache remembers course lookups by idnumber or shortname for a
// while. It is safe for concurrent use.
type moodleCourseCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	ids map[string]moodleCachedCourse
}

type moodleCachedCourse struct {
	id      int
	expires time.Time
}

func newMoodleCourseCache(max int, ttl time.Duration) *moodleCourseCache {
	return &moodleCourseCache{max: max, ttl: ttl, now: time.Now, ids: make(map[string]moodleCachedCourse)}
}

func (c *moodleCourseCache) get(key string) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ids[key]
	if !ok {
		return 0, false
	}
	if !c.now().Before(e.expires) {
		delete(c.ids, key)
		return 0, false
	}
	return e.id, true
}

func (c *moodleCourseCache) put(key string, id int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.ids[key]; !ok && len(c.ids) >= c.max {
		for k, e := range c.ids { // drop the expired, else any one
			if !now.Before(e.expires) {
				delete(c.ids, k)
			}
		}
		for k := range c.ids {
			if len(c.ids) < c.max {
				break
			}
			delete(c.ids, k)
		}
	}
	c.ids[key] = moodleCachedCourse{id: id, expires: now.Add(c.ttl)}
}

func (c *moodleCourseCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.ids, key)
}
