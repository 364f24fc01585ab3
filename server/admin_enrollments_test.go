package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/delivery"
	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

func TestAdminExplainEnrollments(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{Delivery: startEngine(t, st)})
		users := hire(t, b, "carol@example.com")
		b.waitDead(t, "carol's sync to give up", func(ds []delivery.DeadLetter) bool { return len(deadOf(ds, users[0])) == 1 })

		var x delivery.Explanation
		b.call(t, "GET", "/admin/v1/users/"+users[0]+"/enrollments", b.reader, "").want(t, http.StatusOK).decode(t, &x)
		if !x.Exists || !x.Active || len(x.Enrollments) != 1 {
			t.Fatalf("explanation = %+v; want carol, active, one enrollment", x)
		}
		e := x.Enrollments[0]
		if e.Connector != "hooks" || e.Course != "SEC-101" || e.Desired != "active" || e.Delivered != "" || e.Pending != "" {
			t.Errorf("enrollment = %+v; want hooks/SEC-101 wanted active, not delivered, nothing pending", e)
		}
		if e.Attempts != 1 || !strings.Contains(e.LastError, "no connector") || e.CorrelationID != "group-1" {
			t.Errorf("enrollment = %+v; want 1 attempt, the refusal and the causing correlation id", e)
		}
		if len(e.Because) != 1 || e.Because[0].GroupDisplayName != "Engineering" || e.Because[0].Rule != "engineers" || e.Because[0].Bundle != "eng" {
			t.Errorf("because = %+v; want group Engineering, rule engineers, bundle eng", e.Because)
		}

		b.call(t, "GET", "/admin/v1/users/no-such-user/enrollments", b.reader, "").problem(t, http.StatusNotFound)
		b.call(t, "GET", "/admin/v1/users/"+users[0]+"/enrollments", b.scim, "").problem(t, http.StatusForbidden)
	})
}
