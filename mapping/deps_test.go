package mapping

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps mapping pure (DESIGN.md): nothing of Onramp's, no
// database and no HTTP, so its decisions can never depend on I/O and every
// other package can import it without a cycle. It asks the go command,
// which resolves build tags and the module exactly as a build would.
func TestDependencies(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found:", err)
	}
	const self = "github.com/onramp-dev/onramp/mapping"
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != self {
		t.Fatalf("go list -deps listed %q, which does not end with %s", deps, self)
	}
	for _, dep := range deps {
		if forbidden(dep) && dep != self {
			t.Errorf("mapping imports %s", dep)
		}
	}
}

func forbidden(path string) bool {
	for _, p := range []string{"github.com/onramp-dev/onramp", "database/sql", "net/http"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func TestForbidden(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"github.com/onramp-dev/onramp/store":   true,
		"github.com/onramp-dev/onramp":         true,
		"github.com/onramp-dev/onramp-extra/x": false,
		"database/sql":                         true,
		"database/sql/driver":                  true,
		"net/http":                             true,
		"net/http/httptest":                    true,
		"net/netip":                            false,
		"strings":                              false,
	} {
		if got := forbidden(path); got != want {
			t.Errorf("forbidden(%q) = %v, want %v", path, got, want)
		}
	}
}
