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
// Client.Subscribe is the lower level both Watch and amtctl apply --watch
// stand on: it reports that a link of any kind, or an address, changed
// (RTNLGRP_LINK and RTNLGRP_IPV4_IFADDR/IPV6_IFADDR, on a socket of its
// own), so a caller that keeps links in a desired state knows when to
// look. A receive-buffer overrun (ENOBUFS: the kernel dropped
// notifications, as deleting a device with thousands of VLANs does) is
// reported, never fatal: Subscribe sends NotifyResync and Watch lists the
// links again and reports EventResynced, and both go on.
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
// # One round trip
//
// Every request goes through one function that sends it and reads its
// whole answer, on the socket's descriptor directly (one write, one read
// per datagram, nothing allocated per read): to NLMSG_DONE for a dump, the
// acknowledgement or the reply otherwise, even when decoding a message
// fails, so a failed call never leaves replies behind for the next one. It
// checks the sequence number and port ID of every reply, skipping those
// meant for something else, and decodes the kernel's error and its
// extended acknowledgement once. A dump the kernel flags NLM_F_DUMP_INTR
// (the list changed while it was read) is asked again, twice at most, and
// then fails with ErrDumpInterrupted. Notifications (Watch, Subscribe)
// come on sockets of their own, one per subscription, and never carry
// requests.
//
// # Types from rtnetlink
//
// Link.OperState and Link.Stats keep rtnetlink/v2's types
// (rtnetlink.OperationalState, *rtnetlink.LinkStats64) on purpose: this
// package registers an rtnetlink LinkDriver anyway, so the dependency is
// there for every user, and a program that already lists links with
// rtnetlink compares and prints them with code it has, instead of
// converting between two copies of the kernel's 25 counters and operstate
// values. The types are plain values mirroring the kernel's structs, so
// nothing of rtnetlink's behaviour comes with them. Everything else in Link
// is this package's or ifla's.
//
// # Debugging
//
// Requests and replies are read and written by this package itself, so
// the netlink package's NLDEBUG logging shows only the dial and Watch's
// notification socket. To see the traffic, capture it on an nlmon device
// (ip link add nlmon0 type nlmon; tcpdump -i nlmon0) or with
// strace -e trace=write,recvfrom.
//
// # Privileges and tests
//
// Creating and deleting links needs CAP_NET_ADMIN in the namespace's user
// namespace; reading does not. The integration tests (TestIntegration*)
// need root and a kernel with the AMT driver; without them they skip with
// the reason, and with AMTCTL_REQUIRE_KERNEL=1 (set by scripts/vm) that skip
// is a failure.
package amtlink
