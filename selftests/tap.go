//go:build linux

package selftests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// amtPort is the IANA AMT port both ends use in these topologies.
const amtPort = 2268

// AMT message types (RFC 7450 §5.1).
const (
	amtMsgMembershipQuery  = 4
	amtMsgMembershipUpdate = 5
	amtMsgMulticastData    = 6
)

// tap sees every packet a device receives, below IP: multicast the host has
// not joined, and AMT-encapsulated data on a tunnel's underlay. It is how a
// case tells "the relay stopped sending" from "the listener's kernel
// dropped it".
type tap struct {
	ns       *netns
	dev      string
	outgoing bool // sees what dev sends instead of what it receives
	fd       int
	buf      []byte
	close    sync.Once
}

// newTap opens an AF_PACKET socket in ns bound to dev, receiving every
// protocol as L3 packets (SOCK_DGRAM: no link-layer header) that dev
// receives.
func newTap(ns *netns, dev string) (*tap, error) {
	return openTap(ns, dev, false)
}

// newOutgoingTap is newTap for the packets dev sends: on a gateway's
// underlay, the AMT messages the gateway sends to the relay.
func newOutgoingTap(ns *netns, dev string) (*tap, error) {
	return openTap(ns, dev, true)
}

func openTap(ns *netns, dev string, outgoing bool) (*tap, error) {
	idx, err := ns.index(dev)
	if err != nil {
		return nil, err
	}
	t := &tap{ns: ns, dev: dev, outgoing: outgoing, fd: -1, buf: make([]byte, 65536)}
	err = ns.Do(func() error {
		// Protocol 0: the socket receives nothing until bind gives it
		// ETH_P_ALL and dev together, so no frame of another device is
		// queued in between (packet(7)).
		var err error
		t.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: packet socket: %w", ns.name, err)
	}
	// A tap reads only while a case looks; a big buffer keeps what arrived
	// meanwhile (SO_RCVBUFFORCE needs CAP_NET_ADMIN, which we have).
	if err := unix.SetsockoptInt(t.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20); err != nil {
		unix.Close(t.fd)
		return nil, fmt.Errorf("%s: packet socket buffer: %w", ns.name, err)
	}
	if err := unix.Bind(t.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(idx)}); err != nil {
		unix.Close(t.fd)
		return nil, fmt.Errorf("%s: bind packet socket to %s: %w", ns.name, dev, err)
	}
	onSignal(t)
	return t, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Close closes the socket.
func (t *tap) Close() error {
	var err error
	t.close.Do(func() { err = unix.Close(t.fd) })
	return err
}

// udpPacket is what the tap decoded from one received packet: a UDP
// datagram, and when it arrived inside an AMT Multicast Data message, the
// datagram carried inside it.
type udpPacket struct {
	src, dst      netip.Addr
	sport, dport  uint16
	payload       []byte
	inner         *udpPacket // the tunnelled datagram of an AMT data message
	firstFragment bool       // a fragment with offset 0 (payload is partial)
	laterFragment bool       // a fragment with offset > 0 (no UDP header)
}

// next returns the next UDP packet the device received (or sent, for an
// outgoing tap), skipping everything that is not UDP, until deadline.
func (t *tap) next(deadline time.Time) (*udpPacket, error) {
	for {
		b, err := t.nextRaw(deadline)
		if err != nil {
			return nil, err
		}
		if p := parseUDP(b); p != nil {
			return p, nil
		}
	}
}

// Membership report and leave types (RFC 2236, RFC 3376, RFC 2710,
// RFC 3810).
const (
	igmpQuery    = 0x11 // IGMP Membership Query (General Query when its group is 0)
	mldQuery     = 130  // MLD Multicast Listener Query
	igmpV2Report = 0x16
	igmpV2Leave  = 0x17
	igmpV3Report = 0x22
	mldV1Report  = 131
	mldV1Done    = 132
	mldV2Report  = 143
)

// recordToInclude is CHANGE_TO_INCLUDE_MODE, an IGMPv3 / MLDv2 group
// record type (RFC 3376 §4.2.12, RFC 3810 §5.2.12); with no sources it is
// how a host in any-source (EXCLUDE {}) mode leaves the group.
const recordToInclude = 3

// membershipMsg is an IGMP or MLD message as a tap saw it.
type membershipMsg struct {
	src     netip.Addr
	typ     uint8        // IGMP type, or ICMPv6 type for MLD
	group   netip.Addr   // the group field of IGMPv1/v2 and MLDv1 messages
	records []netip.Addr // the groups of an IGMPv3 / MLDv2 report's records
	leaves  []netip.Addr // the groups of its TO_IN({}) records: left
	recs    []groupRecord
}

// groupRecord is one group record of an IGMPv3 / MLDv2 report.
type groupRecord struct {
	typ     uint8 // recordIsIn … recordBlock
	group   netip.Addr
	sources []netip.Addr
}

// Group record types (RFC 3376 §4.2.12, RFC 3810 §5.2.12).
const (
	recordIsIn  = 1 // MODE_IS_INCLUDE
	recordIsEx  = 2 // MODE_IS_EXCLUDE
	recordToEx  = 4 // CHANGE_TO_EXCLUDE_MODE
	recordAllow = 5 // ALLOW_NEW_SOURCES
	recordBlock = 6 // BLOCK_OLD_SOURCES
)

// includes reports whether r asks for sources in include mode (IS_IN,
// TO_IN or ALLOW): only the sources it names.
func (r groupRecord) includes() bool {
	return r.typ == recordIsIn || r.typ == recordToInclude || r.typ == recordAllow
}

// String is r as RFC 3376 writes it, e.g. "ALLOW(232.1.1.3; {172.17.0.2})".
func (r groupRecord) String() string {
	name := map[uint8]string{recordIsIn: "IS_IN", recordIsEx: "IS_EX", recordToInclude: "TO_IN", recordToEx: "TO_EX",
		recordAllow: "ALLOW", recordBlock: "BLOCK"}[r.typ]
	if name == "" {
		name = fmt.Sprintf("type%d", r.typ)
	}
	srcs := make([]string, len(r.sources))
	for i, a := range r.sources {
		srcs[i] = a.String()
	}
	return fmt.Sprintf("%s(%s; {%s})", name, r.group, strings.Join(srcs, ","))
}

// leaving reports whether m is the sender leaving group: an IGMPv2 leave,
// an MLDv1 Done, or an IGMPv3 / MLDv2 report with a TO_IN({}) record.
func (m membershipMsg) leaving(group netip.Addr) bool {
	if m.typ == igmpV2Leave || m.typ == mldV1Done {
		return m.group == group
	}
	return slices.Contains(m.leaves, group)
}

// parseMembership decodes an IPv4 packet carrying IGMP, or an IPv6 packet
// carrying MLD after its hop-by-hop (router alert) header.
func parseMembership(b []byte) (membershipMsg, bool) {
	if len(b) < 1 {
		return membershipMsg{}, false
	}
	var m membershipMsg
	var g []byte
	addrLen := 4
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 || b[9] != unix.IPPROTO_IGMP {
			return m, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl+8 {
			return m, false
		}
		m.src = netip.AddrFrom4([4]byte(b[12:16]))
		g = b[ihl:]
		m.group = netip.AddrFrom4([4]byte(g[4:8]))
	case 6:
		if len(b) < 40 {
			return m, false
		}
		m.src = netip.AddrFrom16([16]byte(b[8:24]))
		next, rest := b[6], b[40:]
		if next == 0 { // hop-by-hop options
			if len(rest) < 8 || len(rest) < (int(rest[1])+1)*8 {
				return m, false
			}
			next, rest = rest[0], rest[(int(rest[1])+1)*8:]
		}
		if next != unix.IPPROTO_ICMPV6 || len(rest) < 8 {
			return m, false
		}
		g = rest
		addrLen = 16
		if len(g) >= 24 {
			m.group = netip.AddrFrom16([16]byte(g[8:24]))
		}
	default:
		return m, false
	}
	m.typ = g[0]
	if m.typ != igmpV3Report && m.typ != mldV2Report {
		return m, true
	}
	// v3/v2 reports: 4 bytes of type/reserved/checksum, 2 reserved, 2 count.
	n := int(binary.BigEndian.Uint16(g[6:8]))
	rec := g[8:]
	for i := 0; i < n && len(rec) >= 4+addrLen; i++ {
		auxWords, nsrcs := int(rec[1]), int(binary.BigEndian.Uint16(rec[2:4]))
		var grp netip.Addr
		if addrLen == 4 {
			grp = netip.AddrFrom4([4]byte(rec[4:8]))
		} else {
			grp = netip.AddrFrom16([16]byte(rec[4:20]))
		}
		m.records = append(m.records, grp)
		if rec[0] == recordToInclude && nsrcs == 0 {
			m.leaves = append(m.leaves, grp)
		}
		skip := 4 + addrLen + addrLen*nsrcs + 4*auxWords
		if len(rec) < skip {
			break
		}
		gr := groupRecord{typ: rec[0], group: grp}
		for j := 0; j < nsrcs; j++ {
			a := rec[4+addrLen*(j+1):]
			if addrLen == 4 {
				gr.sources = append(gr.sources, netip.AddrFrom4([4]byte(a[:4])))
			} else {
				gr.sources = append(gr.sources, netip.AddrFrom16([16]byte(a[:16])))
			}
		}
		m.recs = append(m.recs, gr)
		rec = rec[skip:]
	}
	return m, true
}

// nextRaw returns the next L3 packet the device received (or, for an
// outgoing tap, sent), until deadline. The slice is valid until the next
// call.
func (t *tap) nextRaw(deadline time.Time) ([]byte, error) {
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, os.ErrDeadlineExceeded
		}
		fds := []unix.PollFd{{Fd: int32(t.fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(wait.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: poll tap on %s: %w", t.ns.name, t.dev, err)
		}
		if n == 0 {
			continue // the loop re-checks the deadline
		}
		m, from, err := unix.Recvfrom(t.fd, t.buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read tap on %s: %w", t.ns.name, t.dev, err)
		}
		ll, ok := from.(*unix.SockaddrLinklayer)
		if out := ok && ll.Pkttype == unix.PACKET_OUTGOING; out != t.outgoing {
			continue
		}
		return t.buf[:m], nil
	}
}

// parseUDP decodes an IPv4 or IPv6 packet carrying UDP, and the datagram
// inside an AMT Multicast Data message. It returns nil for anything else.
func parseUDP(b []byte) *udpPacket {
	if len(b) < 1 {
		return nil
	}
	p := &udpPacket{}
	var l4 []byte
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return nil
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl || b[9] != unix.IPPROTO_UDP {
			return nil
		}
		p.src = netip.AddrFrom4([4]byte(b[12:16]))
		p.dst = netip.AddrFrom4([4]byte(b[16:20]))
		frag := binary.BigEndian.Uint16(b[6:8])
		if frag&0x1fff != 0 {
			p.laterFragment = true
			return p
		}
		p.firstFragment = frag&0x2000 != 0 // more fragments
		l4 = b[ihl:]
	case 6:
		if len(b) < 40 {
			return nil
		}
		p.src = netip.AddrFrom16([16]byte(b[8:24]))
		p.dst = netip.AddrFrom16([16]byte(b[24:40]))
		next, rest := b[6], b[40:]
		if next == unix.IPPROTO_FRAGMENT {
			if len(rest) < 8 {
				return nil
			}
			off := binary.BigEndian.Uint16(rest[2:4]) &^ 7
			if off != 0 {
				p.laterFragment = true
				return p
			}
			p.firstFragment = true
			next, rest = rest[0], rest[8:]
		}
		if next != unix.IPPROTO_UDP {
			return nil
		}
		l4 = rest
	default:
		return nil
	}
	if len(l4) < 8 {
		return nil
	}
	p.sport = binary.BigEndian.Uint16(l4[0:2])
	p.dport = binary.BigEndian.Uint16(l4[2:4])
	p.payload = l4[8:]
	// RFC 7450 §5.1.6: Multicast Data starts with Version (high nibble, 0)
	// and Type (low nibble, 6), one reserved byte, then the IP packet.
	if p.sport == amtPort && len(p.payload) > 2 && p.payload[0]&0x0f == amtMsgMulticastData && p.payload[0]>>4 == 0 {
		p.inner = parseUDP(p.payload[2:])
	}
	return p
}

// parseMembershipUpdate decodes an AMT Membership Update (RFC 7450 §5.1.5),
// as a gateway sends it to its relay, and the IGMP or MLD message it
// carries: after the version and type, a reserved byte, the 6-byte
// response MAC and the 4-byte request nonce comes the listener's IP packet
// (amt.c amt_send_membership_update, struct amt_header_membership_update).
func parseMembershipUpdate(b []byte) (membershipMsg, bool) {
	p := parseUDP(b)
	if p == nil || p.dport != amtPort || len(p.payload) < 12 || p.payload[0] != amtMsgMembershipUpdate {
		return membershipMsg{}, false
	}
	return parseMembership(p.payload[12:])
}

// parseMembershipQuery decodes an AMT Membership Query (RFC 7450 §5.1.4), as
// a relay sends it to a gateway, and the IGMP or MLD query it carries: after
// the version and type, the flags byte, the 6-byte response MAC and the
// 4-byte request nonce comes the relay's IP packet (amt.c
// amt_send_membership_query, struct amt_header_membership_query).
func parseMembershipQuery(b []byte) (membershipMsg, bool) {
	p := parseUDP(b)
	if p == nil || p.sport != amtPort || len(p.payload) < 12 || p.payload[0] != amtMsgMembershipQuery {
		return membershipMsg{}, false
	}
	return parseMembership(p.payload[12:])
}
