package mcprobe

import (
	"net/netip"
	"time"
)

// Config says where the sockets of [Listen] and [NewSender] are created.
type Config struct {
	// NetNS is a descriptor of the network namespace to create the
	// socket in (as amtlink.NetNS.FD gives it); 0 means the caller's
	// namespace. The socket keeps its namespace: the descriptor may be
	// closed once the socket is made.
	NetNS int
}

// Datagram is one datagram a [Receiver] read.
type Datagram struct {
	From netip.AddrPort // the sender, IPv4 addresses unmapped
	// Payload is the UDP payload. It is valid until the next Read.
	Payload []byte
	// At is when the datagram was read from the socket: Read reads what
	// is waiting in one batch, and a batch's datagrams share its time.
	At time.Time
}

// SenderOptions are the multicast options of a [Sender]; the zero value
// sends from the address and out of the device the routing table picks,
// with the kernel's default TTL (1), looped back to the sender's host.
type SenderOptions struct {
	// From is the source address to bind; the zero Addr lets the kernel
	// choose.
	From netip.Addr
	// Ifindex is the device to send out of (IP_MULTICAST_IF,
	// IPV6_MULTICAST_IF); 0 lets the routing table choose.
	Ifindex int
	// TTL is the TTL (IPv4) or hop limit (IPv6); 0 keeps the kernel's
	// default of 1, which a multicast router such as an AMT relay does not
	// forward.
	TTL int
	// NoLoopback stops the host's own sockets from receiving what it
	// sends (IP_MULTICAST_LOOP 0).
	NoLoopback bool
}
