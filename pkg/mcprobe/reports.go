package mcprobe

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// Membership report types (RFC 3376, RFC 2236, RFC 1112; RFC 3810, RFC 2710).
const (
	igmpV1Report = 0x12
	igmpV2Report = 0x16
	igmpV3Report = 0x22
	mldV1Report  = 131
	mldV2Report  = 143
)

// reportNames reports whether pkt, an IPv4 or IPv6 packet from its network
// header on, is an IGMP or MLD membership report naming group (any version;
// a record that leaves the group counts too: it is still a report the
// kernel sent about it).
func reportNames(pkt []byte, group netip.Addr) bool {
	if len(pkt) < 1 {
		return false
	}
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0x0f) * 4
		if len(pkt) < 20 || ihl < 20 || len(pkt) < ihl+8 || pkt[9] != 2 || !group.Is4() {
			return false
		}
		return igmpNames(pkt[ihl:], group.As4())
	case 6:
		if len(pkt) < 40 || !group.Is6() {
			return false
		}
		next, off := pkt[6], 40
		for next == 0 || next == 60 { // hop-by-hop (router alert), destination options
			if len(pkt) < off+8 {
				return false
			}
			next, off = pkt[off], off+(int(pkt[off+1])+1)*8
		}
		if next != 58 || len(pkt) < off+8 {
			return false
		}
		return mldNames(pkt[off:], group.As16())
	}
	return false
}

func igmpNames(m []byte, g [4]byte) bool {
	switch m[0] {
	case igmpV1Report, igmpV2Report:
		return [4]byte(m[4:8]) == g
	case igmpV3Report:
		return recordNames(m, g[:])
	}
	return false
}

func mldNames(m []byte, g [16]byte) bool {
	switch m[0] {
	case mldV1Report:
		return len(m) >= 24 && [16]byte(m[8:24]) == g
	case mldV2Report:
		return recordNames(m, g[:])
	}
	return false
}

// recordNames reports whether m, an IGMPv3 or MLDv2 report (RFC 3376 4.2,
// RFC 3810 5.2: the number of group records at offset 6, the records from
// 8), has a record for g, a group of 4 or 16 bytes. A record is its type,
// its auxiliary data's length in 32-bit words, its number of sources, the
// group, the sources and the auxiliary data.
func recordNames(m, g []byte) bool {
	n, off, a := int(binary.BigEndian.Uint16(m[6:8])), 8, len(g)
	for range n {
		if len(m) < off+4+a {
			return false
		}
		if bytes.Equal(m[off+4:off+4+a], g) {
			return true
		}
		off += 4 + a + a*int(binary.BigEndian.Uint16(m[off+2:off+4])) + 4*int(m[off+1])
	}
	return false
}
