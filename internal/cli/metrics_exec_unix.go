//go:build unix

package cli

import "syscall"

// execve replaces the process with path.
var execve = syscall.Exec
