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
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The canvas connector makes enrollments through the Canvas LMS REST API
// (https://developerdocs.instructure.com/services/canvas), authenticated
// with an admin's access token sent as "Authorization: Bearer". Every
// delivery looks before it writes:
//
//  1. GET /api/v1/users/sis_user_id:<sis> finds the user; a 404 means there
//     is none. The SIS user id is the user's externalId, else its userName.
//  2. Only for enroll, a missing user is created with POST
//     /api/v1/accounts/<account_id>/users (login = userName, else email;
//     no registration or confirmation mail). If Canvas answers that the
//     login or SIS id is already in use (someone created the user since
//     step 1, or a dropped answer hid our own create), the user is looked
//     up again.
//  3. GET /api/v1/courses/<course>/enrollments?user_id=...&type[]=StudentEnrollment
//     lists the user's student enrollments in the course in every state
//     that matters, following the Link rel="next" pages.
//  4. Then only what is missing is written:
//     - enroll: nothing when an active or invited enrollment exists; an
//     inactive (suspended) one is reactivated with PUT
//     .../enrollments/<id>/reactivate; otherwise POST .../enrollments with
//     enrollment_state=active and notify=false. Canvas's create reuses
//     the user's enrollment of that type in the same section when there
//     is one, setting its state, so a concluded enrollment is revived
//     rather than duplicated (Course#enroll_user with
//     allow_multiple_enrollments, app/models/course.rb).
//     - suspend: DELETE .../enrollments/<id>?task=deactivate for each
//     active, invited or pending one.
//     - unenroll: DELETE .../enrollments/<id>?task=conclude for each one
//     that is not already concluded. Concluding keeps grades and history;
//     an admin can still delete the enrollment in Canvas.
//     Suspend and unenroll succeed without writing when the user or the
//     enrollment does not exist.
//
// A course id of only digits is a Canvas course id; anything else is a SIS
// course id, sent as sis_course_id:<id> escaped per Canvas's "Object IDs"
// guide (UTF-8, percent-escaped, "." as %2E). A course id that already
// names its kind (sis_course_id:, sis_integration_id:, lti_context_id:) is
// sent as that kind.
//
// account_id names the account users are created in: a Canvas account id,
// sis_account_id:<id>, or "self" (the default: the root account of the
// Canvas domain).
//
// Canvas throttles with "403 Forbidden (Rate Limit Exceeded)" (newer
// instances 429): both are retried, after Retry-After when one is sent.
// Other 403s, 401 (a bad or expired token) and 400s are permanent. The
// message Canvas gives in its JSON error body is kept; the token is never
// part of an error.

// canvasPerPage asks Canvas for its usual maximum page size; pages beyond
// it are followed through the Link header.
const canvasPerPage = "100"

// canvasMaxPages bounds how many pages of one list are followed, so a
// server that always answers rel="next" cannot keep a delivery forever.
const canvasMaxPages = 100

// maxCanvasBody bounds how much of a success answer is decoded.
const maxCanvasBody = 8 << 20

// canvasStudent is the enrollment type Onramp manages.
const canvasStudent = "StudentEnrollment"

// Canvas enrollment states (an enrollment's workflow_state).
const (
	canvasActive          = "active"
	canvasInvited         = "invited"
	canvasCreationPending = "creation_pending"
	canvasInactive        = "inactive"
	canvasCompleted       = "completed"
)

// canvasListStates are the states step 3 asks for: every state but
// deleted and rejected, which Canvas treats as gone.
var canvasListStates = []string{canvasActive, canvasInvited, canvasCreationPending, canvasInactive, canvasCompleted}

// canvasIDPattern is a Canvas object id: at most 18 digits (lib/api.rb).
var canvasIDPattern = regexp.MustCompile(`^[0-9]{1,18}$`)

// canvasRefPrefixes are the id kinds a course id may name itself.
var canvasRefPrefixes = []string{"sis_course_id:", "sis_integration_id:", "lti_context_id:"}

type canvas struct {
	name     string
	base     *url.URL // scheme://host[/prefix], no trailing slash
	token    string
	tokenEnv string
	account  string // a path segment, already escaped
	client   *http.Client
	logger   *slog.Logger
}

func newCanvas(s Spec, deps Deps) (Connector, error) {
	var errs []error
	base, err := canvasBaseURL(s.URL)
	if err != nil {
		errs = append(errs, fmt.Errorf("connector %q: url: %w", s.Name, err))
	}
	env := deps.Env
	if env == nil {
		env = os.LookupEnv
	}
	token, err := secret(s, "token_env", s.TokenEnv, env)
	if err != nil {
		errs = append(errs, err)
	}
	token = strings.TrimSpace(token) // a trailing newline from a secrets file
	account, err := canvasAccountRef(s.AccountID)
	if err != nil {
		errs = append(errs, fmt.Errorf("connector %q: account_id: %w", s.Name, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &canvas{
		name:     s.Name,
		base:     base,
		token:    token,
		tokenEnv: s.TokenEnv,
		account:  account,
		client:   deps.Client,
		logger:   deps.Logger,
	}, nil
}

// canvasBaseURL checks the configured Canvas address. A trailing /api/v1
// is tolerated, since API examples show it.
func canvasBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("want an http or https URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("want an absolute URL with a host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("want a plain URL without user info, query or fragment")
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/api/v1")
	u.RawPath = ""
	return u, nil
}

// canvasAccountRef turns account_id into a path segment.
func canvasAccountRef(id string) (string, error) {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "self", nil
	case id == "self" || canvasIDPattern.MatchString(id):
		return id, nil
	}
	if v, ok := strings.CutPrefix(id, "sis_account_id:"); ok && strings.TrimSpace(v) != "" {
		return "sis_account_id:" + canvasEscape(strings.TrimSpace(v)), nil
	}
	return "", fmt.Errorf("want a Canvas account id, sis_account_id:<id> or self, got %q", id)
}

// canvasCourseRef turns a bundle's course id into a path segment.
func canvasCourseRef(course string) (string, error) {
	course = strings.TrimSpace(course)
	if course == "" {
		return "", errors.New("empty course id")
	}
	if canvasIDPattern.MatchString(course) {
		return course, nil
	}
	for _, p := range canvasRefPrefixes {
		if v, ok := strings.CutPrefix(course, p); ok {
			if v = strings.TrimSpace(v); v == "" {
				return "", fmt.Errorf("course id %q names no id", course)
			}
			return p + canvasEscape(v), nil
		}
	}
	return "sis_course_id:" + canvasEscape(course), nil
}

// canvasEscape escapes a SIS id for a URL path segment as Canvas's Object
// IDs guide asks: UTF-8, percent-escaped, and "." too, which Canvas would
// otherwise read as a format suffix (".json").
func canvasEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ".", "%2E")
}

// canvasUserRef is the path segment that finds a user by SIS user id.
func canvasUserRef(sis string) string { return "sis_user_id:" + canvasEscape(sis) }

// endpoint builds an absolute API URL from already-escaped path segments.
func (c *canvas) endpoint(query url.Values, segments ...string) string {
	s := c.base.String() + "/api/v1/" + strings.Join(segments, "/")
	if len(query) > 0 {
		s += "?" + query.Encode()
	}
	return s
}

// canvasID is a Canvas object id. Canvas sends ids as JSON numbers, or as
// strings when asked for (Accept: application/json+canvas-string-ids).
type canvasID int64

func (id *canvasID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*id = 0
		return nil
	}
	s := strings.Trim(string(b), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("canvas id %s: %w", b, err)
	}
	*id = canvasID(n)
	return nil
}

func (id canvasID) String() string { return strconv.FormatInt(int64(id), 10) }

type canvasUser struct {
	ID        canvasID `json:"id"`
	Name      string   `json:"name"`
	SISUserID string   `json:"sis_user_id"`
	LoginID   string   `json:"login_id"`
}

type canvasEnrollment struct {
	ID     canvasID `json:"id"`
	UserID canvasID `json:"user_id"`
	Type   string   `json:"type"`
	State  string   `json:"enrollment_state"`
}

func (c *canvas) Deliver(ctx context.Context, d Delivery) error {
	return c.redact(c.deliver(ctx, d))
}

func (c *canvas) deliver(ctx context.Context, d Delivery) error {
	switch d.Op {
	case OpEnroll, OpSuspend, OpUnenroll:
	default:
		return errorf("canvas", 0, "unknown operation %q", d.Op)
	}
	sis := strings.TrimSpace(d.User.ExternalID)
	if sis == "" {
		sis = strings.TrimSpace(d.User.UserName)
	}
	if sis == "" {
		return errorf("canvas", 0, "user %s has neither externalId nor userName to use as the Canvas SIS user id", d.User.ID)
	}
	course, err := canvasCourseRef(d.Course)
	if err != nil {
		return errorf("canvas", 0, "%v", err)
	}
	log := c.logger.With("connector", c.name, "op", string(d.Op), "sis_user_id", sis,
		"course", d.Course, "correlation_id", d.CorrelationID)

	user, found, err := c.findUser(ctx, d, sis)
	if err != nil {
		return err
	}
	if !found {
		if d.Op != OpEnroll {
			log.DebugContext(ctx, "canvas: no such user, nothing to remove")
			return nil
		}
		if user, err = c.createUser(ctx, d, sis); err != nil {
			return err
		}
		log.InfoContext(ctx, "canvas: created user", "canvas_user_id", user.ID.String())
	}
	enrollments, err := c.listEnrollments(ctx, d, course, user.ID)
	if err != nil {
		return err
	}

	switch d.Op {
	case OpEnroll:
		var inactive []canvasEnrollment
		for _, e := range enrollments {
			switch e.State {
			case canvasActive, canvasInvited:
				log.DebugContext(ctx, "canvas: already enrolled", "enrollment_id", e.ID.String(), "state", e.State)
				return nil
			case canvasInactive:
				inactive = append(inactive, e)
			}
		}
		if len(inactive) > 0 {
			if err := c.reactivate(ctx, d, course, inactive[0]); err != nil {
				return err
			}
			log.InfoContext(ctx, "canvas: reactivated enrollment", "enrollment_id", inactive[0].ID.String())
			return nil
		}
		e, err := c.enroll(ctx, d, course, user.ID)
		if err != nil {
			return err
		}
		log.InfoContext(ctx, "canvas: enrolled", "enrollment_id", e.ID.String(), "state", e.State)
		return nil
	case OpSuspend:
		for _, e := range enrollments {
			switch e.State {
			case canvasActive, canvasInvited, canvasCreationPending:
				if err := c.remove(ctx, d, course, e, "deactivate"); err != nil {
					return err
				}
				log.InfoContext(ctx, "canvas: deactivated enrollment", "enrollment_id", e.ID.String())
			}
		}
		return nil
	default: // OpUnenroll
		for _, e := range enrollments {
			if e.State == canvasCompleted {
				continue
			}
			if err := c.remove(ctx, d, course, e, "conclude"); err != nil {
				return err
			}
			log.InfoContext(ctx, "canvas: concluded enrollment", "enrollment_id", e.ID.String())
		}
		return nil
	}
}

// findUser looks a user up by SIS user id; found is false on a 404.
func (c *canvas) findUser(ctx context.Context, d Delivery, sis string) (u canvasUser, found bool, err error) {
	const op = "canvas: GET user"
	_, err = c.call(ctx, d, http.MethodGet, c.endpoint(nil, "users", canvasUserRef(sis)), nil, op, &u)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return canvasUser{}, false, nil
	}
	if err != nil {
		return canvasUser{}, false, err
	}
	if u.ID == 0 {
		return canvasUser{}, false, errorf(op, http.StatusOK, "the answer has no user id")
	}
	return u, true, nil
}

// createUser creates the user with a login and SIS id, registered and
// without any mail to them.
func (c *canvas) createUser(ctx context.Context, d Delivery, sis string) (canvasUser, error) {
	const op = "canvas: POST user"
	login := strings.TrimSpace(d.User.UserName)
	email := strings.TrimSpace(d.User.Email)
	if login == "" {
		login = email
	}
	if login == "" {
		return canvasUser{}, errorf(op, 0, "user %s has neither userName nor email to use as the Canvas login", d.User.ID)
	}
	form := url.Values{}
	form.Set("user[name]", canvasName(d.User, login))
	if given, family := strings.TrimSpace(d.User.GivenName), strings.TrimSpace(d.User.FamilyName); given != "" && family != "" {
		form.Set("user[short_name]", given+" "+family)
		form.Set("user[sortable_name]", family+", "+given)
	}
	form.Set("user[skip_registration]", "true")
	form.Set("pseudonym[unique_id]", login)
	form.Set("pseudonym[sis_user_id]", sis)
	form.Set("pseudonym[send_confirmation]", "false")
	if email != "" {
		form.Set("communication_channel[type]", "email")
		form.Set("communication_channel[address]", email)
		form.Set("communication_channel[skip_confirmation]", "true")
	}
	// A user deleted in Canvas whose SIS id this is comes back rather than
	// blocking the id.
	form.Set("enable_sis_reactivation", "true")

	var u canvasUser
	_, err := c.call(ctx, d, http.MethodPost, c.endpoint(nil, "accounts", c.account, "users"), form, op, &u)
	if err != nil {
		if !isCanvasTaken(err) {
			return canvasUser{}, err
		}
		// Taken: the user exists after all (created since we looked, or our
		// own earlier create whose answer was lost). Look again.
		again, found, ferr := c.findUser(ctx, d, sis)
		if ferr != nil {
			return canvasUser{}, ferr
		}
		if !found {
			var e *Error
			errors.As(err, &e)
			return canvasUser{}, &Error{Op: op, Status: e.Status, Permanent: true,
				Err: fmt.Errorf("login %q is in use by a Canvas user with another SIS user id than %q: %w", login, sis, e.Err)}
		}
		return again, nil
	}
	if u.ID == 0 {
		return canvasUser{}, errorf(op, http.StatusOK, "the answer has no user id")
	}
	return u, nil
}

// canvasName is the user's full name for Canvas.
func canvasName(u User, login string) string {
	if n := strings.TrimSpace(u.DisplayName); n != "" {
		return n
	}
	if n := strings.TrimSpace(strings.TrimSpace(u.GivenName) + " " + strings.TrimSpace(u.FamilyName)); n != "" {
		return n
	}
	return login
}

// isCanvasTaken reports whether err is Canvas refusing a new login or SIS
// user id because another login has it ("ID already in use for this
// account and authentication provider", "SIS ID \"x\" is already in use",
// app/models/pseudonym.rb).
func isCanvasTaken(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusBadRequest && e.Err != nil &&
		strings.Contains(e.Err.Error(), "already in use")
}

// listEnrollments lists the user's student enrollments in the course, every
// page of them.
func (c *canvas) listEnrollments(ctx context.Context, d Delivery, course string, user canvasID) ([]canvasEnrollment, error) {
	const op = "canvas: GET enrollments"
	q := url.Values{}
	q.Set("user_id", user.String())
	q.Add("type[]", canvasStudent)
	for _, s := range canvasListStates {
		q.Add("state[]", s)
	}
	q.Set("per_page", canvasPerPage)
	next := c.endpoint(q, "courses", course, "enrollments")
	var all []canvasEnrollment
	for page := 0; next != ""; page++ {
		if page == canvasMaxPages {
			return nil, errorf(op, 0, "gave up after %d pages of enrollments", canvasMaxPages)
		}
		var batch []canvasEnrollment
		h, err := c.call(ctx, d, http.MethodGet, next, nil, op, &batch)
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound && page == 0 {
			e.Err = fmt.Errorf("no course %q in Canvas: %w", d.Course, e.Err)
		}
		if err != nil {
			return nil, err
		}
		for _, e := range batch {
			// Canvas filters already; this guards against a server that
			// ignores the filters.
			if e.UserID == user && (e.Type == "" || e.Type == canvasStudent) {
				all = append(all, e)
			}
		}
		if next, err = c.nextPage(h, op); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// nextPage returns the rel="next" link of a paginated answer, "" on the
// last page. It refuses a link to another origin, which would carry the
// token away.
func (c *canvas) nextPage(h http.Header, op string) (string, error) {
	raw := linkNext(h)
	if raw == "" {
		return "", nil
	}
	u, err := c.base.Parse(raw)
	if err != nil {
		return "", errorf(op, 0, "malformed Link rel=\"next\": %v", err)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host {
		return "", errorf(op, 0, "refusing to follow a Link rel=\"next\" to %s://%s, not the configured Canvas", u.Scheme, u.Host)
	}
	return u.String(), nil
}

// linkNext finds the rel="next" target in Link headers (RFC 8288).
func linkNext(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range splitLinks(v) {
			target, params, ok := strings.Cut(link, ";")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if !strings.EqualFold(strings.TrimSpace(k), "rel") {
					continue
				}
				for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
					if strings.EqualFold(rel, "next") {
						return target[1 : len(target)-1]
					}
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header value at the commas between links, not
// those inside a <URL>.
func splitLinks(v string) []string {
	var links []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				links = append(links, v[start:i])
				start = i + 1
			}
		}
	}
	return append(links, v[start:])
}

// enroll creates (or, in Canvas, revives) an active student enrollment.
func (c *canvas) enroll(ctx context.Context, d Delivery, course string, user canvasID) (canvasEnrollment, error) {
	const op = "canvas: POST enrollment"
	form := url.Values{}
	form.Set("enrollment[user_id]", user.String())
	form.Set("enrollment[type]", canvasStudent)
	form.Set("enrollment[enrollment_state]", canvasActive)
	form.Set("enrollment[notify]", "false")
	var e canvasEnrollment
	_, err := c.call(ctx, d, http.MethodPost, c.endpoint(nil, "courses", course, "enrollments"), form, op, &e)
	return e, err
}

// reactivate makes a deactivated enrollment active again.
func (c *canvas) reactivate(ctx context.Context, d Delivery, course string, e canvasEnrollment) error {
	const op = "canvas: PUT reactivate enrollment"
	_, err := c.call(ctx, d, http.MethodPut, c.endpoint(nil, "courses", course, "enrollments", e.ID.String(), "reactivate"), nil, op, nil)
	var ce *Error
	if errors.As(err, &ce) && ce.Status == http.StatusBadRequest && ce.Err != nil && strings.Contains(ce.Err.Error(), "not inactive") {
		// Its state changed since we listed it: the next attempt looks again.
		ce.Permanent = false
	}
	return err
}

// remove concludes or deactivates an enrollment. One that is gone (404)
// needs nothing more.
func (c *canvas) remove(ctx context.Context, d Delivery, course string, e canvasEnrollment, task string) error {
	op := "canvas: DELETE enrollment (" + task + ")"
	q := url.Values{"task": {task}}
	_, err := c.call(ctx, d, http.MethodDelete, c.endpoint(q, "courses", course, "enrollments", e.ID.String()), nil, op, nil)
	var ce *Error
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// call makes one API request through [do] and decodes a 2xx JSON answer
// into out (when not nil). Failures are *Error with Canvas's own message.
func (c *canvas) call(ctx context.Context, d Delivery, method, target string, form url.Values, op string, out any) (http.Header, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, errorf(op, 0, "%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := do(c.client, req, d, op)
	if err != nil {
		return nil, c.canvasError(err)
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCanvasBody))
		return resp.Header, nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxCanvasBody))
	if err != nil {
		return nil, &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	// Canvas prefixes JSON with while(1); for session (not token) requests;
	// harmless to accept.
	b = bytes.TrimPrefix(bytes.TrimSpace(b), []byte("while(1);"))
	if err := json.Unmarshal(b, out); err != nil {
		return nil, errorf(op, resp.StatusCode, "the answer is not the JSON expected: %v", err)
	}
	return resp.Header, nil
}

// canvasMessagePattern finds "message" and "error" strings in a Canvas
// error body; a pattern rather than a decoder, so a body cut short still
// yields its messages.
var canvasMessagePattern = regexp.MustCompile(`"(?:message|error)"\s*:\s*"((?:[^"\\]|\\.)*)"`)

// canvasError refines [do]'s classification for Canvas: throttling
// ("403 Forbidden (Rate Limit Exceeded)") is worth retrying, and the body
// is reduced to Canvas's messages.
func (c *canvas) canvasError(err error) error {
	var e *Error
	if !errors.As(err, &e) || e.Status == 0 || e.Err == nil {
		return err
	}
	body := e.Err.Error()
	if e.Status == http.StatusForbidden && strings.Contains(body, "Rate Limit Exceeded") {
		e.Permanent = false
		e.Err = errors.New("rate limit exceeded")
		return e
	}
	msg := canvasMessages(body)
	if e.Status == http.StatusUnauthorized {
		msg += fmt.Sprintf(" (check the access token in %s and its owner's permissions)", c.tokenEnv)
	}
	e.Err = errors.New(msg)
	return e
}

// canvasMessages joins the messages of a Canvas error body, which comes as
// {"errors":[{"message":...}]}, {"errors":{"field":[{"message":...}]}},
// {"message":...} or {"error":...}; anything else is returned as it is.
func canvasMessages(body string) string {
	var msgs []string
	for _, m := range canvasMessagePattern.FindAllStringSubmatch(body, 8) {
		s, err := strconv.Unquote(`"` + m[1] + `"`)
		if err != nil {
			s = m[1]
		}
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(msgs, s) {
			msgs = append(msgs, s)
		}
	}
	if len(msgs) == 0 {
		return body
	}
	// A failed login also fails its user with a bare "is invalid".
	if i := slices.Index(msgs, "is invalid"); i >= 0 && len(msgs) > 1 {
		msgs = slices.Delete(msgs, i, i+1)
	}
	return strings.Join(msgs, "; ")
}

// redact removes the token from err's text, whatever put it there (a
// server echoing the request, a proxy's error page).
func (c *canvas) redact(err error) error {
	if err == nil || c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		cp := *e
		cp.Op = strings.ReplaceAll(cp.Op, c.token, "[redacted]")
		if cp.Err != nil {
			cp.Err = errors.New(strings.ReplaceAll(cp.Err.Error(), c.token, "[redacted]"))
		}
		return &cp
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.token, "[redacted]"))
}
