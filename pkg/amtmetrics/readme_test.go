package amtmetrics

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readmeTable renders Metrics as README.md's table for dashboards.
func readmeTable() string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | what |\n|---|---|---|---|\n")
	for _, m := range Metrics {
		labels := make([]string, len(m.Labels))
		for i, l := range m.Labels {
			labels[i] = "`" + l + "`"
		}
		b.WriteString("| `" + m.Name + "` | " + m.Type + " | " + strings.Join(labels, " ") + " | " + strings.ReplaceAll(m.Help, "|", `\|`) + " |\n")
	}
	return b.String()
}

// TestREADMEMetrics: README.md lists exactly the metrics the Collector
// exposes, with their types, labels and help (go test -update rewrites it).
func TestREADMEMetrics(t *testing.T) {
	const path, begin, end = "../../README.md", "<!-- metrics:begin -->\n", "<!-- metrics:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q block", path, begin, end)
	}
	got, want := s[i+len(begin):j], readmeTable()
	if got != want && *update {
		if err := os.WriteFile(path, []byte(s[:i+len(begin)]+want+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("README.md's metrics table (-want +got; go test -update ./pkg/amtmetrics rewrites it):\n%s", d)
	}
}
