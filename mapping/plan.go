package mapping

import (
	"cmp"
	"fmt"
	"slices"
)

// Action is one change to make to one enrollment: Op takes it From the
// delivered state To the desired one. Reasons are the desired [Want]'s, so
// a connector can name the bundle that wants the course (Reasons[0] is the
// first by bundle name); they are empty for OpUnenroll, since nothing wants
// the enrollment any more.
type Action struct {
	Key     Key
	Op      Op
	From    State
	To      State
	Reasons []Reason
}

// String describes a for logs and the CLI, e.g.
// "enroll hooks/SEC-101 (absent -> active)".
func (a Action) String() string {
	return fmt.Sprintf("%s %s/%s (%s -> %s)", a.Op, a.Key.Connector, a.Key.Course, stateName(a.From), stateName(a.To))
}

func stateName(s State) string {
	if s == Absent {
		return "absent"
	}
	return string(s)
}

// Plan returns the changes that take delivered to desired, sorted by
// connector then course, and nothing else: applying its result and
// planning again yields no actions.
//
// A key that is desired Suspended but was never delivered is left absent:
// creating an enrollment only to suspend it would show a deactivated user
// a course they never took, and a later reactivation enrolls them anyway.
// Delivered entries in state Absent are ignored, so a store may keep rows
// for removed enrollments. A delivered state other than Active or Suspended
// counts as "enrolled, not known to be active or suspended": it is enrolled,
// suspended or removed as desired.
func Plan(desired map[Key]Want, delivered map[Key]State) []Action {
	var out []Action
	for k, w := range desired {
		from := delivered[k]
		op, ok := step(from, w.State)
		switch {
		case !ok:
		case op == OpUnenroll:
			out = append(out, Action{Key: k, Op: op, From: from, To: Absent})
		default:
			out = append(out, Action{Key: k, Op: op, From: from, To: w.State, Reasons: w.Reasons})
		}
	}
	for k, from := range delivered {
		if _, ok := desired[k]; ok || from == Absent {
			continue
		}
		out = append(out, Action{Key: k, Op: OpUnenroll, From: from, To: Absent})
	}
	slices.SortFunc(out, func(a, b Action) int {
		return cmp.Or(cmp.Compare(a.Key.Connector, b.Key.Connector), cmp.Compare(a.Key.Course, b.Key.Course))
	})
	return out
}

// step is the op that takes an enrollment from one state to another, if
// any. A desired state other than Active or Suspended means not wanted.
func step(from, to State) (Op, bool) {
	switch {
	case from == to:
		return "", false
	case to == Active:
		return OpEnroll, true
	case from == Absent:
		return "", false // nothing to suspend or remove
	case to == Suspended:
		return OpSuspend, true
	}
	return OpUnenroll, true
}
