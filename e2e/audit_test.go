package e2e

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var newCorrelationID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func isNewCorrelationID(s string) bool { return newCorrelationID.MatchString(s) }

func TestCorrelationAndAudit(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		const corr = "e2e-abc-123"
		userName := uniq("audited")

		r := inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(userName, nil), withHeader("X-Correlation-ID", corr))
		mustStatus(t, r, http.StatusCreated)
		uid := getStr(r.JSON(t), "id")
		if got := r.Header.Get("X-Correlation-ID"); got != corr {
			t.Errorf("X-Correlation-ID = %q, want the request's %q", got, corr)
		}

		t.Run("correlation id header", func(t *testing.T) {
			long128 := "a" + strings.Repeat("b", 127)
			for _, tc := range []struct {
				name, header, value string
				echo                bool
			}{
				{"uuid", "X-Correlation-ID", "0193f0a4-7b1e-7c3d-9f00-1234567890ab", true},
				{"dots colons underscores", "X-Correlation-ID", "okta:req_1.2-3", true},
				{"128 characters", "X-Correlation-ID", long128, true},
				{"X-Request-ID", "X-Request-ID", "req-" + randHex(6), true},
				{"spaces", "X-Correlation-ID", "has spaces in it", false},
				{"300 characters", "X-Correlation-ID", strings.Repeat("a", 300), false},
				{"129 characters", "X-Correlation-ID", long128 + "c", false},
				{"markup", "X-Correlation-ID", "<script>alert(1)</script>", false},
				{"non-ASCII", "X-Correlation-ID", "caf\u00e9-123", false},
				{"quotes", "X-Correlation-ID", `a"b`, false},
				{"bad X-Request-ID", "X-Request-ID", "a b", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := inst.do(t, http.MethodGet, "/scim/v2/Users/"+uid, nil, withHeader(tc.header, tc.value))
					mustStatus(t, r, http.StatusOK)
					got := r.Header.Get("X-Correlation-ID")
					if tc.echo && got != tc.value {
						t.Errorf("%s %q: X-Correlation-ID = %q, want it echoed", tc.header, tc.value, got)
					}
					if !tc.echo && !isNewCorrelationID(got) {
						t.Errorf("%s %q: X-Correlation-ID = %q, want a fresh 32-hex-digit id", tc.header, tc.value, got)
					}
				})
			}
			// Two requests without an id get two different ids.
			a := inst.do(t, http.MethodGet, "/healthz", nil).Header.Get("X-Correlation-ID")
			b := inst.do(t, http.MethodGet, "/healthz", nil).Header.Get("X-Correlation-ID")
			if a == b || !isNewCorrelationID(a) || !isNewCorrelationID(b) {
				t.Errorf("minted ids %q and %q: want two different 32-hex-digit ids", a, b)
			}
		})

		t.Run("audit by correlation id", func(t *testing.T) {
			evs := auditEvents(t, inst, "--correlation-id", corr)
			if len(evs) != 1 {
				t.Fatalf("audit --correlation-id %s: %d events, want 1: %v", corr, len(evs), evs)
			}
			ev := evs[0]
			for k, want := range map[string]any{
				"action": "user.create", "resource_id": uid, "outcome": "success",
				"actor": "bootstrap", "correlation_id": corr, "resource_type": "User",
			} {
				if ev[k] != want {
					t.Errorf("event %s = %v, want %v (event %v)", k, ev[k], want, ev)
				}
			}
			if n, _ := getNum(ev, "status"); n != http.StatusCreated {
				t.Errorf("event status = %v, want 201", ev["status"])
			}
			if _, err := time.Parse(time.RFC3339, getStr(ev, "time")); err != nil {
				t.Errorf("event time %q is not RFC 3339", getStr(ev, "time"))
			}
		})

		t.Run("failed write is audited", func(t *testing.T) {
			const dupCorr = "e2e-dup-409"
			r := inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(strings.ToUpper(userName), nil), withHeader("X-Correlation-ID", dupCorr))
			checkSCIMError(t, r, http.StatusConflict, "uniqueness")
			evs := auditEvents(t, inst, "--correlation-id", dupCorr)
			if len(evs) != 1 {
				t.Fatalf("audit --correlation-id %s: %d events, want 1: %v", dupCorr, len(evs), evs)
			}
			ev := evs[0]
			if ev["outcome"] != "failure" || ev["action"] != "user.create" || ev["actor"] != "bootstrap" {
				t.Errorf("event = %v, want outcome failure, action user.create, actor bootstrap", ev)
			}
			if n, _ := getNum(ev, "status"); n != http.StatusConflict {
				t.Errorf("event status = %v, want 409", ev["status"])
			}
		})

		t.Run("history of a resource, newest first", func(t *testing.T) {
			password := "hunter2-" + randHex(6)
			r := inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(uniq("history"), map[string]any{"password": password}),
				withHeader("X-Correlation-ID", "e2e-hist-create"))
			mustStatus(t, r, http.StatusCreated)
			id := getStr(r.JSON(t), "id")
			mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Users/"+id, patchBody(op("replace", "active", false)),
				withHeader("X-Correlation-ID", "e2e-hist-patch")), http.StatusOK, http.StatusNoContent)
			mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Users/"+id, nil,
				withHeader("X-Correlation-ID", "e2e-hist-delete")), http.StatusNoContent)

			evs := auditEvents(t, inst, "--resource-id", id)
			var actions, corrs []string
			for _, ev := range evs {
				actions = append(actions, getStr(ev, "action"))
				corrs = append(corrs, getStr(ev, "correlation_id"))
			}
			if want := []string{"user.delete", "user.patch", "user.create"}; !slices.Equal(actions, want) {
				t.Errorf("audit --resource-id: actions %v, want %v", actions, want)
			}
			if want := []string{"e2e-hist-delete", "e2e-hist-patch", "e2e-hist-create"}; !slices.Equal(corrs, want) {
				t.Errorf("audit --resource-id: correlation ids %v, want %v", corrs, want)
			}
			text := inst.mustCLI(t, "audit", "--resource-id", id)
			if strings.Contains(text.Stdout+text.Stderr, password) {
				t.Errorf("the audit trail shows a user's password")
			}
		})

		t.Run("group history", func(t *testing.T) {
			gid := mustCreateGroup(t, inst, uniq("Audited Group"), uid)
			mustStatus(t, inst.do(t, http.MethodPatch, "/scim/v2/Groups/"+gid, patchBody(op("remove", "members", nil))),
				http.StatusOK, http.StatusNoContent)
			mustStatus(t, inst.do(t, http.MethodDelete, "/scim/v2/Groups/"+gid, nil), http.StatusNoContent)
			var actions []string
			for _, ev := range auditEvents(t, inst, "--resource-id", gid) {
				actions = append(actions, getStr(ev, "action"))
				if ev["resource_type"] != "Group" || ev["outcome"] != "success" || ev["actor"] != "bootstrap" {
					t.Errorf("group event %v: want resource_type Group, outcome success, actor bootstrap", ev)
				}
			}
			if want := []string{"group.delete", "group.patch", "group.create"}; !slices.Equal(actions, want) {
				t.Errorf("audit --resource-id <group>: actions %v, want %v", actions, want)
			}
		})

		t.Run("logs carry the correlation id", func(t *testing.T) {
			var line map[string]any
			waitFor(t, 10*time.Second, "the request's log line", func() error {
				for _, rec := range inst.stderr.records() {
					if rec["correlation_id"] == corr && rec["method"] == http.MethodPost {
						line = rec
						return nil
					}
				}
				return errors.New("no log record with correlation_id " + corr)
			})
			if n, _ := getNum(line, "status"); n != http.StatusCreated {
				t.Errorf("the request's log line has status %v, want 201: %v", line["status"], line)
			}
		})

		t.Run("secret never logged", func(t *testing.T) {
			if strings.Contains(inst.stderr.String()+inst.stdout.String(), inst.token) {
				t.Errorf("the server's output contains the bootstrap secret")
			}
			all := inst.mustCLI(t, "audit", "--json", "--limit", "10000")
			if strings.Contains(all.Stdout+all.Stderr, inst.token) {
				t.Errorf("the audit trail contains the bootstrap secret")
			}
		})
	})
}

// auditEvents runs `onramp audit --json ARGS` against the instance's
// database and decodes one event per line.
func auditEvents(t *testing.T, inst *instance, args ...string) []map[string]any {
	t.Helper()
	res := inst.mustCLI(t, append([]string{"audit", "--json"}, args...)...)
	var evs []map[string]any
	for _, line := range strings.Split(res.Stdout, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit --json printed a line that is not JSON: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}
