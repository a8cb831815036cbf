package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/amtctl/amtctl/pkg/ifla"
)

// Exit statuses of amtctl; see the package documentation.
const (
	ExitOK    = 0 // success
	ExitError = 1 // well-formed request that failed
	ExitUsage = 2 // bad command line; nothing was sent to the kernel
)

// usageError is a bad command line: exit status 2, nothing sent.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// runError is a well-formed request that failed: exit status 1.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

func runErr(err error) error {
	if err == nil {
		return nil
	}
	var fe *ifla.FieldError
	if errors.As(err, &fe) {
		// Validation failures are usage errors wherever they surface.
		return err
	}
	return &runError{err: err}
}

func runErrf(format string, args ...any) error {
	return &runError{err: fmt.Errorf(format, args...)}
}

// exitCode maps an error returned by the command tree to an exit status.
// Errors raised by cobra itself (unknown command or flag, wrong argument
// count) are usage errors.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var re *runError
	if errors.As(err, &re) {
		return ExitError
	}
	return ExitUsage
}

// isOurs reports whether err was raised by amtctl itself (and so already
// carries a fix), rather than by cobra.
func isOurs(err error) bool {
	var (
		ue *usageError
		re *runError
		fe *ifla.FieldError
	)
	return errors.As(err, &ue) || errors.As(err, &re) || errors.As(err, &fe)
}

// oneLine renders err as the single line amtctl prints: cobra's multi-line
// suggestions are cut, and any stray newline becomes "; ".
func oneLine(err error) string {
	msg := strings.TrimSpace(err.Error())
	if i := strings.Index(msg, "\n\nDid you mean"); i >= 0 {
		msg = msg[:i]
	}
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.TrimPrefix(strings.Join(parts, "; "), "amtctl: ")
}
