package e2e

// Helpers for the delivery tests: a server with connectors from a config
// file, mappings applied with `onramp apply`, and checks on what the fake
// far ends received.

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/lms/lmstest"
)

// deliveryTuning is the config file's delivery section for tests: fast
// retries and a quick rescue, so that failures resolve in seconds.
type deliveryTuning struct {
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration
}

var defaultTuning = deliveryTuning{MaxAttempts: 5, BackoffBase: 50 * time.Millisecond, BackoffMax: 500 * time.Millisecond}

// deliveryServer describes the connectors of one server under test.
type deliveryServer struct {
	connectors []string // YAML flow mappings, one per connector
	env        []string // KEY=VALUE: the connectors' secrets
	tuning     deliveryTuning
}

// webhook adds a webhook connector to a new receiver and returns the receiver.
func (s *deliveryServer) webhook(t *testing.T, name string) *lmstest.WebhookReceiver {
	t.Helper()
	secret := newWebhookSecret()
	r := lmstest.NewWebhookReceiver(t, secret)
	env := strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_SECRET"
	s.connectors = append(s.connectors, fmt.Sprintf("{name: %s, type: webhook, url: %q, secret_env: %s}", name, r.URL+"/", env))
	s.env = append(s.env, env+"="+secret)
	return r
}

// moodle adds a moodle connector to a new fake Moodle and returns it.
func (s *deliveryServer) moodle(t *testing.T, name string) *lmstest.Moodle {
	t.Helper()
	token := randHex(16)
	m := lmstest.NewMoodle(t, token)
	env := strings.ToUpper(name) + "_TOKEN"
	s.connectors = append(s.connectors, fmt.Sprintf("{name: %s, type: moodle, url: %q, token_env: %s}", name, m.URL, env))
	s.env = append(s.env, env+"="+token)
	return m
}

// canvas adds a canvas connector to a new fake Canvas and returns it.
func (s *deliveryServer) canvas(t *testing.T, name string) *lmstest.Canvas {
	t.Helper()
	token := randHex(16)
	c := lmstest.NewCanvas(t, token)
	env := strings.ToUpper(name) + "_TOKEN"
	s.connectors = append(s.connectors, fmt.Sprintf("{name: %s, type: canvas, url: %q, account_id: \"1\", token_env: %s}", name, c.URL, env))
	s.env = append(s.env, env+"="+token)
	return c
}

// start writes the config file and starts a server with it on db.
func (s *deliveryServer) start(t *testing.T, db string) *instance {
	t.Helper()
	tu := s.tuning
	if tu.MaxAttempts == 0 {
		tu = defaultTuning
	}
	var b strings.Builder
	b.WriteString("connectors:\n")
	for _, c := range s.connectors {
		b.WriteString("  - " + c + "\n")
	}
	fmt.Fprintf(&b, "delivery: {max_attempts: %d, backoff_base: %s, backoff_max: %s, poll_interval: 20ms, job_timeout: 5s, rescue_after: 2s, workers: 10}\n",
		tu.MaxAttempts, tu.BackoffBase, tu.BackoffMax)
	path := filepath.Join(t.TempDir(), "onramp.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return startOnrampWith(t, db, serveOptions{config: path, env: s.env})
}

// newWebhookSecret is a Standard Webhooks secret: whsec_ and 32 random
// bytes in base64.
func newWebhookSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// apply runs `onramp apply -f FILE` with the YAML text and returns what it printed.
func (inst *instance) apply(t *testing.T, yaml string, flags ...string) cliResult {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return inst.mustCLI(t, append([]string{"apply", "-f", path}, flags...)...)
}

// hire creates a user with the attributes an HR system sends and returns
// its id and externalId.
func hire(t *testing.T, inst *instance, userName string, opts ...reqOpt) (id, externalID string) {
	t.Helper()
	externalID = "emp-" + randHex(4)
	r := inst.do(t, http.MethodPost, "/scim/v2/Users", hireBody(userName, externalID), opts...)
	mustStatus(t, r, http.StatusCreated)
	id = getStr(r.JSON(t), "id")
	if id == "" {
		t.Fatalf("%s: no id in %s", r.req, r)
	}
	return id, externalID
}

func hireBody(userName, externalID string) map[string]any {
	given, family, _ := strings.Cut(userName, "-")
	return userBody(userName, map[string]any{
		"externalId":  externalID,
		"displayName": "Display " + userName,
		"name":        map[string]any{"givenName": "G" + given, "familyName": "F" + family},
		"emails":      []map[string]any{{"value": userName + "@example.com", "type": "work", "primary": true}},
	})
}

// addMembers adds users to a group with one PATCH.
func addMembers(t *testing.T, inst *instance, groupID string, userIDs []string, opts ...reqOpt) *response {
	t.Helper()
	var members []map[string]any
	for _, id := range userIDs {
		members = append(members, map[string]any{"value": id})
	}
	r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+groupID, patchBody(op("add", "members", members)), opts...)
	mustStatus(t, r, http.StatusOK, http.StatusNoContent)
	return r
}

// removeMember removes one user from a group, as Okta and Entra do.
func removeMember(t *testing.T, inst *instance, groupID, userID string, opts ...reqOpt) {
	t.Helper()
	r := inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+groupID,
		patchBody(op("remove", fmt.Sprintf("members[value eq %q]", userID), nil)), opts...)
	mustStatus(t, r, http.StatusOK, http.StatusNoContent)
}

// want is a desired receiver state: user id -> course -> state.
type want map[string]map[string]string

// reached reports whether the receiver holds exactly w for the users in w.
func reached(r *lmstest.WebhookReceiver, w want) bool {
	got := r.Enrolled()
	for uid, courses := range w {
		if len(courses) == 0 {
			if len(got[uid]) != 0 {
				return false
			}
			continue
		}
		if !mapsEqual(got[uid], courses) {
			return false
		}
	}
	return true
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// waitEnrolled waits until the receiver holds w for w's users.
func waitEnrolled(t *testing.T, r *lmstest.WebhookReceiver, w want, timeout time.Duration) {
	t.Helper()
	r.WaitFor(t, func(r *lmstest.WebhookReceiver) bool { return reached(r, w) }, timeout)
}

// eventKey is what one distinct enrollment change is about.
type eventKey struct{ user, course, typ string }

// distinctIDs counts the distinct webhook-ids per (user, course, type)
// among everything the receiver accepted, duplicates included.
func distinctIDs(r *lmstest.WebhookReceiver) map[eventKey]int {
	ids := map[eventKey]map[string]bool{}
	for _, d := range r.Deliveries() {
		k := eventKey{d.User.ID, d.CourseID, d.Type}
		if ids[k] == nil {
			ids[k] = map[string]bool{}
		}
		ids[k][d.ID] = true
	}
	out := map[eventKey]int{}
	for k, v := range ids {
		out[k] = len(v)
	}
	return out
}

// checkNoDoubles checks that every (user, course, type) arrived under
// exactly one webhook-id, that a repeated id always carried the same body,
// and that the receiver refused nothing.
func checkNoDoubles(t *testing.T, r *lmstest.WebhookReceiver) {
	t.Helper()
	var doubled []string
	for k, n := range distinctIDs(r) {
		if n != 1 {
			doubled = append(doubled, fmt.Sprintf("%s %s %s: %d ids", k.user, k.course, k.typ, n))
		}
	}
	slices.Sort(doubled)
	if len(doubled) > 0 {
		t.Errorf("%d enrollment changes were sent under more than one webhook-id (a receiver would apply them twice):\n  %s",
			len(doubled), strings.Join(doubled[:min(len(doubled), 20)], "\n  "))
	}
	if ids := r.Inconsistent(); len(ids) > 0 {
		t.Errorf("webhook-ids sent again with a different body: %v", ids)
	}
	if n := r.Rejected(); n > 0 {
		t.Errorf("the receiver refused %d requests: %v", n, r.Rejections())
	}
}

// checkConsistent checks that a repeated webhook-id always carried the
// same body and that the receiver refused nothing, for tests where one
// change may legitimately happen twice (enrolled, removed, enrolled again).
func checkConsistent(t *testing.T, r *lmstest.WebhookReceiver) {
	t.Helper()
	if ids := r.Inconsistent(); len(ids) > 0 {
		t.Errorf("webhook-ids sent again with a different body: %v", ids)
	}
	if n := r.Rejected(); n > 0 {
		t.Errorf("the receiver refused %d requests: %v", n, r.Rejections())
	}
}

// typesFor is the event types the receiver got for one user and course,
// de-duplicated, in arrival order.
func typesFor(r *lmstest.WebhookReceiver, userID, course string) []string {
	var out []string
	for _, e := range r.Events() {
		if e.User.ID == userID && e.CourseID == course {
			out = append(out, strings.TrimPrefix(e.Type, "enrollment."))
		}
	}
	return out
}

// eventsFor is the de-duplicated events about one user.
func eventsFor(r *lmstest.WebhookReceiver, userID string) []lmstest.WebhookDelivery {
	var out []lmstest.WebhookDelivery
	for _, e := range r.Events() {
		if e.User.ID == userID {
			out = append(out, e)
		}
	}
	return out
}

// metrics scrapes /metrics and returns each sample by its name with labels
// as exposed, e.g. `onramp_delivery_jobs{state="completed"}`.
func (inst *instance) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	r := inst.do(t, http.MethodGet, "/metrics", nil)
	mustStatus(t, r, http.StatusOK)
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(r.Body)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// jobStates is onramp_delivery_jobs by state.
func (inst *instance) jobStates(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for k, v := range inst.metrics(t) {
		if state, ok := strings.CutPrefix(k, `onramp_delivery_jobs{state="`); ok {
			out[strings.TrimSuffix(state, `"}`)] = int(v)
		}
	}
	return out
}

// waitIdle waits until no sync job is queued, scheduled, waiting to be
// retried or running, and returns the job counts by state.
func (inst *instance) waitIdle(t *testing.T, timeout time.Duration) map[string]int {
	t.Helper()
	var states map[string]int
	waitFor(t, timeout, "no sync job queued or running", func() error {
		states = inst.jobStates(t)
		if len(states) == 0 {
			return errors.New("no onramp_delivery_jobs samples in /metrics")
		}
		busy := states["available"] + states["scheduled"] + states["retryable"] + states["running"] + states["pending"]
		if busy > 0 {
			return fmt.Errorf("sync jobs by state: %v", states)
		}
		return nil
	})
	return states
}

// deadLetters runs `onramp deliveries list --dead --json`.
func deadLetters(t *testing.T, inst *instance) []map[string]any {
	t.Helper()
	res := inst.mustCLI(t, "deliveries", "list", "--dead", "--json")
	var out []map[string]any
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("deliveries list --dead --json printed a line that is not JSON: %q", line)
		}
		out = append(out, d)
	}
	return out
}

// waitDeadLetter waits until a dead letter for userID is listed and returns it.
func waitDeadLetter(t *testing.T, inst *instance, userID string, timeout time.Duration) map[string]any {
	t.Helper()
	var found map[string]any
	waitFor(t, timeout, "a dead letter for user "+userID, func() error {
		for _, d := range deadLetters(t, inst) {
			if d["user_id"] == userID {
				found = d
				return nil
			}
		}
		return errors.New("not listed yet")
	})
	return found
}

// deliveryTimeout bounds waiting for a delivery with no failure injected.
const deliveryTimeout = 30 * time.Second
