package delivery

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"github.com/onramp-dev/onramp/lms"
	"github.com/onramp-dev/onramp/mapping"
	"github.com/onramp-dev/onramp/store"
)

// subjectOf is the user as mapping sees them; nil is a deleted user.
func subjectOf(u *store.User) mapping.Subject {
	if u == nil {
		return mapping.Subject{}
	}
	s := mapping.Subject{Exists: true, Active: u.Active()}
	for _, g := range u.Groups {
		s.Groups = append(s.Groups, mapping.Group{ID: g.ID, DisplayName: g.DisplayName})
	}
	return s
}

// userFor is whom a change is about: the user as stored now, or, once
// deleted, as they were when their enrollment last changed.
func userFor(u *store.User, row store.Enrollment) lms.User {
	if u != nil {
		return lmsUser(u)
	}
	var out lms.User
	_ = json.Unmarshal(row.User, &out) // written by marshalUser; an unreadable snapshot leaves the id alone
	if out.ID == "" {
		out.ID = row.UserID
	}
	return out
}

// resendUser is whom a change sent before is about: as they were then,
// so that a resent webhook carries the same body under the same id; as
// they are now when no snapshot was kept.
func resendUser(u *store.User, row store.Enrollment) lms.User {
	snap := userFor(nil, row)
	if snap.UserName == "" && u != nil {
		return lmsUser(u)
	}
	return snap
}

// lmsUser picks from a SCIM user what an LMS needs to find or create them.
func lmsUser(u *store.User) lms.User {
	a := u.Attributes
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	name, _ := a["name"].(map[string]any)
	return lms.User{
		ID: u.ID, UserName: u.UserName(), ExternalID: str(a, "externalId"), Email: primaryEmail(a),
		DisplayName: str(a, "displayName"), GivenName: str(name, "givenName"), FamilyName: str(name, "familyName"),
	}
}

// primaryEmail is the email marked primary, else the first, else "".
func primaryEmail(a map[string]any) string {
	emails, _ := a["emails"].([]any)
	first := ""
	for _, e := range emails {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return v
		}
		if first == "" {
			first = v
		}
	}
	return first
}

// event is the audit record of one attempt, worded for a person.
func (e *Engine) event(job *river.Job[SyncArgs], s send, err error) store.Event {
	who := s.user.UserName
	if who == "" {
		who = s.user.ID
	}
	what := fmt.Sprintf("%s %s in %s via %s", pastTense[s.op], who, s.key.Course, s.key.Connector)
	if s.op == mapping.OpUnenroll {
		what = fmt.Sprintf("unenrolled %s from %s via %s", who, s.key.Course, s.key.Connector)
	}
	if len(s.bundles) > 0 {
		what += " (bundle " + strings.Join(s.bundles, ", ") + ")"
	}
	ev := store.Event{
		CorrelationID: s.correlationID, Actor: "onramp/delivery", Action: "enrollment." + string(s.op),
		ResourceType: "User", ResourceID: s.user.ID, Outcome: store.OutcomeSuccess, Summary: what,
	}
	if err != nil {
		ev.Outcome = store.OutcomeFailure
		ev.Summary = fmt.Sprintf("failed, attempt %d of %d: %s: %v", job.Attempt, job.MaxAttempts, what, err)
	}
	return ev
}

var pastTense = map[mapping.Op]string{mapping.OpEnroll: "enrolled", mapping.OpSuspend: "suspended"}
