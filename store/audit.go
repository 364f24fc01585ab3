package store

import (
	"context"
	"fmt"
)

// defaultEventLimit is the page size of ListEvents when none is asked for.
const defaultEventLimit = 100

// stamp completes ev for a write on a resource of type rtype with id rid:
// the time (now, unless set), the resource type and id (unless set) and the
// outcome (success: the event commits only with the write).
func (s *Store) stamp(ev Event, rtype, rid string) Event {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	if ev.ResourceType == "" {
		ev.ResourceType = rtype
	}
	if ev.ResourceID == "" {
		ev.ResourceID = rid
	}
	if ev.Outcome == "" {
		ev.Outcome = OutcomeSuccess
	}
	return ev
}

// insertEvent writes ev with q, usually the transaction of the change it
// records. Free text is made storable rather than refused: an audit row
// must not be the reason a write fails.
func (s *Store) insertEvent(ctx context.Context, q querier, ev Event) error {
	_, err := exec(ctx, q, `INSERT INTO audit_events
		(at, correlation_id, actor, action, resource_type, resource_id, outcome, status, summary)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.d.timeArg(eventTime(ev.Time)), indexedText(ev.CorrelationID), indexedText(ev.Actor),
		cleanText(ev.Action), cleanText(ev.ResourceType), indexedText(ev.ResourceID),
		cleanText(ev.Outcome), ev.Status, cleanText(ev.Summary))
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// RecordEvent writes a standalone audit event: one that records no change
// of the store's, such as a refused request. Time defaults to now.
func (s *Store) RecordEvent(ctx context.Context, ev Event) error {
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	err := s.inTx(ctx, func(tx *storeTx) error { return s.insertEvent(ctx, tx, ev) })
	if err != nil {
		return fmt.Errorf("store: record event: %w", err)
	}
	return nil
}

// eventRow is an audit_events row as read.
type eventRow struct {
	ID            int64  `db:"id"`
	At            dbTime `db:"at"`
	CorrelationID string `db:"correlation_id"`
	Actor         string `db:"actor"`
	Action        string `db:"action"`
	ResourceType  string `db:"resource_type"`
	ResourceID    string `db:"resource_id"`
	Outcome       string `db:"outcome"`
	Status        int    `db:"status"`
	Summary       string `db:"summary"`
}

// ListEvents returns the events q selects, newest first (by ID, which
// follows commit order closely and, unlike time, never ties).
func (s *Store) ListEvents(ctx context.Context, q AuditQuery) ([]Event, error) {
	b := &sqlBuf{}
	b.sql(`SELECT id, at, correlation_id, actor, action, resource_type, resource_id, outcome, status, summary
		FROM audit_events WHERE 1 = 1`)
	for _, f := range []struct{ column, value string }{
		{"correlation_id", q.CorrelationID},
		{"resource_id", q.ResourceID},
		{"actor", q.Actor},
		{"action", q.Action},
		{"resource_type", q.ResourceType},
		{"outcome", q.Outcome},
	} {
		if f.value != "" {
			if !validText(f.value) {
				return []Event{}, nil // nothing stored can hold it
			}
			b.sql(" AND " + f.column + " = ")
			b.arg(f.value)
		}
	}
	if !q.Since.IsZero() {
		b.sql(" AND at >= ")
		b.arg(s.d.timeArg(eventTime(q.Since)))
	}
	if !q.Until.IsZero() {
		b.sql(" AND at < ")
		b.arg(s.d.timeArg(eventTime(q.Until)))
	}
	if q.BeforeID > 0 {
		b.sql(" AND id < ")
		b.arg(q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultEventLimit
	}
	b.sql(" ORDER BY id DESC LIMIT ")
	b.arg(limit)

	var rows []eventRow
	if err := selectAll(ctx, s.pool, &rows, b.String(), b.args...); err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	events := make([]Event, len(rows))
	for i, r := range rows {
		events[i] = Event{
			ID: r.ID, Time: r.At.Time, CorrelationID: r.CorrelationID, Actor: r.Actor,
			Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID,
			Outcome: r.Outcome, Status: r.Status, Summary: r.Summary,
		}
	}
	return events, nil
}
