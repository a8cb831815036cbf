package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
)

// TestNoServerLinked: amtctl links neither Prometheus' client nor
// net/http, whose init every command would pay at start-up; "amtctl
// metrics" execs amtctl-metrics, which links them.
func TestNoServerLinked(t *testing.T) {
	if os.Getenv(testenv.RequireKernelEnv) != "" {
		t.Skip("in the VM (scripts/vm): the import graph is the host's to check, with go test ./cmd/amtctl there")
	}
	// go test puts $GOROOT/bin first in $PATH: this is the go that
	// builds the test.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to list amtctl's packages (%v): the import graph is checked on the host", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/amtctl/amtctl/cmd/amtctl").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/amtctl: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/amtctl/amtctl/internal/cli") {
		t.Fatalf("go list -deps ./cmd/amtctl listed %d packages without internal/cli: %q", len(deps), deps)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/prometheus/") || p == "net/http" || strings.HasPrefix(p, "net/http/") {
			t.Errorf("amtctl links %s; only amtctl-metrics may", p)
		}
	}
	// And the server binary does link them, so the test above tests
	// something that could be there.
	out, err = exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/amtctl/amtctl/cmd/amtctl-metrics").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/amtctl-metrics: %v", err)
	}
	if m := strings.Fields(string(out)); !slices.Contains(m, "net/http") || !slices.Contains(m, "github.com/prometheus/client_golang/prometheus/promhttp") {
		t.Errorf("amtctl-metrics does not link net/http and promhttp: %q", m)
	}
}
