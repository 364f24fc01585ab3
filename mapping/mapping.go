// Package mapping decides enrollments: which courses each user should be
// enrolled in, given group-to-bundle rules, and what must change in an LMS
// to get there. It is pure: no I/O, no clock, nothing of Onramp's imported,
// so every decision can be table-tested.
//
// The model is level-triggered (DESIGN.md): [Desired] computes the whole
// target state of one user from scratch, and [Plan] compares it with what
// has been delivered. Running them twice, or on stale input followed by
// fresh input, converges on the same result.
package mapping

// OnDeactivate says what a bundle's enrollments become while a user is
// deactivated (SCIM active=false).
type OnDeactivate string

const (
	DeactivateUnenroll OnDeactivate = "unenroll" // remove the enrollment (the default)
	DeactivateSuspend  OnDeactivate = "suspend"  // keep it, inactive; resume on reactivation
	DeactivateKeep     OnDeactivate = "keep"     // leave it active
)

// Bundle is a set of courses in one LMS connector.
type Bundle struct {
	Name         string       `json:"name" yaml:"name"`
	Connector    string       `json:"connector" yaml:"connector"`
	Courses      []string     `json:"courses" yaml:"courses"`
	Description  string       `json:"description,omitempty" yaml:"description,omitempty"`
	OnDeactivate OnDeactivate `json:"on_deactivate,omitempty" yaml:"on_deactivate,omitempty"` // "" means DeactivateUnenroll
}

// Rule maps one group to bundles. Exactly one of Group (a displayName,
// matched ignoring case) and GroupID (a SCIM group id) is set.
type Rule struct {
	Name    string   `json:"name" yaml:"name"`
	Group   string   `json:"group,omitempty" yaml:"group,omitempty"`
	GroupID string   `json:"group_id,omitempty" yaml:"group_id,omitempty"`
	Bundles []string `json:"bundles" yaml:"bundles"`
}

// Group is a group a user is a member of.
type Group struct {
	ID          string
	DisplayName string
}

// Subject is one user as mapping sees them.
type Subject struct {
	// Exists is false once the user has been deleted: nothing is desired.
	Exists bool
	// Active is the SCIM active attribute.
	Active bool
	Groups []Group
}

// Key names one enrollment: a course in a connector.
type Key struct {
	Connector string
	Course    string
}

// State is an enrollment's state in the LMS.
type State string

const (
	Absent    State = ""          // not enrolled
	Active    State = "active"    // enrolled
	Suspended State = "suspended" // enrolled, inactive
)

// Reason is one path by which a user comes to want an enrollment.
type Reason struct {
	Group  Group
	Rule   string
	Bundle string
}

// Want is one desired enrollment and why it is wanted.
type Want struct {
	State   State    // Active or Suspended
	Reasons []Reason // sorted by bundle, rule, group id
}

// Op is a change to make to one enrollment.
type Op string

const (
	OpEnroll   Op = "enroll"   // Absent or Suspended -> Active
	OpSuspend  Op = "suspend"  // Active -> Suspended
	OpUnenroll Op = "unenroll" // Active or Suspended -> Absent
)
