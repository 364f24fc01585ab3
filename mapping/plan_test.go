package mapping

import (
	"reflect"
	"testing"
)

func TestPlan(t *testing.T) {
	t.Parallel()

	sec, git := key("hooks", "SEC-101"), key("hooks", "GIT-201")
	r := []Reason{why(eng, "engineers", "eng-onboarding")}

	tests := []struct {
		name      string
		desired   map[Key]Want
		delivered map[Key]State
		want      []Action
	}{
		{name: "nothing at all"},
		{
			name:    "hire: absent to active",
			desired: map[Key]Want{sec: {State: Active, Reasons: r}},
			want:    []Action{{Key: sec, Op: OpEnroll, From: Absent, To: Active, Reasons: r}},
		},
		{
			name:      "reactivation: suspended to active",
			desired:   map[Key]Want{sec: {State: Active, Reasons: r}},
			delivered: map[Key]State{sec: Suspended},
			want:      []Action{{Key: sec, Op: OpEnroll, From: Suspended, To: Active, Reasons: r}},
		},
		{
			name:      "deactivation: active to suspended",
			desired:   map[Key]Want{sec: {State: Suspended, Reasons: r}},
			delivered: map[Key]State{sec: Active},
			want:      []Action{{Key: sec, Op: OpSuspend, From: Active, To: Suspended, Reasons: r}},
		},
		{
			name:    "never enrolled, wanted suspended: nothing is created",
			desired: map[Key]Want{sec: {State: Suspended, Reasons: r}},
		},
		{
			name:      "already active",
			desired:   map[Key]Want{sec: {State: Active, Reasons: r}},
			delivered: map[Key]State{sec: Active},
		},
		{
			name:      "already suspended",
			desired:   map[Key]Want{sec: {State: Suspended, Reasons: r}},
			delivered: map[Key]State{sec: Suspended},
		},
		{
			name:      "no longer wanted: active and suspended are unenrolled",
			delivered: map[Key]State{sec: Active, git: Suspended},
			want: []Action{
				{Key: git, Op: OpUnenroll, From: Suspended, To: Absent},
				{Key: sec, Op: OpUnenroll, From: Active, To: Absent},
			},
		},
		{
			name:      "delivered absent entries are ignored",
			delivered: map[Key]State{sec: Absent},
		},
		{
			name:      "delivered absent entry, wanted active",
			desired:   map[Key]Want{sec: {State: Active, Reasons: r}},
			delivered: map[Key]State{sec: Absent},
			want:      []Action{{Key: sec, Op: OpEnroll, From: Absent, To: Active, Reasons: r}},
		},
		{
			name: "sorted by connector, then course",
			desired: map[Key]Want{
				key("moodle", "A"): {State: Active, Reasons: r},
				key("hooks", "Z"):  {State: Active, Reasons: r},
				key("canvas", "B"): {State: Active, Reasons: r},
				key("hooks", "B"):  {State: Suspended, Reasons: r},
			},
			delivered: map[Key]State{key("hooks", "B"): Active, key("canvas", "A"): Active},
			want: []Action{
				{Key: key("canvas", "A"), Op: OpUnenroll, From: Active, To: Absent},
				{Key: key("canvas", "B"), Op: OpEnroll, From: Absent, To: Active, Reasons: r},
				{Key: key("hooks", "B"), Op: OpSuspend, From: Active, To: Suspended, Reasons: r},
				{Key: key("hooks", "Z"), Op: OpEnroll, From: Absent, To: Active, Reasons: r},
				{Key: key("moodle", "A"), Op: OpEnroll, From: Absent, To: Active, Reasons: r},
			},
		},
		{
			name:      "unknown delivered state, wanted active",
			desired:   map[Key]Want{sec: {State: Active, Reasons: r}},
			delivered: map[Key]State{sec: "pending"},
			want:      []Action{{Key: sec, Op: OpEnroll, From: "pending", To: Active, Reasons: r}},
		},
		{
			name:      "unknown delivered state, wanted suspended",
			desired:   map[Key]Want{sec: {State: Suspended, Reasons: r}},
			delivered: map[Key]State{sec: "pending"},
			want:      []Action{{Key: sec, Op: OpSuspend, From: "pending", To: Suspended, Reasons: r}},
		},
		{
			name:      "unknown delivered state, not wanted",
			delivered: map[Key]State{sec: "pending"},
			want:      []Action{{Key: sec, Op: OpUnenroll, From: "pending", To: Absent}},
		},
		{
			name:      "a want with no state is no want",
			desired:   map[Key]Want{sec: {}, git: {}},
			delivered: map[Key]State{sec: Active},
			want:      []Action{{Key: sec, Op: OpUnenroll, From: Active, To: Absent}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Plan(tt.desired, tt.delivered)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Plan =\n%v\nwant\n%v", got, tt.want)
			}
			if again := Plan(tt.desired, apply(tt.delivered, got)); len(again) != 0 {
				t.Errorf("Plan after applying = %v, want nothing", again)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a    Action
		want string
	}{
		{Action{Key: key("hooks", "SEC-101"), Op: OpEnroll, To: Active}, "enroll hooks/SEC-101 (absent -> active)"},
		{Action{Key: key("moodle", "x"), Op: OpSuspend, From: Active, To: Suspended}, "suspend moodle/x (active -> suspended)"},
		{Action{Key: key("canvas", "42"), Op: OpUnenroll, From: Suspended}, "unenroll canvas/42 (suspended -> absent)"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestLifecycle follows one user through the life of a job, running
// Desired and Plan after every change and applying the result, as the
// delivery job does.
func TestLifecycle(t *testing.T) {
	t.Parallel()

	bundles := []Bundle{
		bundle("eng-onboarding", "hooks", DeactivateUnenroll, "SEC-101", "GIT-201"),
		bundle("all-hands", "hooks", DeactivateSuspend, "SEC-101", "HR-100"),
		bundle("compliance", "moodle", DeactivateKeep, "GDPR-1"),
	}
	rules := []Rule{
		ruleByName("engineers", "engineering", "eng-onboarding"),
		ruleByID("everyone", "g-all", "all-hands", "compliance"),
	}
	sec, git, hr, gdpr := key("hooks", "SEC-101"), key("hooks", "GIT-201"), key("hooks", "HR-100"), key("moodle", "GDPR-1")

	type op struct {
		k  Key
		op Op
	}
	steps := []struct {
		name  string
		user  Subject
		rules []Rule
		want  []op
		after map[Key]State
	}{
		{
			name:  "hired into Engineering",
			user:  activeUser(eng),
			want:  []op{{git, OpEnroll}, {sec, OpEnroll}},
			after: map[Key]State{sec: Active, git: Active},
		},
		{
			name:  "added to All Staff: the shared course is already there",
			user:  activeUser(eng, all),
			want:  []op{{hr, OpEnroll}, {gdpr, OpEnroll}},
			after: map[Key]State{sec: Active, git: Active, hr: Active, gdpr: Active},
		},
		{
			name:  "the engineers rule is removed: All Staff still wants SEC-101",
			user:  activeUser(eng, all),
			rules: rules[1:],
			want:  []op{{git, OpUnenroll}},
			after: map[Key]State{sec: Active, hr: Active, gdpr: Active},
		},
		{
			name:  "the rule is back",
			user:  activeUser(eng, all),
			want:  []op{{git, OpEnroll}},
			after: map[Key]State{sec: Active, git: Active, hr: Active, gdpr: Active},
		},
		{
			name:  "deactivated: unenroll, suspend and keep",
			user:  inactiveUser(eng, all),
			want:  []op{{git, OpUnenroll}, {hr, OpSuspend}, {sec, OpSuspend}},
			after: map[Key]State{sec: Suspended, hr: Suspended, gdpr: Active},
		},
		{
			name:  "reactivated",
			user:  activeUser(eng, all),
			want:  []op{{git, OpEnroll}, {hr, OpEnroll}, {sec, OpEnroll}},
			after: map[Key]State{sec: Active, git: Active, hr: Active, gdpr: Active},
		},
		{
			name:  "Engineering deleted: the shared course stays",
			user:  activeUser(all),
			want:  []op{{git, OpUnenroll}},
			after: map[Key]State{sec: Active, hr: Active, gdpr: Active},
		},
		{
			name:  "deleted: everything delivered is removed",
			user:  Subject{},
			want:  []op{{hr, OpUnenroll}, {sec, OpUnenroll}, {gdpr, OpUnenroll}},
			after: map[Key]State{},
		},
	}
	delivered := map[Key]State{}
	for _, st := range steps {
		rs := st.rules
		if rs == nil {
			rs = rules
		}
		actions := Plan(Desired(st.user, rs, bundles), delivered)
		var got []op
		for _, a := range actions {
			got = append(got, op{a.Key, a.Op})
		}
		if !reflect.DeepEqual(got, st.want) {
			t.Fatalf("%s: actions = %v, want %v", st.name, got, st.want)
		}
		delivered = apply(delivered, actions)
		if !reflect.DeepEqual(delivered, st.after) {
			t.Fatalf("%s: delivered = %v, want %v", st.name, delivered, st.after)
		}
	}
}
