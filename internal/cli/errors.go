package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/amtctl/amtctl/pkg/amtlink"
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

// noArgs is the Args check of a command that takes no arguments: a usage
// error naming the command, the words given and its usage line.
func noArgs(name, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("%s takes no arguments, got %s; usage: %s", name, quoteAll(args), usage)
		}
		return nil
	}
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

// failure is what a command was doing when amtlink failed: the context
// [failure.error] needs to word the error as the user's one line.
type failure struct {
	// op is the operation as the line names it: "add", "set", "create",
	// "replace (re-create)", "list"; "" for show NAME and del NAME, whose
	// lines name only the link.
	op    string
	name  string // the link; "" for a list
	netns string // the namespace as given (-n or the file); "" for the current one
	shown string // the namespace as apply's lines name it after the link; "" for none
	// planned is set for apply's changes, planned from the list of amt
	// links: an existing name is then a link of another kind.
	planned bool
	spec    *amtlink.Spec   // creating: the link asked for
	ch      *amtlink.Change // set: the change asked for
}

// error turns err, returned by amtlink for f, into the one line amtctl
// prints, with a fix. It decides by errors.Is categories only, never by the
// text; an error it has no words for keeps amtlink's, which names the
// operation, the link and the kernel's reason.
func (f failure) error(err error) error {
	lead := strings.TrimSpace(f.op+" "+f.name+nsSuffix(f.shown)) + ": "
	where := "this network namespace"
	if f.netns != "" {
		where = fmt.Sprintf("network namespace %q", f.netns)
	}
	master := ""
	if f.spec != nil {
		master = f.spec.Master
	} else if f.ch != nil && f.ch.Master != nil {
		master = *f.ch.Master
	}
	switch {
	case errors.Is(err, amtlink.ErrNoDriver):
		return runErrf(`%skernel has no AMT driver; load it with "modprobe amt" (or build with CONFIG_AMT)`, lead)
	case errors.Is(err, amtlink.ErrNotAMT) && f.ch != nil:
		return runErrf("%s%s is not an amt link; amtctl set changes amt links only (use ip link set for others)", lead, f.name)
	case errors.Is(err, amtlink.ErrNotAMT):
		return runErrf("%s is not an amt link; amtctl only touches amt links (see amtctl show)", f.name)
	case errors.Is(err, os.ErrPermission):
		return runErrf("%spermission denied; run as root or with CAP_NET_ADMIN", lead)
	case f.spec != nil && errors.Is(err, syscall.EADDRINUSE):
		// The kernel binds the link's UDP socket when it goes up; another
		// amt link (or anything else) in the namespace holds the port.
		port := ifla.DefaultPort
		if f.spec.AMT.RelayPort != nil {
			port = *f.spec.AMT.RelayPort
		}
		return runErrf(`%sUDP port %d is already in use in %s (another amt link?); give this link other ports (relay_port N, and gateway_port N for a gateway) or its own namespace, or leave out "up"`, lead, port, where)
	case f.spec != nil && errors.Is(err, os.ErrExist) && f.planned:
		return runErrf("%sa link named %q already exists in %s and is not an amt link the file can replace", lead, f.name, where)
	case f.spec != nil && errors.Is(err, os.ErrExist):
		return runErrf("%sa link named %q already exists in %s; pick another name or remove it: amtctl del %s", lead, f.name, where, f.name)
	case f.spec != nil && errors.Is(err, os.ErrNotExist):
		what := fmt.Sprintf("dev %q", f.spec.Dev)
		if master != "" {
			what = fmt.Sprintf("dev %q or master %q", f.spec.Dev, master)
		}
		return runErrf("%s%s not found in %s; check the device names (ip link show)", lead, what, where)
	case f.ch != nil && errors.Is(err, os.ErrNotExist) && master != "":
		return runErrf("%slink %q or master %q not found in %s; check the names (amtctl show, ip link show)", lead, f.name, master, where)
	case f.ch != nil && errors.Is(err, os.ErrNotExist):
		return runErrf("%sno amt link %q in %s; see amtctl show", lead, f.name, where)
	case f.ch != nil && master != "" && errors.Is(err, amtlink.ErrNotSupported):
		return runErrf("%smaster %q cannot take ports (%v); use a bridge, bond or VRF", lead, master, err)
	case f.op == "" && errors.Is(err, os.ErrNotExist):
		if f.netns != "" {
			return runErrf("amt link %q not found in network namespace %q", f.name, f.netns)
		}
		return runErrf("amt link %q not found", f.name)
	}
	var ae *amtlink.Error
	if errors.As(err, &ae) {
		// "create amtg: kernel: ..." names the operation and the link.
		return runErr(fmt.Errorf("%w%s", err, nsSuffix(f.shown)))
	}
	return runErr(fmt.Errorf("%s%w", lead, err))
}
