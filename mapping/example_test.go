package mapping_test

import (
	"fmt"

	"github.com/onramp-dev/onramp/mapping"
)

// A new engineer is hired: the identity provider creates the user and adds
// them to Engineering and All Staff. Two bundles share SEC-101, so it is
// enrolled once; the rule naming a bundle not created yet adds nothing.
func Example_hire() {
	bundles := []mapping.Bundle{
		{Name: "eng-onboarding", Connector: "hooks", Courses: []string{"SEC-101", "GIT-201"}},
		{Name: "all-hands", Connector: "hooks", Courses: []string{"SEC-101", "HR-100"}},
		{Name: "compliance", Connector: "moodle", Courses: []string{"GDPR-1"}, OnDeactivate: mapping.DeactivateKeep},
	}
	rules := []mapping.Rule{
		{Name: "engineers", Group: "engineering", Bundles: []string{"eng-onboarding", "not-yet"}},
		{Name: "everyone", GroupID: "7b1c", Bundles: []string{"all-hands", "compliance"}},
	}
	hire := mapping.Subject{Exists: true, Active: true, Groups: []mapping.Group{
		{ID: "3f9a", DisplayName: "Engineering"},
		{ID: "7b1c", DisplayName: "All Staff"},
	}}

	desired := mapping.Desired(hire, rules, bundles)
	actions := mapping.Plan(desired, nil) // nothing delivered yet
	for _, a := range actions {
		fmt.Print(a)
		for _, r := range a.Reasons {
			fmt.Printf(" [%s via %s, group %q]", r.Bundle, r.Rule, r.Group.DisplayName)
		}
		fmt.Println()
	}

	// Delivery applied them; the next run, duplicate or not, has nothing to do.
	delivered := map[mapping.Key]mapping.State{}
	for _, a := range actions {
		delivered[a.Key] = a.To
	}
	fmt.Println(len(mapping.Plan(desired, delivered)), "actions on the next run")

	// Output:
	// enroll hooks/GIT-201 (absent -> active) [eng-onboarding via engineers, group "Engineering"]
	// enroll hooks/HR-100 (absent -> active) [all-hands via everyone, group "All Staff"]
	// enroll hooks/SEC-101 (absent -> active) [all-hands via everyone, group "All Staff"] [eng-onboarding via engineers, group "Engineering"]
	// enroll moodle/GDPR-1 (absent -> active) [compliance via everyone, group "All Staff"]
	// 0 actions on the next run
}
