package e2e

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // to drop a test database under a running server

	"github.com/onramp-dev/onramp/store/storetest"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		for _, path := range []string{"/healthz", "/readyz"} {
			for _, opts := range [][]reqOpt{nil, {noToken()}} {
				r := inst.do(t, http.MethodGet, path, nil, opts...)
				checkStatus(t, r, http.StatusOK)
			}
		}
		// Ctrl-C at a terminal shuts down as gracefully as SIGTERM.
		inst.signal(t, os.Interrupt)
		inst.stop(t) // waits and checks the exit status is 0
	})
}

// TestRestartKeepsData stops a server and starts another on the same
// database: users, groups and memberships are all still there, unchanged.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		first := startOnramp(t, db)
		uid := mustCreate(t, first, "/scim/v2/Users", map[string]any{
			"schemas":     []string{userURN, enterpriseURN},
			"userName":    uniq("persistent"),
			"name":        map[string]any{"givenName": "Per", "familyName": "Sistent"},
			"emails":      []map[string]any{{"value": "per@example.com", "type": "work"}},
			enterpriseURN: map[string]any{"department": "Eng"},
		})
		gid := mustCreateGroup(t, first, uniq("Persistent Group"), uid)
		mustStatus(t, first.do(t, http.MethodPatch, "/scim/v2/Users/"+uid, patchBody(op("replace", "title", "Keeper"))), http.StatusOK, http.StatusNoContent)
		user := first.mustGet(t, "/scim/v2/Users/"+uid)
		group := first.mustGet(t, "/scim/v2/Groups/"+gid)
		first.stop(t)

		second := startOnramp(t, db)
		// Locations carry the new port; compare everything else.
		if got := second.mustGet(t, "/scim/v2/Users/"+uid); !equalJSON(withoutLocations(got), withoutLocations(user)) {
			t.Errorf("user after restart:\n  before %s\n  after  %s", mustJSON(user), mustJSON(got))
		}
		if got := second.mustGet(t, "/scim/v2/Groups/"+gid); !equalJSON(withoutLocations(got), withoutLocations(group)) {
			t.Errorf("group after restart:\n  before %s\n  after  %s", mustJSON(group), mustJSON(got))
		}
		t.Run("rotated bootstrap secret", func(t *testing.T) {
			// The second run was given a new ONRAMP_BOOTSTRAP_TOKEN: the old
			// secret must stop working, or rotating it would not revoke it.
			checkSCIMError(t, second.do(t, http.MethodGet, "/scim/v2/Users", nil, withToken(first.token)), http.StatusUnauthorized, "")
		})
	})
}

// withoutLocations drops meta.location and $ref values, which name the port.
func withoutLocations(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if k == "location" || k == "$ref" {
				continue
			}
			out[k] = withoutLocations(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutLocations(e)
		}
		return out
	}
	return v
}

// TestShutdownInFlight sends SIGTERM while a request is being served: it
// completes, the process exits 0, and every create the server acknowledged
// is there after a restart on the same database.
func TestShutdownInFlight(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		host := strings.TrimPrefix(inst.base, "http://")

		// A POST whose handler is running and waiting for the rest of its
		// body: the server asked for it with 100 Continue.
		userName := uniq("in.flight")
		body := `{"schemas":["` + userURN + `"],"userName":"` + userName + `"}`
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /scim/v2/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/scim+json\r\nContent-Length: %d\r\nExpect: 100-continue\r\nX-Correlation-ID: e2e-in-flight\r\n\r\n",
			host, inst.token, len(body))
		br := bufio.NewReader(conn)
		_ = conn.SetReadDeadline(time.Now().Add(startTimeout))
		status, err := br.ReadString('\n')
		if err != nil || !strings.Contains(status, " 100 ") {
			t.Fatalf("want HTTP/1.1 100 Continue, got %q, %v", status, err)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line after 100 Continue
			t.Fatal(err)
		}

		// Concurrent creates, some of which land before the shutdown.
		var (
			mu    sync.Mutex
			acked []string
			wg    sync.WaitGroup
		)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		started := make(chan struct{}, 64)
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: w%2 == 0}}
				for i := 0; ctx.Err() == nil; i++ {
					b := `{"schemas":["` + userURN + `"],"userName":"` + fmt.Sprintf("burst-%d-%d-%s", w, i, randHex(3)) + `"}`
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, inst.base+"/scim/v2/Users", strings.NewReader(b))
					req.Header.Set("Authorization", "Bearer "+inst.token)
					req.Header.Set("Content-Type", "application/scim+json")
					resp, err := client.Do(req)
					if err != nil {
						return // the server has stopped accepting
					}
					var doc struct{ ID string }
					err = jsonDecode(resp, &doc)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated || err != nil || doc.ID == "" {
						return // refused or cut off while shutting down
					}
					mu.Lock()
					acked = append(acked, doc.ID)
					mu.Unlock()
					select {
					case started <- struct{}{}:
					default:
					}
				}
			}()
		}
		// Let the burst create a few users, then stop the server under load.
		for range 20 {
			select {
			case <-started:
			case <-time.After(startTimeout):
				t.Fatal("the concurrent creates stalled")
			}
		}
		inst.terminate(t)
		// Shutdown has begun once new connections are refused.
		waitFor(t, stopTimeout, "the listener to close", func() error {
			c, err := net.DialTimeout("tcp", host, time.Second)
			if err != nil {
				return nil
			}
			c.Close()
			return errors.New("still accepting")
		})

		// Finish the in-flight request: it is served in full.
		if _, err := conn.Write([]byte(body)); err != nil {
			t.Fatalf("writing the rest of the in-flight request: %v", err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("the in-flight request got no response: %v", err)
		}
		var doc struct{ ID string }
		_ = jsonDecode(resp, &doc)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || doc.ID == "" {
			t.Errorf("in-flight create: status %d id %q, want 201 and an id", resp.StatusCode, doc.ID)
		}
		conn.Close()

		wg.Wait()
		inst.stop(t) // SIGTERM was sent: this waits for the exit and checks it is 0

		after := startOnramp(t, db)
		if doc.ID != "" {
			after.mustGet(t, "/scim/v2/Users/"+doc.ID)
		}
		mu.Lock()
		ids := append([]string(nil), acked...)
		mu.Unlock()
		t.Logf("%d concurrent creates were acknowledged before the shutdown", len(ids))
		for _, id := range ids {
			if r := after.do(t, http.MethodGet, "/scim/v2/Users/"+id, nil); r.Status != http.StatusOK {
				t.Errorf("acknowledged user %s missing after restart: %s", id, r)
			}
		}
		if n := after.total(t, "/scim/v2/Users?count=0"); n < len(ids)+1 {
			t.Errorf("after restart %d users, want at least %d", n, len(ids)+1)
		}
	})
}

// TestDatabaseLoss drops a running server's PostgreSQL database: /healthz
// stays 200, /readyz turns 503, and SCIM requests get a retryable 5xx SCIM
// error without driver text. A 401 would be wrong: identity providers take
// it as bad credentials and stop provisioning instead of retrying.
func TestDatabaseLoss(t *testing.T) {
	t.Parallel()
	db := storetest.PostgresURL(t)
	inst := startOnramp(t, db)
	mustCreateUser(t, inst, uniq("before.loss"))

	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("postgres", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), "DROP DATABASE "+strings.TrimPrefix(u.Path, "/")+" WITH (FORCE)"); err != nil {
		t.Fatalf("drop the server's database: %v", err)
	}

	checkStatus(t, inst.do(t, http.MethodGet, "/healthz", nil), http.StatusOK)
	checkStatus(t, inst.do(t, http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable)
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/scim/v2/Users", nil},
		{http.MethodPost, "/scim/v2/Users", userBody(uniq("after.loss"), nil)},
	} {
		r := inst.do(t, tc.method, tc.path, tc.body)
		if r.Status != http.StatusServiceUnavailable && r.Status != http.StatusInternalServerError {
			t.Errorf("%s with the database gone\n  want 503 (or 500), a retryable server error\n  got %s", r.req, r)
			continue
		}
		checkSCIMError(t, r, r.Status, "")
		if !isNewCorrelationID(r.Header.Get("X-Correlation-ID")) {
			t.Errorf("%s: X-Correlation-ID = %q", r.req, r.Header.Get("X-Correlation-ID"))
		}
	}
	if strings.Contains(inst.stderr.String(), inst.token) {
		t.Errorf("the server log contains the bootstrap secret")
	}
}

// TestTwoServersOneDatabase runs two servers on one database, as two
// replicas (or a server and a rolling update) do: writes through both at
// once all succeed, and each server reads what the other wrote.
func TestTwoServersOneDatabase(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, db string) {
		token := "e2e-shared-" + randHex(16)
		a := startOnrampWithToken(t, db, token)
		b := startOnrampWithToken(t, db, token)
		gid := mustCreateGroup(t, a, uniq("Replicated"))

		// Creates through both servers at once.
		const n = 8
		var creates []request
		for i := range n {
			for _, inst := range []*instance{a, b} {
				creates = append(creates, request{http.MethodPost, "/scim/v2/Users", userBody(fmt.Sprintf("replica-%d-%s", i, randHex(4)), nil), inst})
			}
		}
		var ids []string
		for _, r := range a.parallel(t, creates) {
			if checkStatus(t, r, http.StatusCreated) {
				var doc struct{ ID string }
				_ = json.Unmarshal(r.Body, &doc)
				ids = append(ids, doc.ID)
			}
		}
		// Membership changes through both servers at once.
		var adds []request
		for i, id := range ids {
			adds = append(adds, request{http.MethodPatch, "/scim/v2/Groups/" + gid,
				patchBody(op("add", "members", []any{map[string]any{"value": id}})), []*instance{a, b}[i%2]})
		}
		for _, r := range a.parallel(t, adds) {
			checkStatus(t, r, http.StatusOK, http.StatusNoContent)
		}

		for _, inst := range []*instance{a, b} {
			for _, id := range ids {
				inst.mustGet(t, "/scim/v2/Users/"+id)
			}
			if got := inst.memberValues(t, gid); !slices.Equal(got, sorted(ids...)) {
				t.Errorf("server %s: group has %d members, want %d", inst.base, len(got), len(ids))
			}
		}
	})
}
