package mapping

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// world is a random organisation small enough that names collide often:
// shared courses, shared connectors, rules naming missing bundles.
type world struct {
	subject   Subject
	rules     []Rule
	bundles   []Bundle
	delivered map[Key]State
}

func randomWorld(r *rand.Rand) world {
	pick := func(prefix string, n int) string { return fmt.Sprintf("%s%d", prefix, r.IntN(n)) }
	policies := []OnDeactivate{"", DeactivateUnenroll, DeactivateSuspend, DeactivateKeep}
	groups := []Group{{ID: "g0", DisplayName: "Zero"}, {ID: "g1", DisplayName: "One"}, {ID: "g2", DisplayName: "zero"}, {ID: "g3", DisplayName: "Three"}}

	var w world
	for i := range 1 + r.IntN(5) {
		b := Bundle{Name: fmt.Sprintf("b%d", i), Connector: pick("c", 2), OnDeactivate: policies[r.IntN(len(policies))]}
		for range 1 + r.IntN(3) {
			b.Courses = append(b.Courses, pick("course", 5))
		}
		w.bundles = append(w.bundles, b)
	}
	for i := range 1 + r.IntN(5) {
		rule := Rule{Name: fmt.Sprintf("r%d", i)}
		g := groups[r.IntN(len(groups))]
		if r.IntN(2) == 0 {
			rule.GroupID = g.ID
		} else {
			rule.Group = g.DisplayName
		}
		for range 1 + r.IntN(2) {
			rule.Bundles = append(rule.Bundles, pick("b", 6)) // b5 never exists
		}
		w.rules = append(w.rules, rule)
	}
	w.subject = Subject{Exists: r.IntN(5) > 0, Active: r.IntN(2) == 0}
	for _, g := range groups {
		if r.IntN(2) == 0 {
			w.subject.Groups = append(w.subject.Groups, g)
		}
	}
	w.delivered = map[Key]State{}
	states := []State{Absent, Active, Suspended}
	for range r.IntN(8) {
		w.delivered[key(pick("c", 2), pick("course", 5))] = states[r.IntN(len(states))]
	}
	return w
}

func TestProperties(t *testing.T) {
	t.Parallel()
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 0x6f6e72616d70))
		w := randomWorld(r)
		desired := Desired(w.subject, w.rules, w.bundles)

		checkWants(t, seed, desired)
		checkOrderFree(t, seed, r, w, desired)

		actions := Plan(desired, w.delivered)
		if !slices.IsSortedFunc(actions, func(a, b Action) int {
			return cmp.Or(cmp.Compare(a.Key.Connector, b.Key.Connector), cmp.Compare(a.Key.Course, b.Key.Course))
		}) {
			t.Fatalf("seed %d: actions not sorted: %v", seed, actions)
		}
		after := apply(w.delivered, actions)
		if again := Plan(desired, after); len(again) != 0 {
			t.Fatalf("seed %d: not idempotent: %v after %v", seed, again, actions)
		}
		checkConverged(t, seed, desired, w.delivered, after)
	}
}

func checkWants(t *testing.T, seed uint64, desired map[Key]Want) {
	t.Helper()
	if desired != nil && len(desired) == 0 {
		t.Fatalf("seed %d: empty non-nil map", seed)
	}
	for k, w := range desired {
		if w.State != Active && w.State != Suspended {
			t.Fatalf("seed %d: %v wanted in state %q", seed, k, w.State)
		}
		if len(w.Reasons) == 0 || !slices.IsSortedFunc(w.Reasons, func(a, b Reason) int {
			return cmp.Or(cmp.Compare(a.Bundle, b.Bundle), cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Group.ID, b.Group.ID))
		}) {
			t.Fatalf("seed %d: %v reasons empty or unsorted: %v", seed, k, w.Reasons)
		}
		if len(slices.Compact(slices.Clone(w.Reasons))) != len(w.Reasons) {
			t.Fatalf("seed %d: %v repeated reasons: %v", seed, k, w.Reasons)
		}
	}
}

// checkOrderFree: the order of groups, rules and bundles does not matter.
func checkOrderFree(t *testing.T, seed uint64, r *rand.Rand, w world, desired map[Key]Want) {
	t.Helper()
	s := w.subject
	s.Groups = slices.Clone(s.Groups)
	rules, bundles := slices.Clone(w.rules), slices.Clone(w.bundles)
	r.Shuffle(len(s.Groups), func(i, j int) { s.Groups[i], s.Groups[j] = s.Groups[j], s.Groups[i] })
	r.Shuffle(len(rules), func(i, j int) { rules[i], rules[j] = rules[j], rules[i] })
	r.Shuffle(len(bundles), func(i, j int) { bundles[i], bundles[j] = bundles[j], bundles[i] })
	if got := Desired(s, rules, bundles); !reflect.DeepEqual(got, desired) {
		t.Fatalf("seed %d: order changed the result:\n%v\n%v", seed, got, desired)
	}
}

// checkConverged: after applying the plan, what is delivered is what is
// desired, except that a suspended want is never created from nothing.
func checkConverged(t *testing.T, seed uint64, desired map[Key]Want, before, after map[Key]State) {
	t.Helper()
	for k, s := range after {
		if _, ok := desired[k]; !ok {
			t.Fatalf("seed %d: %v left %q though not desired", seed, k, s)
		}
	}
	for k, w := range desired {
		got, want := after[k], w.State
		if w.State == Suspended && before[k] == Absent {
			want = Absent
		}
		if got != want {
			t.Fatalf("seed %d: %v is %q after applying, want %q", seed, k, got, want)
		}
	}
}
