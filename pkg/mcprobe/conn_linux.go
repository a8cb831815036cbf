//go:build linux

package mcprobe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// udpSocket creates a UDP socket for the family of addr in cfg's namespace,
// with SO_REUSEADDR (so that several receivers of one group and port can
// share a host), bound to addr, as a *net.UDPConn on Go's poller with the
// raw connection its socket options and batched reads and writes go through.
// A link-local IPv6 address (ff02::/16 included) is bound on the device
// with index zone, which the kernel requires for that scope.
func udpSocket(cfg *Config, addr netip.AddrPort, zone int) (*net.UDPConn, syscall.RawConn, error) {
	family := unix.AF_INET6
	sa6 := &unix.SockaddrInet6{Port: int(addr.Port()), Addr: addr.Addr().As16()}
	if a := addr.Addr(); a.IsLinkLocalMulticast() || a.IsLinkLocalUnicast() {
		sa6.ZoneId = uint32(zone)
	}
	var sa unix.Sockaddr = sa6
	if addr.Addr().Is4() {
		family = unix.AF_INET
		sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}
	}
	var sc socket.Config
	if cfg != nil {
		sc.NetNS = cfg.NetNS
	}
	// mdlayher/socket creates the socket on a locked thread switched into
	// the namespace and switches it back before releasing it.
	s, err := socket.Socket(family, unix.SOCK_DGRAM, unix.IPPROTO_UDP, "udp", &sc)
	if err != nil {
		return nil, nil, fmt.Errorf("udp socket: %w", err)
	}
	defer s.Close() // net.FilePacketConn holds a duplicate
	if err := s.SetsockoptInt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, nil, fmt.Errorf("udp socket: SO_REUSEADDR: %w", err)
	}
	if err := s.Bind(sa); err != nil {
		return nil, nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	rc, err := s.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	var pc net.PacketConn
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		// A file of its own for a duplicate: an *os.File closes its
		// descriptor when it is collected, and s owns fd.
		dup, err := unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			ferr = fmt.Errorf("dup: %w", err)
			return
		}
		f := os.NewFile(uintptr(dup), "udp "+addr.String())
		defer f.Close()
		pc, ferr = net.FilePacketConn(f) // duplicates dup once more
	}); err != nil {
		return nil, nil, err
	}
	if ferr != nil {
		return nil, nil, fmt.Errorf("udp socket %s: %w", addr, ferr)
	}
	c := pc.(*net.UDPConn)
	crc, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, crc, nil
}

// readSlot is the buffer of one datagram of a read batch: room for the
// largest UDP payload of either family.
const readSlot = 65536

// maxReadBatch is how many datagrams one recvmmsg reads at most; a
// Receiver starts with one and doubles up to this while its batches come
// back full, so an idle one holds one slot.
const maxReadBatch = 16

// Receiver is a UDP socket bound to a group and port that joins the group
// on one device.
type Receiver struct {
	conn    *net.UDPConn
	rc      syscall.RawConn
	group   netip.Addr
	ifindex int

	// The last batch recvmmsg read: got datagrams, next the one Read
	// returns next, at when the batch was read.
	bufs  [][]byte
	names []unix.RawSockaddrInet6 // room for either family's sockaddr
	iovs  []unix.Iovec
	ms    []mmsghdr
	got   int
	next  int
	at    time.Time
}

// Listen opens a Receiver in cfg's namespace bound to group's address and
// port (so that only that group's datagrams reach it) for joins on the
// device with index ifindex. It does not join yet: call Join.
func Listen(cfg *Config, group netip.AddrPort, ifindex int) (*Receiver, error) {
	if !group.Addr().IsMulticast() {
		return nil, fmt.Errorf("listen %s: not a multicast group", group)
	}
	c, rc, err := udpSocket(cfg, netip.AddrPortFrom(group.Addr().Unmap(), group.Port()), ifindex)
	if err != nil {
		return nil, err
	}
	r := &Receiver{conn: c, rc: rc, group: group.Addr().Unmap(), ifindex: ifindex}
	r.grow(1)
	return r, nil
}

// grow makes room for n datagrams per read.
func (r *Receiver) grow(n int) {
	for len(r.bufs) < n {
		r.bufs = append(r.bufs, make([]byte, readSlot))
	}
	r.names = make([]unix.RawSockaddrInet6, n)
	r.iovs = make([]unix.Iovec, n)
	r.ms = make([]mmsghdr, n)
	for i := range r.ms {
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(readSlot)
		r.ms[i].hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.ms[i].hdr.Iov = &r.iovs[i]
		r.ms[i].hdr.SetIovlen(1)
	}
}

// Group returns the receiver's group.
func (r *Receiver) Group() netip.Addr { return r.group }

// Join joins the group for the given sources (IGMPv3 / MLDv2 INCLUDE,
// MCAST_JOIN_SOURCE_GROUP), or for any source without sources
// (MCAST_JOIN_GROUP). The kernel sends the membership report.
func (r *Receiver) Join(sources ...netip.Addr) error {
	return r.membership(true, sources)
}

// Leave leaves what Join joined, for the same sources.
func (r *Receiver) Leave(sources ...netip.Addr) error {
	return r.membership(false, sources)
}

func (r *Receiver) membership(join bool, sources []netip.Addr) error {
	var err error
	if cerr := r.rc.Control(func(fd uintptr) {
		if len(sources) == 0 {
			if serr := membership(int(fd), join, r.ifindex, r.group, netip.Addr{}); serr != nil {
				err = os.NewSyscallError("setsockopt", serr)
			}
		}
		for _, s := range sources {
			if s = s.Unmap(); s.Is4() != r.group.Is4() {
				err = errors.Join(err, fmt.Errorf("source %s: not of the group's IP version", s))
				continue
			}
			if serr := membership(int(fd), join, r.ifindex, r.group, s); serr != nil {
				err = errors.Join(err, os.NewSyscallError("setsockopt", serr))
			}
		}
	}); cerr != nil {
		err = cerr
	}
	if err != nil {
		op := "join"
		if !join {
			op = "leave"
		}
		if len(sources) == 0 {
			return fmt.Errorf("%s %s (any source) on ifindex %d: %w", op, r.group, r.ifindex, err)
		}
		return fmt.Errorf("%s %s sources %v on ifindex %d: %w", op, r.group, sources, r.ifindex, err)
	}
	return nil
}

// Read waits until deadline for one datagram. When the deadline passes the
// error matches errors.Is(err, os.ErrDeadlineExceeded). It reads the
// datagrams waiting on the socket in one batch (recvmmsg) and returns them
// one by one before it reads again; it is for one goroutine at a time.
func (r *Receiver) Read(deadline time.Time) (Datagram, error) {
	if r.next < r.got {
		r.next++
		return r.datagram(r.next - 1), nil
	}
	if r.got == len(r.ms) && r.got < maxReadBatch {
		r.grow(min(2*r.got, maxReadBatch)) // the last batch was full: more were probably waiting
	}
	r.got, r.next = 0, 0
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return Datagram{}, err
	}
	var n int
	var errno unix.Errno
	if err := r.rc.Read(func(fd uintptr) bool {
		for i := range r.ms {
			r.ms[i].hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		}
		n, errno = recvmmsg(int(fd), r.ms)
		return errno != unix.EAGAIN && errno != unix.EINTR
	}); err != nil {
		return Datagram{}, err
	}
	if errno != 0 {
		return Datagram{}, fmt.Errorf("receive on %s: %w", r.group, os.NewSyscallError("recvmmsg", errno))
	}
	r.got, r.next, r.at = n, 1, time.Now()
	return r.datagram(0), nil
}

// datagram returns datagram i of the batch.
func (r *Receiver) datagram(i int) Datagram {
	var from netip.AddrPort
	switch sa := &r.names[i]; sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port))
	}
	n := min(int(r.ms[i].n), readSlot)
	return Datagram{From: from, Payload: r.bufs[i][:n], At: r.at}
}

// ntohs turns a port as a sockaddr holds it (network order) into a number,
// and a number into what a sockaddr holds.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// SetReadBuffer sets the socket's receive buffer, so that a burst is not
// dropped while the reader is late: SO_RCVBUFFORCE when the caller has
// CAP_NET_ADMIN, else SO_RCVBUF, which the kernel caps at
// net.core.rmem_max.
func (r *Receiver) SetReadBuffer(bytes int) error {
	var serr error
	if err := r.rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes)
	}); err != nil {
		return err
	}
	if serr == nil {
		return nil
	}
	return r.conn.SetReadBuffer(bytes)
}

// Close closes the socket, which leaves every group it joined.
func (r *Receiver) Close() error { return r.conn.Close() }

// Sender sends UDP datagrams to one group and port.
type Sender struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	dst  netip.AddrPort
	src  netip.AddrPort

	mu   sync.Mutex // the batch below, for one WriteBatch at a time
	name unix.RawSockaddrInet6
	nlen uint32
	iovs []unix.Iovec
	ms   []mmsghdr
	one  [1][]byte
}

// NewSender opens a Sender in cfg's namespace to dst with the options in o.
func NewSender(cfg *Config, dst netip.AddrPort, o SenderOptions) (*Sender, error) {
	g := dst.Addr().Unmap()
	if !g.IsMulticast() {
		return nil, fmt.Errorf("sender to %s: not a multicast group", dst)
	}
	from := o.From.Unmap()
	if !from.IsValid() {
		from = netip.IPv4Unspecified()
		if g.Is6() {
			from = netip.IPv6Unspecified()
		}
	}
	if from.Is4() != g.Is4() {
		return nil, fmt.Errorf("sender from %s to %s: the source and the group are of different IP versions", from, g)
	}
	c, rc, err := udpSocket(cfg, netip.AddrPortFrom(from, 0), o.Ifindex)
	if err != nil {
		return nil, err
	}
	var oerr error
	if err := rc.Control(func(fd uintptr) {
		oerr = multicastOptions(int(fd), g.Is4(), o.Ifindex, o.TTL, o.NoLoopback)
	}); err != nil {
		oerr = err
	}
	if oerr != nil {
		c.Close()
		return nil, fmt.Errorf("sender to %s: multicast options: %w", dst, os.NewSyscallError("setsockopt", oerr))
	}
	src, _ := netip.ParseAddrPort(c.LocalAddr().String())
	s := &Sender{conn: c, rc: rc, dst: netip.AddrPortFrom(g, dst.Port()), src: src}
	if g.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.name))
		sa.Family, sa.Port, sa.Addr = unix.AF_INET, ntohs(dst.Port()), g.As4()
		s.nlen = unix.SizeofSockaddrInet4
	} else {
		s.name.Family, s.name.Port, s.name.Addr = unix.AF_INET6, ntohs(dst.Port()), g.As16()
		s.nlen = unix.SizeofSockaddrInet6
	}
	return s, nil
}

// LocalAddr returns the address and port the sender is bound to.
func (s *Sender) LocalAddr() netip.AddrPort { return s.src }

// Write sends b as one datagram; it never blocks longer than 5 s.
func (s *Sender) Write(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.one[0] = b
	_, err := s.writeBatch(s.one[:])
	s.one[0] = nil
	return err
}

// WriteBatch sends each of bs as one datagram, as many as it can in each
// system call (sendmmsg), and returns how many were sent: all of them, or
// those before the first that failed, with the error. It never blocks
// longer than 5 s.
func (s *Sender) WriteBatch(bs [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeBatch(bs)
}

func (s *Sender) writeBatch(bs [][]byte) (int, error) {
	if len(bs) == 0 {
		return 0, nil
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return 0, err
	}
	if len(s.ms) < len(bs) {
		s.ms, s.iovs = make([]mmsghdr, len(bs)), make([]unix.Iovec, len(bs))
	}
	for i, b := range bs {
		s.iovs[i] = unix.Iovec{}
		if len(b) > 0 {
			s.iovs[i].Base = &b[0]
		}
		s.iovs[i].SetLen(len(b))
		s.ms[i] = mmsghdr{}
		s.ms[i].hdr.Name = (*byte)(unsafe.Pointer(&s.name))
		s.ms[i].hdr.Namelen = s.nlen
		s.ms[i].hdr.Iov = &s.iovs[i]
		s.ms[i].hdr.SetIovlen(1)
	}
	sent := 0
	for sent < len(bs) {
		var n int
		var errno unix.Errno
		if err := s.rc.Write(func(fd uintptr) bool {
			n, errno = sendmmsg(int(fd), s.ms[sent:len(bs)])
			return errno != unix.EAGAIN && errno != unix.EINTR
		}); err != nil {
			return sent, fmt.Errorf("send %d bytes to %s: %w", len(bs[sent]), s.dst, err)
		}
		if errno != 0 {
			return sent, fmt.Errorf("send %d bytes to %s: %w", len(bs[sent]), s.dst, os.NewSyscallError("sendmmsg", errno))
		}
		sent += n
	}
	for i := range bs {
		s.iovs[i].Base = nil // keep no caller's buffer alive
	}
	return sent, nil
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }
