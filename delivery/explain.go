package delivery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// Explanation is why a user has, or should have, each enrollment: what
// "why is this person enrolled?" asks.
type Explanation struct {
	UserID      string                `json:"user_id"`
	Exists      bool                  `json:"exists"` // false: deleted, enrollments still being removed
	Active      bool                  `json:"active"`
	Enrollments []ExplainedEnrollment `json:"enrollments"`
}

// ExplainedEnrollment is one course in one connector, as wanted and as
// delivered.
type ExplainedEnrollment struct {
	Connector string `json:"connector"`
	Course    string `json:"course_id"`
	// Desired is what the rules want now ("" for nothing), Delivered what
	// the LMS is known to hold, Pending a change sent or about to be sent
	// and not yet confirmed.
	Desired   mapping.State `json:"desired"`
	Delivered mapping.State `json:"delivered"`
	Pending   mapping.Op    `json:"pending,omitempty"`
	// Because lists every group, rule and bundle that wants it.
	Because       []Reason  `json:"because"`
	Attempts      int       `json:"attempts"`
	LastError     string    `json:"last_error,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	LastModified  time.Time `json:"last_modified,omitzero"`
}

// Reason is one path from a user to an enrollment.
type Reason struct {
	GroupID          string `json:"group_id"`
	GroupDisplayName string `json:"group"`
	Rule             string `json:"rule"`
	Bundle           string `json:"bundle"`
}

// ErrUnknownUser: the user does not exist and has no enrollment on record.
var ErrUnknownUser = errors.New("unknown user")

// Explain says, for each course the user is wanted in or was delivered
// to, why, and what became of it.
func (e *Engine) Explain(ctx context.Context, userID string) (*Explanation, error) {
	in, err := e.store.ReadSyncInput(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("delivery: explain: %w", err)
	}
	if in.User == nil && len(in.Enrollments) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownUser, userID)
	}
	sub := subjectOf(in.User)
	out := &Explanation{UserID: userID, Exists: sub.Exists, Active: sub.Active, Enrollments: []ExplainedEnrollment{}}
	desired := mapping.Desired(sub, in.Rules, in.Bundles)
	rows := map[mapping.Key]store.Enrollment{}
	for _, r := range in.Enrollments {
		rows[mapping.Key{Connector: r.Connector, Course: r.Course}] = r
	}
	for _, k := range explainedKeys(desired, rows) {
		w, r := desired[k], rows[k]
		x := ExplainedEnrollment{
			Connector: k.Connector, Course: k.Course, Desired: w.State, Delivered: r.State, Pending: r.PendingOp,
			Because: []Reason{}, Attempts: r.Attempts, LastError: r.LastError, CorrelationID: r.CorrelationID,
			LastModified: r.LastModified,
		}
		for _, why := range w.Reasons {
			x.Because = append(x.Because, Reason{GroupID: why.Group.ID, GroupDisplayName: why.Group.DisplayName, Rule: why.Rule, Bundle: why.Bundle})
		}
		out.Enrollments = append(out.Enrollments, x)
	}
	return out, nil
}

// explainedKeys are the keys wanted or on record, by connector and course.
func explainedKeys(desired map[mapping.Key]mapping.Want, rows map[mapping.Key]store.Enrollment) []mapping.Key {
	var keys []mapping.Key
	for k := range desired {
		keys = append(keys, k)
	}
	for k := range rows {
		if _, ok := desired[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b mapping.Key) int {
		if a.Connector != b.Connector {
			return strings.Compare(a.Connector, b.Connector)
		}
		return strings.Compare(a.Course, b.Course)
	})
	return keys
}
