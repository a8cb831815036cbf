package cli

import (
	"io/fs"
	"os"
	"path/filepath"
)

// metricsBinary is the program that serves "amtctl metrics": amtctl
// itself links neither Prometheus' client nor net/http, whose init every
// other command would pay at start-up (README.md, "Why amtctl-metrics is
// a separate binary").
const metricsBinary = "amtctl-metrics"

// metricsLibexec is where a package installs metricsBinary when not
// beside amtctl.
const metricsLibexec = "/usr/libexec/amtctl"

// execMetrics replaces amtctl with amtctl-metrics, given the same
// command line, once metrics' flags have been checked here. It returns
// only when amtctl-metrics cannot be found or run.
func (o *options) execMetrics() error {
	path, next, err := o.findMetrics()
	if err != nil {
		return err
	}
	if path == "" {
		return runErrf("metrics: %s not found next to %s nor in %s or $PATH; install it (make build puts it in .build/)", metricsBinary, next, metricsLibexec)
	}
	args := o.args
	if args == nil {
		args = os.Args[1:]
	}
	exec := o.metricsExec
	if exec == nil {
		exec = execve
	}
	if err := exec(path, append([]string{path}, args...), os.Environ()); err != nil {
		return runErrf("metrics: run %s: %v", path, err)
	}
	return nil
}

// findMetrics looks for amtctl-metrics next to the running amtctl (its
// symlinks resolved, so a link in /usr/local/bin finds the real
// install), then in /usr/libexec/amtctl, then in $PATH. It returns the
// path, "" if there is none, and, to name it, where "next to" was.
func (o *options) findMetrics() (path, next string, err error) {
	executable := o.metricsExecutable
	if executable == nil {
		executable = os.Executable
	}
	libexec := o.metricsLibexec
	if libexec == "" {
		libexec = metricsLibexec
	}
	var dirs []string
	next = "amtctl (os.Executable failed)"
	if self, err := executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		next = self
		dirs = append(dirs, filepath.Dir(self))
	}
	dirs = append(dirs, libexec)
	// $PATH as exec.LookPath reads it, without linking os/exec: an
	// empty entry is the current directory, which LookPath refuses.
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d != "" && filepath.IsAbs(d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, metricsBinary)
		if isExecutable(p) {
			return p, next, nil
		}
	}
	return "", next, nil
}

// isExecutable reports whether path is a regular file someone may run.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 && fi.Mode()&fs.ModeType == 0
}
