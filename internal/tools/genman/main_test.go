package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	if err := generate(dir); err != nil {
		t.Fatal(err)
	}
	for page, want := range map[string][]string{
		"amtctl.1":                 {`.TH "AMTCTL" "1" "Nov 2023" "amtctl"`, "manages Linux AMT", "amtctl-apply(1)", "-batch"},
		"amtctl-add.1":             {"mode gateway|relay", "max_tunnels N"},
		"amtctl-apply.1":           {"--prune", "--dry-run", "delete and re-create"},
		"amtctl-show.1":            {"ip -d -s -j link show"},
		"amtctl-completion-bash.1": {"bash"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Errorf("page %s: %v", page, err)
			continue
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("page %s lacks %q", page, w)
			}
		}
	}
}
