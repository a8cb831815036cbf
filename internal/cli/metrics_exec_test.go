package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// execed is what a metricsExec hook was asked to run.
type execed struct {
	path string
	argv []string
}

// execHooks are hooks whose exec records into got, amtctl being exe and
// /usr/libexec/amtctl being libexec.
func execHooks(got *[]execed, exe, libexec string) hooks {
	return hooks{
		metricsExec: func(path string, argv, _ []string) error {
			*got = append(*got, execed{path, argv})
			return nil
		},
		metricsExecutable: func() (string, error) { return exe, nil },
		metricsLibexec:    libexec,
	}
}

// writeExecutable writes an executable file at path.
func writeExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsExec: amtctl (no server linked) execs amtctl-metrics with
// its own command line, found next to the real amtctl (through a
// symlink), else in /usr/libexec/amtctl, else in $PATH; with none, one
// line and exit 1.
func TestMetricsExec(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "opt", "amtctl")
	writeExecutable(t, real)
	link := filepath.Join(dir, "bin", "amtctl")
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	libexec := filepath.Join(dir, "libexec")
	pathDir := filepath.Join(dir, "path")
	t.Setenv("PATH", pathDir)
	args := []string{"-n", "gw", "metrics", "--listen", ":9477", "-j"}

	run := func() ([]execed, int, string, string) {
		var got []execed
		var out, errb bytes.Buffer
		code := mainWith(args, &out, &errb, execHooks(&got, link, libexec))
		return got, code, out.String(), errb.String()
	}

	// None anywhere: the one line, exit 1, nothing exec'ed.
	got, code, out, errOut := run()
	want := "amtctl: metrics: amtctl-metrics not found next to " + real + " nor in /usr/libexec/amtctl or $PATH; install it (make build puts it in .build/)\n"
	if code != ExitError || out != "" || errOut != want || len(got) != 0 {
		t.Errorf("none installed: exit %d, stdout %q, stderr %q, exec'ed %v; want 1 and %q", code, out, errOut, got, want)
	}

	// Then each place, the later ones first so that each step shows the
	// earlier place wins.
	for _, where := range []string{pathDir, libexec, filepath.Dir(real)} {
		bin := filepath.Join(where, "amtctl-metrics")
		writeExecutable(t, bin)
		got, code, out, errOut := run()
		wantArgv := append([]string{bin}, args...)
		if code != 0 || out != "" || errOut != "" || len(got) != 1 || got[0].path != bin || !slices.Equal(got[0].argv, wantArgv) {
			t.Errorf("amtctl-metrics in %s: exit %d, stdout %q, stderr %q, exec'ed %v; want %s with argv %q", where, code, out, errOut, got, bin, wantArgv)
		}
	}
}

// TestMetricsExecNotExecutable: a file that cannot be run is passed
// over.
func TestMetricsExecNotExecutable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "amtctl")
	writeExecutable(t, exe)
	if err := os.WriteFile(filepath.Join(dir, "amtctl-metrics"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "")
	var got []execed
	var out, errb bytes.Buffer
	code := mainWith([]string{"metrics", "--listen", ":0"}, &out, &errb, execHooks(&got, exe, filepath.Join(dir, "none")))
	if code != ExitError || len(got) != 0 {
		t.Errorf("exit %d, exec'ed %v, stderr %q; want 1 and nothing exec'ed", code, got, errb.String())
	}
}
