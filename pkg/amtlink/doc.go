// Package amtlink creates, reads, lists and deletes Linux AMT interfaces
// (RFC 7450 Automatic Multicast Tunneling, kernel driver drivers/net/amt.c,
// link kind "amt") over rtnetlink, in the current network namespace or any
// other.
//
// It also registers Driver, an rtnetlink/v2 LinkDriver for kind "amt", so a
// plain rtnetlink link dump decodes AMT links too.
//
// The attribute codec and its validation live in package ifla; this package
// does the kernel I/O. See https://docs.kernel.org/networking/ for the
// kernel side and ip-link(8) ("type amt") for the iproute2 equivalent.
//
// # Errors
//
// Every Client method returns an *Error. It carries the kernel's
// extended acknowledgement text in Message (Dial turns extended
// acknowledgements on) and shows it in Error(). Callers branch with
// errors.Is and never need x/sys/unix or string matching:
//
//	errors.Is(err, os.ErrPermission) // EPERM/EACCES: needs root or CAP_NET_ADMIN
//	errors.Is(err, os.ErrExist)      // EEXIST: a link of that name exists
//	errors.Is(err, os.ErrNotExist)   // ENODEV/ENOENT: no such link, dev, master or namespace; or not an amt link
//	errors.Is(err, ErrNotAMT)        // the link exists but is of another kind
//	errors.Is(err, ErrNoDriver)      // the kernel has no AMT driver (modprobe amt)
//	errors.Is(err, ErrNotSupported)  // any other EOPNOTSUPP
//
// Invalid input to Create is refused before anything is sent, with an
// *Error wrapping an *ifla.FieldError: one line naming the field and the fix.
// Create never leaves a half-made link behind.
//
// # Changing and watching links
//
// The kernel's AMT driver has no changelink: an AMT link's mode, addresses,
// ports and lower device are fixed at creation. Client.Set changes what can
// change in place (up/down, MTU, master) in one request; Spec.Validate runs
// Create's checks without sending anything, so a batch can be checked
// first. Client.Devices lists every device of the namespace with its
// addresses (for checks such as "is local an address of dev").
//
// Client.Watch reports created, deleted, up and down from the kernel's link
// notifications (RTNLGRP_LINK, on a socket of its own in the Client's
// namespace). The kernel sends nothing when a gateway discovers, changes or
// loses its relay, so while gateway links exist Watch polls them, one
// filtered dump per WatchOptions.PollInterval (default 200ms), for
// relay-discovered, relay-changed and relay-lost.
//
// # Namespaces
//
// A Client talks to one network namespace for its whole life. Dial(nil) uses
// the caller's; Dial(ns) uses ns, opened with OpenNetNS (a name from
// `ip netns list`, i.e. /run/netns/NAME, or a path such as
// /proc/PID/ns/net) or borrowed with NetNSFromFD. The socket is created
// inside the namespace by the netlink package (netlink.Config.NetNS), on a
// locked thread that is restored afterwards; this package never switches a
// thread's namespace itself, so it is safe in programs with many goroutines.
// Device names (Spec.Dev, Spec.Master, Link.LowerName, Link.Master) are
// resolved in the Client's namespace.
//
// # Debugging
//
// Set NLDEBUG=1 in the environment to make the netlink package log every
// message it sends and receives to stderr (NLDEBUG=level=2 for more), e.g.
//
//	NLDEBUG=1 amtctl show
//
// # Privileges and tests
//
// Creating and deleting links needs CAP_NET_ADMIN in the namespace's user
// namespace; reading does not. The integration tests (TestIntegration*)
// need root and a kernel with the AMT driver; without them they skip with
// the reason, and with AMTCTL_REQUIRE_KERNEL=1 (set by scripts/vm) that skip
// is a failure.
package amtlink
