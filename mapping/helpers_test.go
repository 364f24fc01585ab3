package mapping

// Fixtures shared by the tests: a small organisation with two LMSs.

var (
	eng   = Group{ID: "g-eng", DisplayName: "Engineering"}
	all   = Group{ID: "g-all", DisplayName: "All Staff"}
	sales = Group{ID: "g-sales", DisplayName: "Sales"}
)

func activeUser(groups ...Group) Subject {
	return Subject{Exists: true, Active: true, Groups: groups}
}

func inactiveUser(groups ...Group) Subject {
	return Subject{Exists: true, Active: false, Groups: groups}
}

func bundle(name, connector string, policy OnDeactivate, courses ...string) Bundle {
	return Bundle{Name: name, Connector: connector, OnDeactivate: policy, Courses: courses}
}

func ruleByName(name, group string, bundles ...string) Rule {
	return Rule{Name: name, Group: group, Bundles: bundles}
}

func ruleByID(name, groupID string, bundles ...string) Rule {
	return Rule{Name: name, GroupID: groupID, Bundles: bundles}
}

func key(connector, course string) Key { return Key{Connector: connector, Course: course} }

func why(g Group, rule, bundle string) Reason { return Reason{Group: g, Rule: rule, Bundle: bundle} }

func wantActive(reasons ...Reason) Want { return Want{State: Active, Reasons: reasons} }

func wantSuspended(reasons ...Reason) Want { return Want{State: Suspended, Reasons: reasons} }

// apply returns delivered after the LMS carried out actions, as delivery
// would record it.
func apply(delivered map[Key]State, actions []Action) map[Key]State {
	out := make(map[Key]State, len(delivered))
	for k, s := range delivered {
		if s != Absent {
			out[k] = s
		}
	}
	for _, a := range actions {
		if a.To == Absent {
			delete(out, a.Key)
		} else {
			out[a.Key] = a.To
		}
	}
	return out
}
