package amtlink

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// CheckNetNSName reports whether name is a namespace name `ip netns` would
// accept (netns_name_valid): not empty, no "/", not "." or "..", at most 255
// bytes (NAME_MAX). The error reads, for example,
// `network namespace name "../x" is not valid: it contains "/" (a path? use NetNSFromPath)`
// and matches errors.Is(err, fs.ErrInvalid).
func CheckNetNSName(name string) error {
	why := ""
	switch {
	case name == "":
		why = "it is empty; give a name from `ip netns list`"
	case strings.Contains(name, "/"):
		why = `it contains "/"; give a name from ` + "`ip netns list`" + `, or an absolute path such as /proc/PID/ns/net`
	case name == "." || name == "..":
		why = "it is a directory name; give a name from `ip netns list`"
	case len(name) > 255:
		why = fmt.Sprintf("%d bytes, longer than 255", len(name))
	default:
		return nil
	}
	return &netnsError{name: name, msg: fmt.Sprintf("network namespace name %q is not valid: %s", name, why), err: fs.ErrInvalid}
}

// netnsError is the error of OpenNetNS and NetNSFromPath: one readable
// line, unwrapping to the cause (an *fs.PathError for a missing namespace,
// fs.ErrInvalid for a bad name).
type netnsError struct {
	name string
	msg  string
	err  error
}

func (e *netnsError) Error() string { return e.msg }
func (e *netnsError) Unwrap() error { return e.err }

// NetNS is a reference to a network namespace, held by an open file
// descriptor (as `ip netns` and /proc/PID/ns/net give them). A Client dialled
// with a NetNS talks to that namespace; the descriptor may be closed once
// Dial has returned, because the socket keeps its namespace.
//
// Create one with OpenNetNS (owned; Close closes it) or NetNSFromFD
// (borrowed; Close leaves the descriptor alone).
type NetNS struct {
	fd    int
	owned bool
	name  string // as given to OpenNetNS, for messages
	path  string // the file opened, for Gone; "" for NetNSFromFD
	close func() error
}

// NetNSFromFD returns a NetNS for a descriptor the caller owns, for example
// the *os.File of a namespace created in a test. Close does not close fd.
func NetNSFromFD(fd int) *NetNS {
	return &NetNS{fd: fd, name: "fd " + strconv.Itoa(fd)}
}

// FD returns the namespace's file descriptor, or -1 after Close of an owned
// NetNS.
func (n *NetNS) FD() int { return n.fd }

// String returns the name or path the namespace was opened with, or "fd N".
func (n *NetNS) String() string { return n.name }

// Close releases an owned namespace descriptor. It does nothing for a
// borrowed one (NetNSFromFD) and is safe to call more than once.
func (n *NetNS) Close() error {
	if n == nil || !n.owned || n.close == nil {
		return nil
	}
	c := n.close
	n.close = nil
	n.fd = -1
	return c()
}
