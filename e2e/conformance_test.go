package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOktaConformance runs Okta's "SCIM 2.0 SPEC Test" (the conformance pack
// in ../shared/conformance, beside the repository) against a fresh server
// on each database. It needs Node.js and the pack, and skips without them.
// Response times are not judged: tests never assert on wall-clock time.
func TestOktaConformance(t *testing.T) {
	t.Parallel()
	script := conformancePack(t, "run-okta.sh")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: the Okta conformance runner needs it")
	}
	forEachDB(t, func(t *testing.T, db string) {
		inst := startOnramp(t, db)
		cmd := exec.CommandContext(t.Context(), "bash", script, inst.base+"/scim/v2")
		cmd.Env = append(cleanEnv(), "OKTA_TOKEN="+inst.token, "OKTA_IGNORE_RESPONSE_TIME=1")
		out, err := cmd.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		summary := lines[len(lines)-1]
		t.Logf("Okta SPEC test: %s", summary)
		if err != nil || !strings.HasSuffix(summary, " 0 failed") {
			var fails []string
			for _, l := range lines {
				if strings.HasPrefix(strings.TrimSpace(l), "FAIL") {
					fails = append(fails, l)
				}
			}
			t.Errorf("Okta SPEC test: %s (%v)\n%s\n\nfull output:\n%s", summary, err, strings.Join(fails, "\n"), tail(string(out), 6000))
		}
		if strings.Contains(string(out), inst.token) {
			t.Errorf("the runner's output shows the token")
		}
	})
}

// conformancePack returns the path of a file of ../shared/conformance next
// to the module root, skipping the test when the pack is not there.
func conformancePack(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	p := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "..", "shared", "conformance", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no conformance pack at %s", p)
	}
	return p
}
