package mapping

import (
	"slices"
	"strings"
)

// Policy is what b's enrollments become while a user is deactivated, with
// the default filled in. Unenroll is the default because it is the one that
// ends a leaver's access without anyone having thought about it.
func (b Bundle) Policy() OnDeactivate {
	if b.OnDeactivate == "" {
		return DeactivateUnenroll
	}
	return b.OnDeactivate
}

// Normalize returns b with the default policy written out, so that a bundle
// PUT without on_deactivate and one PUT with "unenroll" are stored, shown
// and compared alike. Courses keep their order and are copied: the order is
// the admin's (an onboarding sequence, say) and is echoed back as given,
// even though it does not affect enrollments.
func (b Bundle) Normalize() Bundle {
	b.OnDeactivate = b.Policy()
	b.Courses = slices.Clone(b.Courses)
	return b
}

// Equal reports whether b and o would be stored the same after [Bundle.Normalize],
// so that applying the same file twice changes nothing. Course order
// counts, for the reason given at Normalize; nil and empty lists are equal.
func (b Bundle) Equal(o Bundle) bool {
	b, o = b.Normalize(), o.Normalize()
	return b.Name == o.Name && b.Connector == o.Connector &&
		b.Description == o.Description && b.OnDeactivate == o.OnDeactivate &&
		slices.Equal(b.Courses, o.Courses)
}

// Equal reports whether r and o are the same rule, bundle order and the
// case of Group included (they are echoed back as given); nil and empty
// lists are equal.
func (r Rule) Equal(o Rule) bool {
	return r.Name == o.Name && r.Group == o.Group && r.GroupID == o.GroupID &&
		slices.Equal(r.Bundles, o.Bundles)
}

// Matches reports whether r applies to g. A rule by GroupID survives the
// group being renamed; a rule by Group (displayName) follows the name, so it
// stops matching a renamed group and matches whatever group takes the name
// next. Names are compared with Unicode simple case folding
// ([strings.EqualFold]): "ÉQUIPE" matches "équipe", but "STRASSE" does not
// match "straße", and no Unicode normalisation is applied (a precomposed
// "é" does not match "e" with a combining accent). An empty rule matches
// nothing, so it cannot catch groups with no displayName.
func (r Rule) Matches(g Group) bool {
	switch {
	case r.GroupID != "":
		return r.GroupID == g.ID
	case r.Group != "":
		return strings.EqualFold(r.Group, g.DisplayName)
	}
	return false
}
