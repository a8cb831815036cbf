//go:build linux

package cli

import (
	"context"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// nsDialer returns a driad.Resolver.Dial that opens its sockets inside the
// network namespace held by fd, so that a DNS lookup for -n NETNS goes out
// through that namespace's interfaces and routes. The socket is created
// by mdlayher/socket (socket.Config.NetNS) on a locked OS thread switched
// into the namespace and back, as the netlink package does for amtlink's
// sockets (STYLE §8); it keeps the namespace for its life. fd must stay
// open while the resolver is used.
func nsDialer(fd int) func(ctx context.Context, network, address string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return nil, fmt.Errorf("dial %s %s: not an IP:port", network, address)
		}
		typ := unix.SOCK_DGRAM
		if network == "tcp" {
			typ = unix.SOCK_STREAM
		}
		domain := unix.AF_INET
		var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().Unmap().As4()}
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			domain = unix.AF_INET6
			sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
		}
		c, err := socket.Socket(domain, typ, 0, "dns-"+network, &socket.Config{NetNS: fd})
		if err != nil {
			return nil, fmt.Errorf("dial %s %s in the namespace: %w", network, address, err)
		}
		if _, err := c.Connect(ctx, sa); err != nil {
			c.Close()
			return nil, fmt.Errorf("dial %s %s: %w", network, address, err)
		}
		return &nsConn{Conn: c, network: network, remote: ap}, nil
	}
}

// nsConn is a connected socket.Conn as a net.Conn.
type nsConn struct {
	*socket.Conn
	network string
	remote  netip.AddrPort
}

func (c *nsConn) LocalAddr() net.Addr {
	sa, err := c.Getsockname()
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return addrOf(c.network, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)))
	case *unix.SockaddrInet6:
		return addrOf(c.network, netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)))
	}
	return nil
}

func (c *nsConn) RemoteAddr() net.Addr { return addrOf(c.network, c.remote) }

func addrOf(network string, ap netip.AddrPort) net.Addr {
	if network == "tcp" {
		return net.TCPAddrFromAddrPort(ap)
	}
	return net.UDPAddrFromAddrPort(ap)
}
