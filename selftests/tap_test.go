//go:build linux

package selftests

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// mkIPv4 builds an IPv4 header (no options unless opts) around payload.
func mkIPv4(proto byte, src, dst string, opts, payload []byte) []byte {
	ihl := 20 + len(opts)
	b := make([]byte, ihl, ihl+len(payload))
	b[0] = 0x40 | byte(ihl/4)
	binary.BigEndian.PutUint16(b[2:4], uint16(ihl+len(payload)))
	b[8], b[9] = 1, proto
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	copy(b[20:], opts)
	return append(b, payload...)
}

// mkIPv6 builds an IPv6 header around payload; hbh adds a router-alert
// hop-by-hop header first.
func mkIPv6(next byte, src, dst string, hbh bool, payload []byte) []byte {
	b := make([]byte, 40)
	b[0] = 0x60
	b[6], b[7] = next, 1
	s, d := netip.MustParseAddr(src).As16(), netip.MustParseAddr(dst).As16()
	copy(b[8:24], s[:])
	copy(b[24:40], d[:])
	if hbh {
		b[6] = 0
		b = append(b, next, 0, 5, 2, 0, 0, 1, 0) // router alert, PadN
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
	return b
}

func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:2], sport)
	binary.BigEndian.PutUint16(b[2:4], dport)
	binary.BigEndian.PutUint16(b[4:6], uint16(8+len(payload)))
	return append(b, payload...)
}

func TestParseUDPAMTData(t *testing.T) {
	inner := mkIPv4(17, "172.17.0.3", "232.1.1.3", nil, udp(40000, 4113, []byte("hello")))
	amt := append([]byte{0x06, 0x00}, inner...) // version 0, type 6 (Multicast Data), reserved
	outer := mkIPv4(17, "10.0.0.2", "10.0.0.1", nil, udp(amtPort, amtPort, amt))
	p := parseUDP(outer)
	if p == nil || p.inner == nil {
		t.Fatalf("parseUDP(AMT data) = %+v, want a datagram with an inner one", p)
	}
	if got, want := p.inner.src, netip.MustParseAddr("172.17.0.3"); got != want {
		t.Errorf("inner src = %v, want %v", got, want)
	}
	if p.inner.dport != 4113 || string(p.inner.payload) != "hello" {
		t.Errorf("inner = port %d payload %q, want 4113 %q", p.inner.dport, p.inner.payload, "hello")
	}

	// An AMT Membership Query (type 4) has no inner datagram.
	q := mkIPv4(17, "10.0.0.2", "10.0.0.1", nil, udp(amtPort, amtPort, append([]byte{0x04, 0}, inner...)))
	if p := parseUDP(q); p == nil || p.inner != nil {
		t.Errorf("parseUDP(AMT query) = %+v, want a datagram without an inner one", p)
	}
	// IPv6 inner, and a later IPv4 fragment (no UDP header to read).
	inner6 := mkIPv6(17, "2001:db8:3::3", "ff0e::1:7", false, udp(40000, 6117, []byte("x")))
	if p := parseUDP(mkIPv4(17, "10.0.0.2", "10.0.0.1", nil, udp(amtPort, amtPort, append([]byte{0x06, 0}, inner6...)))); p == nil || p.inner == nil || p.inner.dport != 6117 {
		t.Errorf("parseUDP(AMT data, IPv6 inside) = %+v", p)
	}
	frag := mkIPv4(17, "172.17.0.2", "239.0.0.1", nil, []byte("middle of a datagram"))
	binary.BigEndian.PutUint16(frag[6:8], 185) // offset 1480
	if p := parseUDP(frag); p == nil || !p.laterFragment {
		t.Errorf("parseUDP(later fragment) = %+v, want laterFragment", p)
	}
}

func TestParseMembership(t *testing.T) {
	ra := []byte{148, 4, 0, 0} // IPv4 router alert option
	v2 := mkIPv4(2, "192.168.0.2", "239.1.1.2", ra, []byte{0x16, 0, 0, 0, 239, 1, 1, 2})
	m, ok := parseMembership(v2)
	if !ok || m.typ != igmpV2Report || m.group != netip.MustParseAddr("239.1.1.2") || m.src != netip.MustParseAddr("192.168.0.2") {
		t.Errorf("IGMPv2 report: %+v %v", m, ok)
	}

	// IGMPv3 report with two records: IS_EX(239.1.1.2) with one source and
	// one aux word, then ALLOW(232.1.1.3).
	v3 := []byte{0x22, 0, 0, 0, 0, 0, 0, 2,
		2, 1, 0, 1, 239, 1, 1, 2, 172, 17, 0, 2, 0xaa, 0xbb, 0xcc, 0xdd,
		5, 0, 0, 0, 232, 1, 1, 3}
	g6 := netip.MustParseAddr("ff0e::1:7").As16()
	m, ok = parseMembership(mkIPv4(2, "192.168.0.2", "224.0.0.22", ra, v3))
	want := []netip.Addr{netip.MustParseAddr("239.1.1.2"), netip.MustParseAddr("232.1.1.3")}
	if !ok || m.typ != igmpV3Report || !slices.Equal(m.records, want) {
		t.Errorf("IGMPv3 report: %+v %v, want records %v", m, ok, want)
	}
	if got := fmt.Sprint(m.recs); got != "[IS_EX(239.1.1.2; {172.17.0.2}) ALLOW(232.1.1.3; {})]" {
		t.Errorf("IGMPv3 report's records: %s", got)
	}
	if m.recs[0].includes() || !m.recs[1].includes() {
		t.Errorf("IS_EX taken for include mode, or ALLOW not: %v", m.recs)
	}
	s6 := netip.MustParseAddr("2001:db8:3::2").As16()
	mld2s := append(append([]byte{143, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1}, g6[:]...), s6[:]...)
	if m, ok := parseMembership(mkIPv6(58, "fe80::1", "ff02::16", true, mld2s)); !ok || fmt.Sprint(m.recs) != "[IS_IN(ff0e::1:7; {2001:db8:3::2})]" {
		t.Errorf("MLDv2 IS_IN({S}) report: %+v %v", m.recs, ok)
	}

	g := netip.MustParseAddr("ff0e::1:6").As16()
	v1 := append([]byte{131, 0, 0, 0, 0, 0, 0, 0}, g[:]...)
	m, ok = parseMembership(mkIPv6(58, "fe80::1", "ff0e::1:6", true, v1))
	if !ok || m.typ != mldV1Report || m.group != netip.MustParseAddr("ff0e::1:6") {
		t.Errorf("MLDv1 report: %+v %v", m, ok)
	}

	mld2 := append([]byte{143, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0}, g[:]...)
	m, ok = parseMembership(mkIPv6(58, "fe80::1", "ff02::16", true, mld2))
	if !ok || m.typ != mldV2Report || !slices.Equal(m.records, []netip.Addr{netip.MustParseAddr("ff0e::1:6")}) {
		t.Errorf("MLDv2 report: %+v %v", m, ok)
	}

	// Leaving: IGMPv2 leave, MLDv1 Done, and TO_IN({}) records; a TO_IN
	// with a source and an ALLOW are not leaves.
	leave := mkIPv4(2, "192.168.0.2", "224.0.0.2", ra, []byte{0x17, 0, 0, 0, 239, 1, 1, 2})
	if m, ok := parseMembership(leave); !ok || m.typ != igmpV2Leave || !m.leaving(netip.MustParseAddr("239.1.1.2")) || m.leaving(netip.MustParseAddr("239.1.1.3")) {
		t.Errorf("IGMPv2 leave: %+v %v", m, ok)
	}
	done := append([]byte{132, 0, 0, 0, 0, 0, 0, 0}, g[:]...)
	if m, ok := parseMembership(mkIPv6(58, "fe80::1", "ff02::2", true, done)); !ok || m.typ != mldV1Done || !m.leaving(netip.MustParseAddr("ff0e::1:6")) {
		t.Errorf("MLDv1 Done: %+v %v", m, ok)
	}
	if m, _ := parseMembership(mkIPv6(58, "fe80::1", "ff0e::1:6", true, v1)); m.leaving(netip.MustParseAddr("ff0e::1:6")) {
		t.Errorf("an MLDv1 report is taken for a Done: %+v", m)
	}
	toIn := []byte{0x22, 0, 0, 0, 0, 0, 0, 3,
		3, 0, 0, 0, 239, 1, 1, 4, // TO_IN({}) 239.1.1.4: a leave
		3, 0, 0, 1, 239, 1, 1, 5, 172, 17, 0, 2, // TO_IN({S}) 239.1.1.5: not a leave
		5, 0, 0, 0, 239, 1, 1, 6} // ALLOW({}) 239.1.1.6
	m, ok = parseMembership(mkIPv4(2, "192.168.0.2", "224.0.0.22", ra, toIn))
	if !ok || !slices.Equal(m.leaves, []netip.Addr{netip.MustParseAddr("239.1.1.4")}) || len(m.records) != 3 {
		t.Errorf("IGMPv3 report with TO_IN records: %+v %v, want leaves [239.1.1.4] of 3 records", m, ok)
	}
	toIn6 := append([]byte{143, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0}, g[:]...)
	if m, ok := parseMembership(mkIPv6(58, "fe80::1", "ff02::16", true, toIn6)); !ok || !m.leaving(netip.MustParseAddr("ff0e::1:6")) {
		t.Errorf("MLDv2 TO_IN({}): %+v %v", m, ok)
	}
	if m, _ := parseMembership(mkIPv6(58, "fe80::1", "ff02::16", true, mld2)); m.leaving(netip.MustParseAddr("ff0e::1:6")) {
		t.Errorf("an MLDv2 ALLOW is taken for a leave: %+v", m)
	}

	// Truncated or unrelated packets are not membership messages, and a
	// record count larger than the data never reads past it.
	for _, b := range [][]byte{nil, {0x45}, mkIPv4(17, "1.2.3.4", "5.6.7.8", nil, udp(1, 2, nil)),
		mkIPv4(2, "192.168.0.2", "224.0.0.22", ra, []byte{0x22, 0, 0, 0, 0, 0, 0xff, 0xff, 2, 0})} {
		if m, ok := parseMembership(b); ok && len(m.records) > 0 {
			t.Errorf("parseMembership(%x) = %+v", b, m)
		}
	}
}

func TestParseMembershipUpdate(t *testing.T) {
	ra := []byte{148, 4, 0, 0}
	leave := mkIPv4(2, "192.168.0.2", "224.0.0.2", ra, []byte{0x17, 0, 0, 0, 239, 1, 1, 32})
	// version 0 / type 5, reserved, response MAC, request nonce.
	hdr := []byte{0x05, 0, 1, 2, 3, 4, 5, 6, 0xde, 0xad, 0xbe, 0xef}
	upd := mkIPv4(17, "10.0.0.1", "10.0.0.2", nil, udp(amtPort, amtPort, append(hdr, leave...)))
	m, ok := parseMembershipUpdate(upd)
	if !ok || m.typ != igmpV2Leave || !m.leaving(netip.MustParseAddr("239.1.1.32")) || m.src != netip.MustParseAddr("192.168.0.2") {
		t.Errorf("parseMembershipUpdate(IGMPv2 leave) = %+v %v", m, ok)
	}
	g := netip.MustParseAddr("ff0e::1:36").As16()
	done := mkIPv6(58, "fe80::2", "ff02::2", true, append([]byte{132, 0, 0, 0, 0, 0, 0, 0}, g[:]...))
	m, ok = parseMembershipUpdate(mkIPv4(17, "10.0.0.1", "10.0.0.2", nil, udp(amtPort, amtPort, append(hdr, done...))))
	if !ok || m.typ != mldV1Done || !m.leaving(netip.MustParseAddr("ff0e::1:36")) {
		t.Errorf("parseMembershipUpdate(MLDv1 Done) = %+v %v", m, ok)
	}
	// Not updates: a Request (type 3), AMT data, another port, too short.
	for _, b := range [][]byte{
		mkIPv4(17, "10.0.0.1", "10.0.0.2", nil, udp(amtPort, amtPort, append([]byte{0x03, 0, 0, 0, 1, 2, 3, 4}, leave...))),
		mkIPv4(17, "10.0.0.2", "10.0.0.1", nil, udp(amtPort, amtPort, append([]byte{0x06, 0}, leave...))),
		mkIPv4(17, "10.0.0.1", "10.0.0.2", nil, udp(amtPort, 9, append(hdr, leave...))),
		mkIPv4(17, "10.0.0.1", "10.0.0.2", nil, udp(amtPort, amtPort, hdr[:8])),
	} {
		if m, ok := parseMembershipUpdate(b); ok {
			t.Errorf("parseMembershipUpdate(%x) = %+v, want not an update", b, m)
		}
	}
}
