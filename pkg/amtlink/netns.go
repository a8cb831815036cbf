package amtlink

import "strconv"

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
