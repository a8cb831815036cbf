//go:build linux

package mcprobe

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/socket"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// udpSocket creates a UDP socket for the family of addr in cfg's namespace,
// with SO_REUSEADDR (so that several receivers of one group and port can
// share a host), bound to addr, as a *net.UDPConn on Go's poller.
// A link-local IPv6 address (ff02::/16 included) is bound on the device
// with index zone, which the kernel requires for that scope.
func udpSocket(cfg *Config, addr netip.AddrPort, zone int) (*net.UDPConn, error) {
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
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	defer s.Close() // net.FilePacketConn holds a duplicate
	if err := s.SetsockoptInt(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return nil, fmt.Errorf("udp socket: SO_REUSEADDR: %w", err)
	}
	if err := s.Bind(sa); err != nil {
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	rc, err := s.SyscallConn()
	if err != nil {
		return nil, err
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
		return nil, err
	}
	if ferr != nil {
		return nil, fmt.Errorf("udp socket %s: %w", addr, ferr)
	}
	return pc.(*net.UDPConn), nil
}

// Receiver is a UDP socket bound to a group and port that joins the group
// on one device.
type Receiver struct {
	conn    *net.UDPConn
	group   netip.Addr
	ifindex int
	buf     []byte
}

// Listen opens a Receiver in cfg's namespace bound to group's address and
// port (so that only that group's datagrams reach it) for joins on the
// device with index ifindex. It does not join yet: call Join.
func Listen(cfg *Config, group netip.AddrPort, ifindex int) (*Receiver, error) {
	if !group.Addr().IsMulticast() {
		return nil, fmt.Errorf("listen %s: not a multicast group", group)
	}
	c, err := udpSocket(cfg, netip.AddrPortFrom(group.Addr().Unmap(), group.Port()), ifindex)
	if err != nil {
		return nil, err
	}
	return &Receiver{conn: c, group: group.Addr().Unmap(), ifindex: ifindex, buf: make([]byte, 65536)}, nil
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
	ifi := &net.Interface{Index: r.ifindex} // x/net uses the index alone
	g := &net.UDPAddr{IP: r.group.AsSlice()}
	var err error
	if r.group.Is4() {
		p := ipv4.NewPacketConn(r.conn)
		switch {
		case len(sources) == 0 && join:
			err = p.JoinGroup(ifi, g)
		case len(sources) == 0:
			err = p.LeaveGroup(ifi, g)
		}
		for _, s := range sources {
			sa := &net.UDPAddr{IP: s.Unmap().AsSlice()}
			if join {
				err = errors.Join(err, p.JoinSourceSpecificGroup(ifi, g, sa))
			} else {
				err = errors.Join(err, p.LeaveSourceSpecificGroup(ifi, g, sa))
			}
		}
	} else {
		p := ipv6.NewPacketConn(r.conn)
		switch {
		case len(sources) == 0 && join:
			err = p.JoinGroup(ifi, g)
		case len(sources) == 0:
			err = p.LeaveGroup(ifi, g)
		}
		for _, s := range sources {
			sa := &net.UDPAddr{IP: s.AsSlice()}
			if join {
				err = errors.Join(err, p.JoinSourceSpecificGroup(ifi, g, sa))
			} else {
				err = errors.Join(err, p.LeaveSourceSpecificGroup(ifi, g, sa))
			}
		}
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
// error matches errors.Is(err, os.ErrDeadlineExceeded).
func (r *Receiver) Read(deadline time.Time) (Datagram, error) {
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return Datagram{}, err
	}
	n, from, err := r.conn.ReadFromUDPAddrPort(r.buf)
	if err != nil {
		return Datagram{}, err
	}
	return Datagram{From: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), Payload: r.buf[:n], At: time.Now()}, nil
}

// SetReadBuffer sets the socket's receive buffer, so that a burst is not
// dropped while the reader is late: SO_RCVBUFFORCE when the caller has
// CAP_NET_ADMIN, else SO_RCVBUF, which the kernel caps at
// net.core.rmem_max.
func (r *Receiver) SetReadBuffer(bytes int) error {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
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
	dst  *net.UDPAddr
	src  netip.AddrPort
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
	c, err := udpSocket(cfg, netip.AddrPortFrom(from, 0), o.Ifindex)
	if err != nil {
		return nil, err
	}
	var ifi *net.Interface
	if o.Ifindex != 0 {
		ifi = &net.Interface{Index: o.Ifindex}
	}
	if g.Is4() {
		p := ipv4.NewPacketConn(c)
		if ifi != nil {
			err = p.SetMulticastInterface(ifi)
		}
		if o.TTL != 0 {
			err = errors.Join(err, p.SetMulticastTTL(o.TTL))
		}
		if o.NoLoopback {
			err = errors.Join(err, p.SetMulticastLoopback(false))
		}
	} else {
		p := ipv6.NewPacketConn(c)
		if ifi != nil {
			err = p.SetMulticastInterface(ifi)
		}
		if o.TTL != 0 {
			err = errors.Join(err, p.SetMulticastHopLimit(o.TTL))
		}
		if o.NoLoopback {
			err = errors.Join(err, p.SetMulticastLoopback(false))
		}
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("sender to %s: multicast options: %w", dst, err)
	}
	src, _ := netip.ParseAddrPort(c.LocalAddr().String())
	return &Sender{conn: c, dst: net.UDPAddrFromAddrPort(netip.AddrPortFrom(g, dst.Port())), src: src}, nil
}

// LocalAddr returns the address and port the sender is bound to.
func (s *Sender) LocalAddr() netip.AddrPort { return s.src }

// Write sends b as one datagram; it never blocks longer than 5 s.
func (s *Sender) Write(b []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := s.conn.WriteToUDP(b, s.dst); err != nil {
		return fmt.Errorf("send %d bytes to %s: %w", len(b), s.dst, err)
	}
	return nil
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }
