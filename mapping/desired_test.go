package mapping

import (
	"reflect"
	"testing"
)

func TestDesired(t *testing.T) {
	t.Parallel()

	onboarding := bundle("eng-onboarding", "hooks", "", "SEC-101", "GIT-201")
	allHands := bundle("all-hands", "hooks", "", "SEC-101", "HR-100")
	keep := bundle("keep", "hooks", DeactivateKeep, "SEC-101", "CERT-1")
	suspend := bundle("suspend", "hooks", DeactivateSuspend, "SEC-101", "LAB-1")
	unenroll := bundle("unenroll", "hooks", DeactivateUnenroll, "SEC-101", "GIT-201")

	tests := []struct {
		name    string
		subject Subject
		rules   []Rule
		bundles []Bundle
		want    map[Key]Want
	}{
		{
			name:    "single group, rule and bundle",
			subject: activeUser(eng),
			rules:   []Rule{ruleByName("engineers", "Engineering", "eng-onboarding")},
			bundles: []Bundle{onboarding},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "eng-onboarding")),
			},
		},
		{
			name:    "no groups",
			subject: activeUser(),
			rules:   []Rule{ruleByName("engineers", "Engineering", "eng-onboarding")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "group renamed: a rule by displayName stops matching",
			subject: activeUser(Group{ID: "g-eng", DisplayName: "Platform"}),
			rules:   []Rule{ruleByName("engineers", "Engineering", "eng-onboarding")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "group renamed: a rule by group_id keeps matching",
			subject: activeUser(Group{ID: "g-eng", DisplayName: "Platform"}),
			rules:   []Rule{ruleByID("engineers", "g-eng", "eng-onboarding")},
			bundles: []Bundle{onboarding},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(Group{ID: "g-eng", DisplayName: "Platform"}, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(Group{ID: "g-eng", DisplayName: "Platform"}, "engineers", "eng-onboarding")),
			},
		},
		{
			name:    "displayName matched ignoring case",
			subject: activeUser(eng),
			rules:   []Rule{ruleByName("engineers", "ENGINEERING", "eng-onboarding")},
			bundles: []Bundle{onboarding},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "eng-onboarding")),
			},
		},
		{
			name:    "displayName matched ignoring case, non-ASCII",
			subject: activeUser(Group{ID: "g-fr", DisplayName: "équipe"}),
			rules:   []Rule{ruleByName("equipe", "ÉQUIPE", "all-hands")},
			bundles: []Bundle{allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(Group{ID: "g-fr", DisplayName: "équipe"}, "equipe", "all-hands")),
				key("hooks", "HR-100"):  wantActive(why(Group{ID: "g-fr", DisplayName: "équipe"}, "equipe", "all-hands")),
			},
		},
		{
			name:    "a group id is matched exactly",
			subject: activeUser(Group{ID: "G-ENG", DisplayName: "Engineering"}),
			rules:   []Rule{ruleByID("engineers", "g-eng", "eng-onboarding")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "one course in two bundles is one key with both reasons",
			subject: activeUser(eng, all),
			rules: []Rule{
				ruleByName("engineers", "Engineering", "eng-onboarding"),
				ruleByID("everyone", "g-all", "all-hands"),
			},
			bundles: []Bundle{onboarding, allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(all, "everyone", "all-hands"), why(eng, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "eng-onboarding")),
				key("hooks", "HR-100"):  wantActive(why(all, "everyone", "all-hands")),
			},
		},
		{
			name:    "overlap: one bundle's rule removed, the other still wants the shared course",
			subject: activeUser(eng, all),
			rules:   []Rule{ruleByID("everyone", "g-all", "all-hands")},
			bundles: []Bundle{onboarding, allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(all, "everyone", "all-hands")),
				key("hooks", "HR-100"):  wantActive(why(all, "everyone", "all-hands")),
			},
		},
		{
			name:    "one rule naming two overlapping bundles",
			subject: activeUser(eng),
			rules:   []Rule{ruleByName("engineers", "engineering", "eng-onboarding", "all-hands")},
			bundles: []Bundle{onboarding, allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "all-hands"), why(eng, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "eng-onboarding")),
				key("hooks", "HR-100"):  wantActive(why(eng, "engineers", "all-hands")),
			},
		},
		{
			name:    "two rules for one group naming the same bundle",
			subject: activeUser(eng),
			rules: []Rule{
				ruleByName("b-by-name", "Engineering", "all-hands"),
				ruleByID("a-by-id", "g-eng", "all-hands"),
			},
			bundles: []Bundle{allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "a-by-id", "all-hands"), why(eng, "b-by-name", "all-hands")),
				key("hooks", "HR-100"):  wantActive(why(eng, "a-by-id", "all-hands"), why(eng, "b-by-name", "all-hands")),
			},
		},
		{
			name:    "two groups sharing a displayName are two reasons",
			subject: activeUser(Group{ID: "g2", DisplayName: "Ops"}, Group{ID: "g1", DisplayName: "ops"}),
			rules:   []Rule{ruleByName("ops", "OPS", "all-hands")},
			bundles: []Bundle{bundle("all-hands", "hooks", "", "HR-100")},
			want: map[Key]Want{
				key("hooks", "HR-100"): wantActive(
					why(Group{ID: "g1", DisplayName: "ops"}, "ops", "all-hands"),
					why(Group{ID: "g2", DisplayName: "Ops"}, "ops", "all-hands"),
				),
			},
		},
		{
			name:    "repeated group and repeated course give one reason",
			subject: activeUser(eng, eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "dup")},
			bundles: []Bundle{bundle("dup", "hooks", "", "SEC-101", "SEC-101")},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "dup")),
			},
		},
		{
			name:    "user no longer in the group (group deleted)",
			subject: activeUser(all),
			rules: []Rule{
				ruleByName("engineers", "Engineering", "eng-onboarding"),
				ruleByID("everyone", "g-all", "all-hands"),
			},
			bundles: []Bundle{onboarding, allHands},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(all, "everyone", "all-hands")),
				key("hooks", "HR-100"):  wantActive(why(all, "everyone", "all-hands")),
			},
		},
		{
			name:    "deleted user wants nothing",
			subject: Subject{Exists: false, Active: true, Groups: []Group{eng, all}},
			rules:   []Rule{ruleByID("engineers", "g-eng", "keep")},
			bundles: []Bundle{keep},
		},
		{
			name:    "unknown bundle names are ignored",
			subject: activeUser(eng),
			rules: []Rule{
				ruleByName("engineers", "Engineering", "not-yet", "eng-onboarding"),
				ruleByID("ghosts", "g-eng", "ghost"),
			},
			bundles: []Bundle{onboarding},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "eng-onboarding")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "eng-onboarding")),
			},
		},
		{
			name:    "only unknown bundles",
			subject: activeUser(eng),
			rules:   []Rule{ruleByID("ghosts", "g-eng", "ghost")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "same course id in two connectors is two keys",
			subject: activeUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "hooks-sec", "moodle-sec")},
			bundles: []Bundle{
				bundle("hooks-sec", "hooks", "", "SEC-101"),
				bundle("moodle-sec", "moodle", "", "SEC-101"),
			},
			want: map[Key]Want{
				key("hooks", "SEC-101"):  wantActive(why(eng, "engineers", "hooks-sec")),
				key("moodle", "SEC-101"): wantActive(why(eng, "engineers", "moodle-sec")),
			},
		},
		{
			name:    "rules for other groups do not apply",
			subject: activeUser(sales),
			rules:   []Rule{ruleByName("engineers", "Engineering", "eng-onboarding")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "a rule with neither group nor group_id matches nothing",
			subject: activeUser(Group{ID: "g-x"}),
			rules:   []Rule{{Name: "empty", Bundles: []string{"eng-onboarding"}}},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "duplicate bundle names: the first wins",
			subject: activeUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "b")},
			bundles: []Bundle{bundle("b", "hooks", "", "FIRST"), bundle("b", "hooks", "", "SECOND")},
			want: map[Key]Want{
				key("hooks", "FIRST"): wantActive(why(eng, "engineers", "b")),
			},
		},
		{
			name:    "deactivated, default policy: unenroll",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "eng-onboarding")},
			bundles: []Bundle{onboarding},
		},
		{
			name:    "deactivated, unenroll",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "unenroll")},
			bundles: []Bundle{unenroll},
		},
		{
			name:    "deactivated, suspend",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "suspend")},
			bundles: []Bundle{suspend},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantSuspended(why(eng, "engineers", "suspend")),
				key("hooks", "LAB-1"):   wantSuspended(why(eng, "engineers", "suspend")),
			},
		},
		{
			name:    "deactivated, keep",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "keep")},
			bundles: []Bundle{keep},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "keep")),
				key("hooks", "CERT-1"):  wantActive(why(eng, "engineers", "keep")),
			},
		},
		{
			name:    "deactivated, unknown policy counts as unenroll",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "odd")},
			bundles: []Bundle{bundle("odd", "hooks", "archive", "SEC-101")},
		},
		{
			name:    "deactivated, keep beats suspend on a shared course",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "suspend", "keep")},
			bundles: []Bundle{keep, suspend},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "keep"), why(eng, "engineers", "suspend")),
				key("hooks", "CERT-1"):  wantActive(why(eng, "engineers", "keep")),
				key("hooks", "LAB-1"):   wantSuspended(why(eng, "engineers", "suspend")),
			},
		},
		{
			name:    "deactivated, suspend beats unenroll, which is no reason",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "unenroll", "suspend")},
			bundles: []Bundle{unenroll, suspend},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantSuspended(why(eng, "engineers", "suspend")),
				key("hooks", "LAB-1"):   wantSuspended(why(eng, "engineers", "suspend")),
			},
		},
		{
			name:    "deactivated, keep beats unenroll",
			subject: inactiveUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "unenroll", "keep")},
			bundles: []Bundle{unenroll, keep},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "keep")),
				key("hooks", "CERT-1"):  wantActive(why(eng, "engineers", "keep")),
			},
		},
		{
			name:    "deactivated, all three policies on a shared course via different groups",
			subject: inactiveUser(eng, all, sales),
			rules: []Rule{
				ruleByID("r-unenroll", "g-eng", "unenroll"),
				ruleByID("r-suspend", "g-all", "suspend"),
				ruleByID("r-keep", "g-sales", "keep"),
			},
			bundles: []Bundle{unenroll, suspend, keep},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(sales, "r-keep", "keep"), why(all, "r-suspend", "suspend")),
				key("hooks", "CERT-1"):  wantActive(why(sales, "r-keep", "keep")),
				key("hooks", "LAB-1"):   wantSuspended(why(all, "r-suspend", "suspend")),
			},
		},
		{
			name:    "active user: policies do not matter",
			subject: activeUser(eng),
			rules:   []Rule{ruleByID("engineers", "g-eng", "unenroll", "suspend", "keep")},
			bundles: []Bundle{unenroll, suspend, keep},
			want: map[Key]Want{
				key("hooks", "SEC-101"): wantActive(why(eng, "engineers", "keep"), why(eng, "engineers", "suspend"), why(eng, "engineers", "unenroll")),
				key("hooks", "GIT-201"): wantActive(why(eng, "engineers", "unenroll")),
				key("hooks", "CERT-1"):  wantActive(why(eng, "engineers", "keep")),
				key("hooks", "LAB-1"):   wantActive(why(eng, "engineers", "suspend")),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Desired(tt.subject, tt.rules, tt.bundles)
			if len(tt.want) == 0 {
				if got != nil {
					t.Fatalf("Desired = %v, want nil", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Desired =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

// TestDesiredDoesNotModifyInput guards the reason slices: Desired sorts
// what it built, never what it was given.
func TestDesiredDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	input := func() (Subject, []Rule, []Bundle) {
		return activeUser(eng, all),
			[]Rule{ruleByID("z", "g-eng", "b2", "b1"), ruleByID("a", "g-eng", "b1")},
			[]Bundle{bundle("b2", "hooks", "", "C", "A"), bundle("b1", "hooks", "", "A")}
	}
	s, r, b := input()
	_ = Desired(s, r, b)
	s0, r0, b0 := input()
	if !reflect.DeepEqual(s, s0) || !reflect.DeepEqual(r, r0) || !reflect.DeepEqual(b, b0) {
		t.Errorf("Desired changed its input: %v %v %v", s, r, b)
	}
}
