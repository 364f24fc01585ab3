package server_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/server"
	"github.com/onramp-dev/onramp/store"
)

type auditPage struct {
	Events []struct {
		ID            int64  `json:"id"`
		CorrelationID string `json:"correlation_id"`
		Actor         string `json:"actor"`
		Action        string `json:"action"`
		ResourceType  string `json:"resource_type"`
		ResourceID    string `json:"resource_id"`
		Outcome       string `json:"outcome"`
		Text          string `json:"text"`
	} `json:"events"`
	Next string `json:"next"`
}

func TestAdminAuditAPI(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, st *store.Store) {
		b := newAdminBench(t, st, server.Config{})
		auditor := server.NewTokenSecret()
		if err := st.EnsureToken(t.Context(), store.Token{Name: "auditor-2", Scopes: []string{server.ScopeAuditRead}, Hash: server.HashTokenSecret(auditor)}); err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
		for i, ev := range []store.Event{
			{CorrelationID: "c1", Actor: "okta-prod", Action: "user.patch", ResourceType: "User", ResourceID: "u1", Outcome: "success", Summary: "set active=false on user alice@example.com"},
			{CorrelationID: "c1", Actor: "onramp/delivery", Action: "enrollment.unenroll", ResourceType: "User", ResourceID: "u1", Outcome: "success", Summary: "unenrolled alice@example.com from SEC-101 via moodle"},
			{CorrelationID: "c1", Action: "enrollment.unenroll", ResourceType: "User", ResourceID: "u1", Outcome: "failure", Summary: "=cmd|' /C calc'!A0"}, // no actor: the text is the summary
			{CorrelationID: "c2", Actor: "entra", Action: "group.create", ResourceType: "Group", ResourceID: "g1", Outcome: "success", Summary: "created group \"Sales\""},
		} {
			ev.Time = base.Add(time.Duration(i) * time.Minute)
			if err := st.RecordEvent(t.Context(), ev); err != nil {
				t.Fatal(err)
			}
		}
		list := func(query string) auditPage {
			t.Helper()
			var p auditPage
			b.call(t, "GET", "/admin/v1/audit"+query, auditor, "").want(t, http.StatusOK).decode(t, &p)
			return p
		}
		if p := list("?correlation_id=c1"); len(p.Events) != 3 || p.Events[0].Outcome != "failure" || p.Events[2].Text != "okta-prod set active=false on user alice@example.com" {
			t.Errorf("by correlation id, newest first: %+v", p)
		}
		if p := list("?correlation_id=c1&action=enrollment.unenroll&outcome=success"); len(p.Events) != 1 || p.Events[0].Actor != "onramp/delivery" {
			t.Errorf("by action and outcome: %+v", p)
		}
		if p := list("?resource_type=Group&actor=entra"); len(p.Events) != 1 || p.Events[0].ResourceID != "g1" {
			t.Errorf("by resource type and actor: %+v", p)
		}
		if p := list("?resource_id=u1&since=2026-11-01T12:01:00Z&until=2026-11-01T12:02:00Z"); len(p.Events) != 1 || p.Events[0].Action != "enrollment.unenroll" {
			t.Errorf("by time range: %+v", p)
		}

		var seen []int64
		for query := "?correlation_id=c1&limit=2"; ; {
			p := list(query)
			for _, ev := range p.Events {
				seen = append(seen, ev.ID)
			}
			if p.Next == "" {
				break
			}
			query = "?correlation_id=c1&limit=2&cursor=" + p.Next
		}
		if len(seen) != 3 || seen[0] <= seen[1] || seen[1] <= seen[2] {
			t.Errorf("paged ids %v: want 3, newest first", seen)
		}

		r := b.call(t, "GET", "/admin/v1/audit?correlation_id=c1", auditor, "", "Accept", "text/csv").want(t, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) != 4 || rows[0][0] != "id" {
			t.Fatalf("CSV export: %v, %q", err, r.body)
		}
		if !strings.HasPrefix(rows[1][9], "'") {
			t.Errorf("a cell starting with = was not defused: %q", rows[1][9])
		}
		r = b.call(t, "GET", "/admin/v1/audit?correlation_id=c1&format=jsonl", auditor, "").want(t, http.StatusOK)
		if n := strings.Count(string(r.body), "\n"); n != 3 || r.header.Get("Content-Type") != "application/x-ndjson" {
			t.Errorf("JSON lines export: %d lines, %s", n, r.header.Get("Content-Type"))
		}

		for _, bad := range []string{"?outcome=maybe", "?since=yesterday", "?limit=0", "?format=xml", "?cursor=x"} {
			b.call(t, "GET", "/admin/v1/audit"+bad, auditor, "").problem(t, http.StatusBadRequest)
		}
		b.call(t, "GET", "/admin/v1/audit", b.reader, "").problem(t, http.StatusForbidden) // admin:read is not audit:read
	})
}
