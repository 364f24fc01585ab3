package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store/storetest"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		uid := mustCreateUser(t, inst, uniq("auth.target"))

		t.Run("unauthenticated", func(t *testing.T) {
			for _, tc := range []struct {
				name         string
				method, path string
				body         any
				opts         []reqOpt
			}{
				{"no token GET", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{noToken()}},
				{"no token POST", http.MethodPost, "/scim/v2/Users", userBody(uniq("anon"), nil), []reqOpt{noToken()}},
				{"no token discovery", http.MethodGet, "/scim/v2/ServiceProviderConfig", nil, []reqOpt{noToken()}},
				{"no token unknown user", http.MethodGet, "/scim/v2/Users/nope", nil, []reqOpt{noToken()}},
				{"wrong token", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{withToken("wrong-" + randHex(16))}},
				{"bootstrap secret with a suffix", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{withToken(inst.token + "x")}},
				{"wrong token DELETE", http.MethodDelete, "/scim/v2/Users/" + uid, nil, []reqOpt{withToken("wrong-" + randHex(16))}},
				{"Basic scheme", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{withHeader("Authorization", "Basic "+inst.token)}},
				{"empty Bearer", http.MethodGet, "/scim/v2/Users", nil, []reqOpt{withHeader("Authorization", "Bearer ")}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := inst.do(t, tc.method, tc.path, tc.body, tc.opts...)
					checkSCIMError(t, r, http.StatusUnauthorized, "")
					if wa := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
						t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", wa)
					}
				})
			}
			// Nothing was deleted or created by the refused requests.
			inst.mustGet(t, "/scim/v2/Users/"+uid)
		})

		t.Run("read-only token", func(t *testing.T) {
			res := inst.mustCLI(t, "token", "create", "--name", "r", "--scopes", "scim:read")
			secret := lastLine(res.Stdout)
			if secret == "" {
				t.Fatalf("token create printed no secret:\nstdout %q\nstderr %q", res.Stdout, res.Stderr)
			}
			before := inst.counts(t)

			mustStatus(t, inst.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(secret)), http.StatusOK)
			mustStatus(t, inst.do(t, http.MethodGet, "/scim/v2/Users/"+uid, nil, withToken(secret)), http.StatusOK)
			for _, tc := range []struct {
				method, path string
				body         any
			}{
				{http.MethodPost, "/scim/v2/Users", userBody(uniq("readonly.write"), nil)},
				{http.MethodPatch, "/scim/v2/Users/" + uid, patchBody(op("replace", "active", false))},
				{http.MethodPut, "/scim/v2/Users/" + uid, userBody(uniq("readonly.put"), nil)},
				{http.MethodDelete, "/scim/v2/Users/" + uid, nil},
				{http.MethodPost, "/scim/v2/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": uniq("ro")}},
			} {
				r := inst.do(t, tc.method, tc.path, tc.body, withToken(secret))
				checkSCIMError(t, r, http.StatusForbidden, "")
			}
			if after := inst.counts(t); after != before {
				t.Errorf("users, groups: %v before, %v after the refused writes", before, after)
			}
			if u := inst.mustGet(t, "/scim/v2/Users/"+uid); get(u, "active") == false {
				t.Errorf("a refused PATCH deactivated the user")
			}

			list := inst.mustCLI(t, "token", "list")
			if !hasTokenLine(list.Stdout, "r") {
				t.Errorf("token list does not show token r:\n%s", list.Stdout)
			}
			if strings.Contains(list.Stdout+list.Stderr, secret) {
				t.Errorf("token list prints the secret")
			}

			inst.mustCLI(t, "token", "revoke", "r")
			// The server trusts a verified token for a couple of seconds
			// (server/tokencache.go); revocation must take hold within that.
			var r *response
			waitFor(t, 10*time.Second, "the revoked token to be refused", func() error {
				r = inst.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(secret))
				if r.Status != http.StatusUnauthorized {
					return fmt.Errorf("status %d", r.Status)
				}
				return nil
			})
			checkSCIMError(t, r, http.StatusUnauthorized, "")
			if !hasTokenLine(inst.mustCLI(t, "token", "list").Stdout, "bootstrap") {
				t.Errorf("token list lost the bootstrap token")
			}

			var actions []string
			for _, ev := range auditEvents(t, inst, "--resource-id", "r") {
				actions = append(actions, getStr(ev, "action"))
				if strings.Contains(mustJSON(ev), secret) {
					t.Errorf("an audit event shows the token's secret: %v", ev)
				}
			}
			if want := []string{"token.revoke", "token.create"}; !slices.Equal(actions, want) {
				t.Errorf("audit --resource-id r: actions %v, want %v", actions, want)
			}

			if strings.Contains(inst.stderr.String(), secret) {
				t.Errorf("the server log contains the read-only token's secret")
			}
		})

		t.Run("write-only and admin tokens", func(t *testing.T) {
			w := lastLine(inst.mustCLI(t, "token", "create", "--name", "writer", "--scopes", "scim:write").Stdout)
			a := lastLine(inst.mustCLI(t, "token", "create", "--name", "admin-only", "--scopes", "admin:read,admin:write,audit:read").Stdout)

			r := inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(uniq("by.writer"), nil),
				withToken(w), withHeader("X-Correlation-ID", "e2e-writer-create"))
			mustStatus(t, r, http.StatusCreated)
			checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(w)), http.StatusForbidden, "")
			checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(a)), http.StatusForbidden, "")
			checkSCIMError(t, inst.do(t, http.MethodPost, "/scim/v2/Users", userBody(uniq("by.admin"), nil), withToken(a)), http.StatusForbidden, "")

			evs := auditEvents(t, inst, "--correlation-id", "e2e-writer-create")
			if len(evs) != 1 || evs[0]["actor"] != "writer" {
				t.Errorf("audit of a create by token writer: %v, want one event with actor writer", evs)
			}
		})

		t.Run("bootstrap token still works", func(t *testing.T) {
			mustStatus(t, inst.do(t, http.MethodGet, "/scim/v2/Users", nil), http.StatusOK)
		})
	})
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// hasTokenLine reports whether a `token list` table has a row for name.
func hasTokenLine(table, name string) bool {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return true
		}
	}
	return false
}

// TestDatabasePasswordNotLogged starts the server with a PostgreSQL URL that
// carries a password, in the user info and in the query: it appears in no
// log line and no CLI output. (The test server trusts local connections, so
// any password works.)
func TestDatabasePasswordNotLogged(t *testing.T) {
	t.Parallel()
	for _, form := range []string{"userinfo", "query"} {
		t.Run(form, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(storetest.PostgresURL(t))
			if err != nil {
				t.Fatal(err)
			}
			password := "e2e-db-password-" + randHex(8)
			if form == "userinfo" {
				u.User = url.UserPassword(u.User.Username(), password)
			} else {
				q := u.Query()
				q.Set("password", password)
				u.RawQuery = q.Encode()
			}
			inst := startOnramp(t, u.String())
			mustCreateUser(t, inst, uniq("pw"))
			checkSCIMError(t, inst.do(t, http.MethodGet, "/scim/v2/Users?filter=bad", nil), http.StatusBadRequest, "invalidFilter")
			out := inst.mustCLI(t, "token", "list")
			audit := inst.mustCLI(t, "audit")
			bad := inst.cli(t, "token", "revoke", "no-such-token")
			inst.stop(t)
			for what, text := range map[string]string{
				"server log":            inst.stderr.String() + inst.stdout.String(),
				"token list":            out.Stdout + out.Stderr,
				"audit":                 audit.Stdout + audit.Stderr,
				"a failing CLI command": bad.Stdout + bad.Stderr,
			} {
				if strings.Contains(text, password) {
					t.Errorf("the %s shows the database password", what)
				}
			}
		})
	}
}

// TestUnreachableDatabase: with a database that refuses connections, serve
// and the CLI exit non-zero at once with a message that names the problem
// but not the password.
func TestUnreachableDatabase(t *testing.T) {
	t.Parallel()
	bin := copyBinary(t)
	password := "e2e-db-password-" + randHex(8)
	db := "postgres://onramp:" + password + "@127.0.0.1:1/onramp?sslmode=disable&password=" + password
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--database", db},
		{"token", "list", "--database", db},
		{"audit", "--database", db},
	} {
		t.Run(args[0], func(t *testing.T) {
			res := runCLI(t, bin, args...)
			if res.Err == nil {
				t.Errorf("onramp %s with an unreachable database exited 0", args[0])
			}
			if strings.Contains(res.Stdout+res.Stderr, password) {
				t.Errorf("onramp %s printed the database password:\n%s", args[0], res.Stderr)
			}
			if !strings.Contains(res.Stderr, "127.0.0.1:1") {
				t.Errorf("onramp %s: the error does not say which database failed:\n%s", args[0], res.Stderr)
			}
		})
	}
}
