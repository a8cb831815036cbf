//go:build !unix

package cli

import (
	"fmt"
	"runtime"
)

// execve replaces the process with path, which only Unix can do.
func execve(path string, _, _ []string) error {
	return fmt.Errorf("cannot replace the process on %s; run %s itself", runtime.GOOS, path)
}
