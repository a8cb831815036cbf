package mcprobe

import (
	"net/netip"
	"testing"
)

func TestReportNames(t *testing.T) {
	a, b, c := netip.MustParseAddr("232.1.1.1"), netip.MustParseAddr("239.2.2.2"), netip.MustParseAddr("239.3.3.3")
	// IPv4 with a router alert option (IHL 6), IGMPv3 report with two
	// records: ALLOW (a, one source) and CHANGE_TO_EXCLUDE (b, none).
	ip4 := []byte{0x46, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 1, 224, 0, 0, 22, 0x94, 4, 0, 0}
	igmp := []byte{igmpV3Report, 0, 0, 0, 0, 0, 0, 2}
	igmp = append(igmp, 5, 0, 0, 1)
	igmp = append(igmp, a.AsSlice()...)
	igmp = append(igmp, 192, 0, 2, 1)
	igmp = append(igmp, 4, 0, 0, 0)
	igmp = append(igmp, b.AsSlice()...)
	pkt4 := append(append([]byte{}, ip4...), igmp...)
	for g, want := range map[netip.Addr]bool{a: true, b: true, c: false, netip.MustParseAddr("ff3e::1"): false} {
		if got := reportNames(pkt4, g); got != want {
			t.Errorf("IGMPv3 report, %s: %v, want %v", g, got, want)
		}
	}
	if reportNames(pkt4[:len(pkt4)-3], b) {
		t.Error("a truncated record named its group")
	}
	v2 := append(append([]byte{}, ip4...), igmpV2Report, 0, 0, 0, 239, 3, 3, 3)
	if !reportNames(v2, c) || reportNames(v2, a) {
		t.Error("IGMPv2 report")
	}
	query := append(append([]byte{}, ip4...), 0x11, 0, 0, 0, 239, 3, 3, 3)
	if reportNames(query, c) {
		t.Error("a query counted as a report")
	}

	// IPv6 with a hop-by-hop header (router alert), MLDv2 report with one
	// record.
	g6 := netip.MustParseAddr("ff3e::2:1")
	ip6 := make([]byte, 40)
	ip6[0], ip6[6] = 0x60, 0
	hbh := []byte{58, 0, 5, 2, 0, 0, 1, 0}
	mld := []byte{mldV2Report, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0}
	mld = append(mld, g6.AsSlice()...)
	pkt6 := append(append(ip6, hbh...), mld...)
	if !reportNames(pkt6, g6) || reportNames(pkt6, netip.MustParseAddr("ff3e::2:2")) || reportNames(pkt6, a) {
		t.Error("MLDv2 report")
	}
	for _, short := range [][]byte{nil, {0x45}, pkt6[:44], pkt6[:50]} {
		if reportNames(short, g6) || reportNames(short, a) {
			t.Errorf("%d bytes named a group", len(short))
		}
	}
}

// FuzzReportNames: any packet, any group, never a panic (the packet
// socket hands reportNames whatever leaves the device).
func FuzzReportNames(f *testing.F) {
	f.Add([]byte{0x46, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 10, 0, 0, 1, 224, 0, 0, 22, 0x94, 4, 0, 0, 0x22, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 232, 1, 1, 1}, false)
	f.Add(append(append(make([]byte, 40), 58, 0, 5, 2, 0, 0, 1, 0), 143, 0, 0, 0, 0, 0, 0, 1), true)
	f.Fuzz(func(t *testing.T, pkt []byte, v6 bool) {
		g := netip.MustParseAddr("232.1.1.1")
		if v6 {
			g = netip.MustParseAddr("ff3e::1")
		}
		reportNames(pkt, g)
	})
}
