//go:build linux

package selftests

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// sourceHops is the TTL / hop limit the multicast source sets on its
// datagrams. amt.sh sends with nc's default of 1 and has iptables on the relay
// raise it to 2, because the relay's multicast forwarding needs more than 1
// and spends one. Setting it at the source needs no netfilter.
const sourceHops = 4

// reuseAddr lets several receivers in one namespace bind the same port.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// listenUDP opens a UDP socket bound to addr inside ns.
func listenUDP(ns *netns, addr netip.AddrPort) (*net.UDPConn, error) {
	network := "udp4"
	if addr.Addr().Is6() {
		network = "udp6"
	}
	var pc net.PacketConn
	err := ns.Do(func() error {
		var err error
		lc := net.ListenConfig{Control: reuseAddr}
		pc, err = lc.ListenPacket(context.Background(), network, addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: listen %s %s: %w", ns.name, network, addr, err)
	}
	return pc.(*net.UDPConn), nil
}

// sender sends UDP datagrams to a multicast group from a fixed source
// address and interface, with TTL / hop limit sourceHops.
type sender struct {
	ns   *netns
	conn *net.UDPConn
	dst  *net.UDPAddr
	src  netip.Addr
}

// newSender opens a socket in ns bound to src (port chosen by the kernel),
// sending to dst out of device dev.
func newSender(ns *netns, src netip.Addr, dev string, dst netip.AddrPort) (*sender, error) {
	ifi, err := ns.iface(dev)
	if err != nil {
		return nil, err
	}
	c, err := listenUDP(ns, netip.AddrPortFrom(src, 0))
	if err != nil {
		return nil, err
	}
	if src.Is4() {
		p := ipv4.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastTTL(sourceHops), p.SetMulticastLoopback(false))
	} else {
		p := ipv6.NewPacketConn(c)
		err = errors.Join(p.SetMulticastInterface(ifi), p.SetMulticastHopLimit(sourceHops), p.SetMulticastLoopback(false))
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: multicast options on the sender %s: %w", ns.name, src, err)
	}
	return &sender{ns: ns, conn: c, dst: net.UDPAddrFromAddrPort(dst), src: src}, nil
}

// send sends one datagram. It never blocks longer than 5s.
func (s *sender) send(b []byte) error {
	if err := s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := s.conn.WriteToUDP(b, s.dst); err != nil {
		return fmt.Errorf("%s: send %d bytes from %s to %s: %w", s.ns.name, len(b), s.src, s.dst, err)
	}
	return nil
}

// Close closes the socket.
func (s *sender) Close() error { return s.conn.Close() }

// receiver is a UDP socket in a namespace, bound to a group's port, that
// has joined the group on one device.
type receiver struct {
	ns    *netns
	conn  *net.UDPConn
	ifi   *net.Interface
	group netip.Addr
	buf   []byte
}

// newReceiver binds group:port in ns (binding the group address means only
// that group's datagrams reach this socket) and joins the group on dev.
// With sources, it joins source-specifically (IGMPv3 / MLDv2 INCLUDE);
// without, for any source.
func newReceiver(ns *netns, dev string, group netip.AddrPort, sources ...netip.Addr) (*receiver, error) {
	ifi, err := ns.iface(dev)
	if err != nil {
		return nil, err
	}
	c, err := listenUDP(ns, group)
	if err != nil {
		return nil, err
	}
	r := &receiver{ns: ns, conn: c, ifi: ifi, group: group.Addr(), buf: make([]byte, 65536)}
	if err := r.join(sources...); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// join joins the receiver's group, for any source or for the given ones.
func (r *receiver) join(sources ...netip.Addr) error {
	g := &net.UDPAddr{IP: r.group.AsSlice()}
	var err error
	switch {
	case r.group.Is4() && len(sources) == 0:
		err = ipv4.NewPacketConn(r.conn).JoinGroup(r.ifi, g)
	case r.group.Is4():
		p := ipv4.NewPacketConn(r.conn)
		for _, s := range sources {
			err = errors.Join(err, p.JoinSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: s.AsSlice()}))
		}
	case len(sources) == 0:
		err = ipv6.NewPacketConn(r.conn).JoinGroup(r.ifi, g)
	default:
		p := ipv6.NewPacketConn(r.conn)
		for _, s := range sources {
			err = errors.Join(err, p.JoinSourceSpecificGroup(r.ifi, g, &net.UDPAddr{IP: s.AsSlice()}))
		}
	}
	if err != nil {
		return fmt.Errorf("%s: join %s sources %v on %s: %w", r.ns.name, r.group, sources, r.ifi.Name, err)
	}
	return nil
}

// leave leaves the group (any-source join).
func (r *receiver) leave() error {
	g := &net.UDPAddr{IP: r.group.AsSlice()}
	var err error
	if r.group.Is4() {
		err = ipv4.NewPacketConn(r.conn).LeaveGroup(r.ifi, g)
	} else {
		err = ipv6.NewPacketConn(r.conn).LeaveGroup(r.ifi, g)
	}
	if err != nil {
		return fmt.Errorf("%s: leave %s on %s: %w", r.ns.name, r.group, r.ifi.Name, err)
	}
	return nil
}

// datagram is one received datagram.
type datagram struct {
	from    netip.AddrPort
	payload []byte
}

// recv waits until deadline for one datagram. A timeout returns an error
// for which os.IsTimeout / errors.Is(err, os.ErrDeadlineExceeded) holds.
func (r *receiver) recv(deadline time.Time) (datagram, error) {
	if err := r.conn.SetReadDeadline(deadline); err != nil {
		return datagram{}, err
	}
	n, from, err := r.conn.ReadFromUDPAddrPort(r.buf)
	if err != nil {
		return datagram{}, err
	}
	return datagram{from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), payload: append([]byte(nil), r.buf[:n]...)}, nil
}

// Close closes the socket, leaving its groups.
func (r *receiver) Close() error { return r.conn.Close() }

// isTimeout reports whether err is a read deadline expiring.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
