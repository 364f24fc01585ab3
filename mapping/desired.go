package mapping

import (
	"cmp"
	"slices"
)

// Desired computes every enrollment s should have: the union, over each
// group s is in, each rule matching that group and each bundle the rule
// names, of the bundle's courses in the bundle's connector. A course that
// several bundles name is one [Key] with one [Reason] per path.
//
// A deleted user (Exists false) wants nothing. A deactivated user keeps what
// each bundle's [Bundle.Policy] allows: nothing for unenroll, Suspended for
// suspend, Active for keep, and where bundles disagree on a Key the most
// access wins (Active over Suspended over nothing), because the bundle that
// keeps a course was configured on purpose. Reasons come only from bundles
// that still contribute, so they explain the state, not the history.
//
// Rules naming a bundle that does not exist are not an error: rules and
// bundles are applied independently and may arrive in either order. The
// result is nil when nothing is wanted.
func Desired(s Subject, rules []Rule, bundles []Bundle) map[Key]Want {
	if !s.Exists {
		return nil
	}
	byName := indexBundles(bundles)
	var out map[Key]Want
	for _, g := range s.Groups {
		for _, r := range rules {
			if !r.Matches(g) {
				continue
			}
			for _, name := range r.Bundles {
				b, ok := byName[name]
				if !ok {
					continue
				}
				out = want(out, b, contribution(b, s.Active), Reason{Group: g, Rule: r.Name, Bundle: b.Name})
			}
		}
	}
	for k, w := range out {
		w.Reasons = sortReasons(w.Reasons)
		out[k] = w
	}
	return out
}

// indexBundles maps names to bundles. Names are unique once validated; if
// they are not, the first wins, so the answer does not depend on map order.
func indexBundles(bundles []Bundle) map[string]Bundle {
	m := make(map[string]Bundle, len(bundles))
	for _, b := range bundles {
		if _, dup := m[b.Name]; !dup {
			m[b.Name] = b
		}
	}
	return m
}

// contribution is the state b asks for on behalf of a user who is (or is
// not) active. An unknown policy, which validation rejects, is treated as
// unenroll: when in doubt, grant less.
func contribution(b Bundle, active bool) State {
	if active {
		return Active
	}
	switch b.Policy() {
	case DeactivateKeep:
		return Active
	case DeactivateSuspend:
		return Suspended
	}
	return Absent
}

// want records that b wants state st for each of its courses, for reason why.
func want(out map[Key]Want, b Bundle, st State, why Reason) map[Key]Want {
	if st == Absent {
		return out
	}
	for _, c := range b.Courses {
		if c == "" { // an invalid bundle; never enroll in "no course"
			continue
		}
		if out == nil {
			out = make(map[Key]Want)
		}
		k := Key{Connector: b.Connector, Course: c}
		w := out[k]
		w.State = stronger(w.State, st)
		w.Reasons = append(w.Reasons, why)
		out[k] = w
	}
	return out
}

func rank(s State) int {
	switch s {
	case Active:
		return 2
	case Suspended:
		return 1
	}
	return 0
}

func stronger(a, b State) State {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// sortReasons orders reasons by bundle, rule, group id (then displayName)
// and drops repeats, which arise when a bundle lists a course twice or a
// user's groups list a group twice.
func sortReasons(rs []Reason) []Reason {
	slices.SortFunc(rs, func(a, b Reason) int {
		return cmp.Or(
			cmp.Compare(a.Bundle, b.Bundle),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Group.ID, b.Group.ID),
			cmp.Compare(a.Group.DisplayName, b.Group.DisplayName),
		)
	})
	return slices.Compact(rs)
}
