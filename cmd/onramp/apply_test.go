package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// writeFile writes content to name in a new temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const applyConfig = `
connectors:
  - {name: hooks, type: log}
  - {name: demo, type: log}
`

const applyBundles = `
bundles:
  - name: eng
    connector: hooks
    courses: [SEC-101, GIT-201]
  - name: staff
    connector: demo
    courses: [HR-100]
    on_deactivate: keep
rules:
  - name: engineers
    group: Engineering
    bundles: [eng, staff]
`

func TestApply(t *testing.T) {
	t.Parallel()
	eachDatabase(t, true, func(t *testing.T, b *testBundle) {
		cfg := writeFile(t, "onramp.yaml", applyConfig)
		file := writeFile(t, "bundles.yaml", applyBundles)

		r := b.mustRun(t, "apply", "--config", cfg, "-f", file, "--dry-run")
		want := "create bundle eng\ncreate bundle staff\ncreate rule engineers\ndry run: 3 changes, none made\n"
		if r.stdout != want {
			t.Errorf("dry run printed:\n%s\nwant:\n%s", r.stdout, want)
		}
		st := b.openStore(t)
		if bs, _ := st.ListBundles(t.Context()); len(bs) != 0 {
			t.Fatalf("a dry run wrote %d bundles", len(bs))
		}

		r = b.mustRun(t, "apply", "--config", cfg, "-f", file)
		if !strings.HasPrefix(r.stdout, "create bundle eng\ncreate bundle staff\ncreate rule engineers\n3 changes made (correlation id ") {
			t.Errorf("apply printed:\n%s", r.stdout)
		}
		if r := b.mustRun(t, "apply", "--config", cfg, "-f", file); r.stdout != "no changes\n" {
			t.Errorf("applying the same file again printed:\n%s\nwant: no changes", r.stdout)
		}
		staff, err := st.GetBundle(t.Context(), "staff")
		if err != nil || staff.OnDeactivate != "keep" || staff.Version != 1 {
			t.Fatalf("bundle staff = %+v, %v", staff, err)
		}
		evs, err := st.ListEvents(t.Context(), store.AuditQuery{ResourceID: "eng"})
		if err != nil || len(evs) != 1 || evs[0].Actor != "cli" || evs[0].Action != "bundle.create" {
			t.Errorf("audit events of bundle eng = %+v, %v; want one bundle.create by cli", evs, err)
		}

		smaller := writeFile(t, "smaller.yaml", `
bundles:
  - {name: eng, connector: hooks, courses: [SEC-101, GIT-201, K8S-301]}
`)
		r = b.mustRun(t, "apply", "--config", cfg, "-f", smaller, "--prune")
		if !strings.HasPrefix(r.stdout, "update bundle eng\ndelete rule engineers\ndelete bundle staff\n3 changes made") {
			t.Errorf("apply --prune printed:\n%s", r.stdout)
		}
		if rules, _ := st.ListRules(t.Context()); len(rules) != 0 {
			t.Errorf("rules left after --prune: %+v", rules)
		}
	})
}

func TestApplyRefusesBadFiles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := writeFile(t, "onramp.yaml", applyConfig)
	tests := []struct {
		name, file string
		want       []string
	}{
		{"unknown connector", `bundles: [{name: eng, connector: moodle, courses: [A]}]`, []string{`connector "moodle" is not in the config file`}},
		{"unknown key", `bundles: [{name: eng, connector: hooks, course: [A]}]`, []string{"field course not found"}},
		{"every problem at once", `
bundles:
  - {name: eng, connector: hooks, courses: []}
  - {name: eng, connector: hooks, courses: [A], on_deactivate: sometimes}
rules:
  - {name: r, group: Eng, group_id: x, bundles: [eng]}
`, []string{"courses", `the name "eng" is used twice`, "on_deactivate", "group"}},
	}
	for _, tt := range tests {
		r := b.run(t, "apply", "--config", cfg, "-f", writeFile(t, "bad.yaml", tt.file))
		if r.code == 0 {
			t.Errorf("%s: apply succeeded", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tt.name, w, r.stderr)
			}
		}
	}
	if bs, _ := b.openStore(t).ListBundles(t.Context()); len(bs) != 0 {
		t.Errorf("refused files wrote %d bundles", len(bs))
	}
}

func TestDeliveriesCommands(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if r := b.mustRun(t, "deliveries", "list", "--dead"); r.stdout != "no dead letters\n" {
		t.Errorf("list on an empty queue printed %q", r.stdout)
	}
	for _, args := range [][]string{
		{"deliveries", "list"},
		{"deliveries", "replay"},
		{"deliveries", "replay", "1", "--all-dead"},
		{"deliveries", "replay", "x"},
		{"deliveries", "purge", "0"},
	} {
		if r := b.run(t, args...); r.code == 0 || !strings.Contains(r.stderr, "--help") {
			t.Errorf("onramp %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if r := b.run(t, "deliveries", "replay", "12345"); r.code == 0 || !strings.Contains(r.stderr, "no such dead letter") {
		t.Errorf("replaying an unknown id: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := b.mustRun(t, "reconcile"); !strings.HasPrefix(r.stdout, "queued a sync of 0 users") {
		t.Errorf("reconcile printed %q", r.stdout)
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cfg := writeFile(t, "onramp.yaml", applyConfig)
	b.mustRun(t, "apply", "--config", cfg, "-f", writeFile(t, "bundles.yaml", applyBundles))
	st := b.openStore(t)
	u := &store.User{Attributes: map[string]any{"userName": "Dana@Example.com", "externalId": "E-42"}}
	if err := st.CreateUser(t.Context(), u, store.Event{}); err != nil {
		t.Fatal(err)
	}
	g := &store.Group{Attributes: map[string]any{"displayName": "engineering"}, Members: []store.Member{{Value: u.ID}}}
	if err := st.CreateGroup(t.Context(), g, store.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{u.ID, "dana@example.com", "E-42"} {
		r := b.mustRun(t, "explain", "--config", cfg, ref)
		for _, want := range []string{"user " + u.ID + " (active)", "hooks      SEC-101", "demo       HR-100", `group "engineering", rule engineers, bundle eng`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("explain %s: output lacks %q:\n%s", ref, want, r.stdout)
			}
		}
	}
	if r := b.run(t, "explain", "nobody"); r.code == 0 || !strings.Contains(r.stderr, "unknown user") {
		t.Errorf("explain of an unknown user: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestConfigFile(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(filepath.Join("..", "..", "examples", "onramp.yaml"))
	if err != nil {
		t.Fatalf("the example config: %v", err)
	}
	if len(cfg.Connectors) != 4 || cfg.RateLimits.PerToken.Rate != 50 || cfg.Delivery.Workers != 40 {
		t.Errorf("example config read as %+v", cfg)
	}
	for _, bad := range []string{
		"connectors: [{name: a, type: log}]\nrate_limit: {}\n",
		"connectors: [{name: a, type: log}, {name: a, type: log}]\n",
		"connectors: [{name: a, type: log}]\nrate_limits: {per_token: {rate: 5}}\n",
		"connectors: [{name: a, type: log}]\ndelivery: {workers: -1}\n",
		"connectors: []\n",
	} {
		if _, err := parseConfig([]byte(bad)); err == nil {
			t.Errorf("config accepted:\n%s", bad)
		}
	}
}
