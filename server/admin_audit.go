package server

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Audit pages: 100 events unless asked, at most 1,000.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditEvent is an audit event as the API shows it: the structured
// fields for machines, and Text, the event as a sentence for a person.
type auditEvent struct {
	ID            int64     `json:"id"`
	Time          time.Time `json:"time"`
	CorrelationID string    `json:"correlation_id"`
	Actor         string    `json:"actor"`
	Action        string    `json:"action"`
	ResourceType  string    `json:"resource_type"`
	ResourceID    string    `json:"resource_id"`
	Outcome       string    `json:"outcome"`
	Status        int       `json:"status,omitempty"`
	Summary       string    `json:"summary"`
	Text          string    `json:"text"`
}

func newAuditEvent(ev store.Event) auditEvent {
	text := ev.Summary
	if ev.Actor != "" {
		text = ev.Actor + " " + ev.Summary
	}
	return auditEvent{ID: ev.ID, Time: ev.Time.UTC(), CorrelationID: ev.CorrelationID, Actor: ev.Actor,
		Action: ev.Action, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, Outcome: ev.Outcome,
		Status: ev.Status, Summary: ev.Summary, Text: text}
}

// listAudit serves GET /admin/v1/audit: events newest first, filtered by
// correlation_id, actor, action, resource_type, resource_id, outcome,
// since and until (RFC 3339), a page at a time (limit, and cursor: the
// previous page's next). format=json (the default), jsonl or csv, or the
// same asked for by Accept.
func (a *admin) listAudit(w http.ResponseWriter, r *http.Request) error {
	q, limit, err := auditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	format, err := auditFormat(r)
	if err != nil {
		return err
	}
	q.Limit = limit + 1
	events, err := a.store.ListEvents(r.Context(), q)
	if err != nil {
		return err
	}
	next := ""
	if len(events) > limit {
		events = events[:limit]
		next = strconv.FormatInt(events[limit-1].ID, 10)
	}
	out := make([]auditEvent, len(events))
	for i, ev := range events {
		out[i] = newAuditEvent(ev)
	}
	if next != "" {
		w.Header().Set("Link", "<"+nextAuditURL(r, next)+`>; rel="next"`)
	}
	switch format {
	case "jsonl":
		return writeAuditJSONLines(w, out)
	case "csv":
		return writeAuditCSV(w, out)
	}
	return writeJSON(w, http.StatusOK, struct {
		Events []auditEvent `json:"events"`
		Next   string       `json:"next,omitempty"`
	}{out, next})
}

// auditQuery reads the filters and the page size.
func auditQuery(v url.Values) (store.AuditQuery, int, error) {
	q := store.AuditQuery{
		CorrelationID: v.Get("correlation_id"), Actor: v.Get("actor"), Action: v.Get("action"),
		ResourceType: v.Get("resource_type"), ResourceID: v.Get("resource_id"), Outcome: v.Get("outcome"),
	}
	if q.Outcome != "" && q.Outcome != store.OutcomeSuccess && q.Outcome != store.OutcomeFailure {
		return q, 0, badRequest("The parameter outcome must be success or failure, not %q.", q.Outcome)
	}
	for name, dst := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if s := v.Get(name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, 0, badRequest("The parameter %s must be an RFC 3339 time such as 2026-11-29T00:00:00Z, not %q.", name, s)
			}
			*dst = t
		}
	}
	limit, err := intParam(v, "limit", defaultAuditLimit, 1, maxAuditLimit)
	if err != nil {
		return q, 0, err
	}
	if q.BeforeID, err = intParam(v, "cursor", 0, 0, 1<<62); err != nil {
		return q, 0, err
	}
	return q, int(limit), nil
}

// auditFormat is the export format: format= wins over Accept.
func auditFormat(r *http.Request) (string, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "json", "jsonl", "csv":
		return f, nil
	case "":
	default:
		return "", badRequest("The parameter format must be json, jsonl or csv, not %q.", f)
	}
	accept := r.Header.Get("Accept")
	switch {
	case strings.Contains(accept, "text/csv"):
		return "csv", nil
	case strings.Contains(accept, "application/x-ndjson"), strings.Contains(accept, "application/jsonl"):
		return "jsonl", nil
	}
	return "json", nil
}

func nextAuditURL(r *http.Request, next string) string {
	v := r.URL.Query()
	v.Set("cursor", next)
	return r.URL.Path + "?" + v.Encode()
}

func writeAuditJSONLines(w http.ResponseWriter, events []auditEvent) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, ev := range events {
		if err := enc.Encode(ev); err != nil {
			return nil // the client has gone
		}
	}
	return nil
}

func writeAuditCSV(w http.ResponseWriter, events []auditEvent) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "time", "correlation_id", "actor", "action", "resource_type", "resource_id", "outcome", "status", "text"})
	for _, ev := range events {
		_ = cw.Write([]string{strconv.FormatInt(ev.ID, 10), ev.Time.Format(time.RFC3339Nano), ev.CorrelationID, ev.Actor,
			ev.Action, ev.ResourceType, ev.ResourceID, ev.Outcome, strconv.Itoa(ev.Status), csvSafe(ev.Text)})
	}
	cw.Flush()
	return nil
}

// csvSafe keeps a spreadsheet from reading a cell as a formula: event
// text can quote what a client sent.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
