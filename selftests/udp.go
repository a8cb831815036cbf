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

	"github.com/amtctl/amtctl/pkg/mcprobe"
	"golang.org/x/sys/unix"
)

// sourceHops is the TTL / hop limit the multicast source sets on its
// datagrams. amt.sh sends with nc's default of 1 and has iptables on the relay
// raise it to 2, because the relay's multicast forwarding needs more than 1
// and spends one. Setting it at the source needs no netfilter.
const sourceHops = 4

// reuseAddr lets several sockets in one namespace bind the same port.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}

// listenUDP opens a UDP socket bound to addr inside ns, for a unicast
// server of a case (the multicast senders and receivers are mcprobe's).
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
// address and interface, with TTL / hop limit sourceHops: an
// mcprobe.Sender created in the namespace.
type sender struct {
	ns  *netns
	s   *mcprobe.Sender
	dst netip.AddrPort
	src netip.Addr
}

// newSender opens a socket in ns bound to src (port chosen by the kernel),
// sending to dst out of device dev, without loopback.
func newSender(ns *netns, src netip.Addr, dev string, dst netip.AddrPort) (*sender, error) {
	ifi, err := ns.iface(dev)
	if err != nil {
		return nil, err
	}
	s, err := mcprobe.NewSender(&mcprobe.Config{NetNS: ns.fd}, dst, mcprobe.SenderOptions{
		From: src, Ifindex: ifi.Index, TTL: sourceHops, NoLoopback: true,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: sender %s: %w", ns.name, src, err)
	}
	return &sender{ns: ns, s: s, dst: dst, src: src}, nil
}

// send sends one datagram. It never blocks longer than 5s.
func (s *sender) send(b []byte) error {
	if err := s.s.Write(b); err != nil {
		return fmt.Errorf("%s: from %s: %w", s.ns.name, s.src, err)
	}
	return nil
}

// Close closes the socket.
func (s *sender) Close() error { return s.s.Close() }

// receiver is an mcprobe.Receiver in a namespace, bound to a group's port,
// that has joined the group on one device.
type receiver struct {
	ns    *netns
	r     *mcprobe.Receiver
	dev   string
	group netip.Addr
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
	r, err := mcprobe.Listen(&mcprobe.Config{NetNS: ns.fd}, group, ifi.Index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ns.name, err)
	}
	rc := &receiver{ns: ns, r: r, dev: dev, group: group.Addr()}
	if err := r.Join(sources...); err != nil {
		r.Close()
		return nil, fmt.Errorf("%s: %s: %w", ns.name, dev, err)
	}
	return rc, nil
}

// leave leaves the group (any-source join).
func (r *receiver) leave() error {
	if err := r.r.Leave(); err != nil {
		return fmt.Errorf("%s: %s: %w", r.ns.name, r.dev, err)
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
	d, err := r.r.Read(deadline)
	if err != nil {
		return datagram{}, err
	}
	return datagram{from: d.From, payload: append([]byte(nil), d.Payload...)}, nil
}

// Close closes the socket, leaving its groups.
func (r *receiver) Close() error { return r.r.Close() }

// isTimeout reports whether err is a read deadline expiring.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
