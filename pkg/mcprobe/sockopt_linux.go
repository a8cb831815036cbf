//go:build linux

package mcprobe

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's socket structures that x/sys/unix does not define, with
// the kernel's layout on every architecture: a sockaddr_storage is
// pointer-aligned (include/uapi/linux/socket.h), and group_req and
// group_source_req (include/uapi/linux/in.h, RFC 3678) are what
// MCAST_JOIN_GROUP and MCAST_JOIN_SOURCE_GROUP take for both families.

type sockaddrStorage struct {
	_ [0]uintptr
	b [128]byte
}

type groupReq struct {
	ifindex uint32
	group   sockaddrStorage
}

type groupSourceReq struct {
	ifindex uint32
	group   sockaddrStorage
	source  sockaddrStorage
}

// mmsghdr is struct mmsghdr, one message of sendmmsg and recvmmsg.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// put writes a as a sockaddr_in or sockaddr_in6 (port 0, scope 0).
func (ss *sockaddrStorage) put(a netip.Addr) {
	if a.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&ss.b[0]))
		sa.Family = unix.AF_INET
		sa.Addr = a.As4()
		return
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&ss.b[0]))
	sa.Family = unix.AF_INET6
	sa.Addr = a.As16()
}

// setsockoptStruct sets a socket option whose value is the struct *v.
func setsockoptStruct[T any](fd, level, opt int, v *T) error {
	return unix.SetsockoptString(fd, level, opt, unsafe.String((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v)))
}

// joinOpt is the MCAST_* option for a join or leave, with or without a
// source.
func joinOpt(join, source bool) int {
	switch {
	case join && source:
		return unix.MCAST_JOIN_SOURCE_GROUP
	case join:
		return unix.MCAST_JOIN_GROUP
	case source:
		return unix.MCAST_LEAVE_SOURCE_GROUP
	default:
		return unix.MCAST_LEAVE_GROUP
	}
}

// membership joins or leaves group on ifindex, for source when it is
// valid, else for any source, on fd: the protocol-independent options of
// RFC 3678, which send IGMPv3 / MLDv2 reports (or older ones on a link
// where the querier asks for them).
func membership(fd int, join bool, ifindex int, group, source netip.Addr) error {
	level := unix.IPPROTO_IPV6
	if group.Is4() {
		level = unix.IPPROTO_IP
	}
	opt := joinOpt(join, source.IsValid())
	if source.IsValid() {
		r := groupSourceReq{ifindex: uint32(ifindex)}
		r.group.put(group)
		r.source.put(source)
		return setsockoptStruct(fd, level, opt, &r)
	}
	r := groupReq{ifindex: uint32(ifindex)}
	r.group.put(group)
	return setsockoptStruct(fd, level, opt, &r)
}

// multicastOptions sets the outgoing device (0: the routing table's
// choice), the TTL or hop limit (0: the kernel's default) and, when
// noLoop, turns off the loopback of a sender's own datagrams.
func multicastOptions(fd int, v4 bool, ifindex, ttl int, noLoop bool) error {
	level, ttlOpt, loopOpt := unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, unix.IPV6_MULTICAST_LOOP
	if v4 {
		level, ttlOpt, loopOpt = unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, unix.IP_MULTICAST_LOOP
	}
	if ifindex != 0 {
		var err error
		if v4 {
			err = unix.SetsockoptIPMreqn(fd, level, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)})
		} else {
			err = unix.SetsockoptInt(fd, level, unix.IPV6_MULTICAST_IF, ifindex)
		}
		if err != nil {
			return err
		}
	}
	if ttl != 0 {
		if err := unix.SetsockoptInt(fd, level, ttlOpt, ttl); err != nil {
			return err
		}
	}
	if noLoop {
		return unix.SetsockoptInt(fd, level, loopOpt, 0)
	}
	return nil
}

// sendmmsg sends the messages of ms on fd in one call and returns how many
// went.
func sendmmsg(fd int, ms []mmsghdr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&ms[0])), uintptr(len(ms)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

// recvmmsg reads up to len(ms) datagrams waiting on fd without blocking
// and returns how many it read; each message's n is the datagram's full
// length (MSG_TRUNC) even when its buffer was shorter.
func recvmmsg(fd int, ms []mmsghdr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&ms[0])), uintptr(len(ms)), unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
	return int(r), e
}
