//go:build linux

package amtlink

import (
	"encoding/binary"
	"fmt"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/amtctl/amtctl/pkg/ifla"
	"golang.org/x/sys/unix"
)

// Every request this package sends is built here, on nlwire's framing, as
// a whole message: exchange gives it its sequence number.

// Request flags.
const (
	flagsGet    = nlwire.FlagRequest
	flagsDump   = nlwire.FlagRequest | nlwire.FlagDump
	flagsChange = nlwire.FlagRequest | nlwire.FlagAck
	flagsCreate = nlwire.FlagRequest | nlwire.FlagCreate | nlwire.FlagExcl | nlwire.FlagAck
)

// Name and index lookups, and the dumps that only want names, flags or AMT
// data, ask the kernel to leave out the statistics (IFLA_EXT_MASK
// RTEXT_FILTER_SKIP_STATS, Linux 5.10+; older kernels ignore the bit): the
// answers are then a fraction of the size.
const (
	iflaExtMask          = 0x1d   // IFLA_EXT_MASK
	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS
)

// linkMsg starts a link request: the netlink header and an ifinfomsg
// (AF_UNSPEC) for index with ifi_flags and ifi_change. Append its
// attributes to the returned buffer, then call nlwire.Finish(b, start).
func linkMsg(b []byte, typ, flags uint16, index, ifFlags, change uint32) ([]byte, int) {
	start := len(b)
	b = nlwire.AppendHeader(b, typ, flags, 0)
	b = append(b, unix.AF_UNSPEC, 0, 0, 0) // family, pad, type
	b = binary.NativeEndian.AppendUint32(b, index)
	b = binary.NativeEndian.AppendUint32(b, ifFlags)
	b = binary.NativeEndian.AppendUint32(b, change)
	return b, start
}

// linkRequest is a link request for index, or for the link called name
// when index is 0 (IFLA_IFNAME), with IFLA_EXT_MASK skip-stats when light.
func linkRequest(typ, flags uint16, index uint32, name string, light bool) []byte {
	b, start := linkMsg(make([]byte, 0, 64), typ, flags, index, 0, 0)
	if index == 0 {
		b = nlwire.AppendString(b, unix.IFLA_IFNAME, name)
	}
	if light {
		b = nlwire.AppendU32(b, iflaExtMask, rtextFilterSkipStats)
	}
	nlwire.Finish(b, start)
	return b
}

// amtDumpRequest is a link dump the kernel filters by kind "amt"
// (IFLA_LINKINFO/IFLA_INFO_KIND), with statistics unless light.
func amtDumpRequest(light bool) []byte {
	b, start := linkMsg(make([]byte, 0, 48), unix.RTM_GETLINK, flagsDump, 0, 0, 0)
	b, info := nlwire.BeginNested(b, unix.IFLA_LINKINFO)
	b = nlwire.AppendString(b, unix.IFLA_INFO_KIND, Kind)
	_ = nlwire.EndNested(b, info) // a few bytes: always fits
	if light {
		b = nlwire.AppendU32(b, iflaExtMask, rtextFilterSkipStats)
	}
	nlwire.Finish(b, start)
	return b
}

// allLinksRequest is a dump of every link, without statistics.
func allLinksRequest() []byte {
	b, start := linkMsg(make([]byte, 0, 40), unix.RTM_GETLINK, flagsDump, 0, 0, 0)
	b = nlwire.AppendU32(b, iflaExtMask, rtextFilterSkipStats)
	nlwire.Finish(b, start)
	return b
}

// addrDumpRequest is a dump of the IPv4 and IPv6 addresses, of the device
// index only when index is not 0 (with NETLINK_GET_STRICT_CHK, Linux 4.20+;
// without it the kernel sends every device's).
func addrDumpRequest(index uint32) []byte {
	b := nlwire.AppendHeader(make([]byte, 0, nlwire.HeaderLen+unix.SizeofIfAddrmsg), unix.RTM_GETADDR, flagsDump, 0)
	b = append(b, unix.AF_UNSPEC, 0, 0, 0) // family, prefixlen, flags, scope
	b = binary.NativeEndian.AppendUint32(b, index)
	nlwire.Finish(b, 0)
	return b
}

// setRequest is Set's RTM_NEWLINK for the link index (or, when index is
// 0, the link called name): IFLA_MTU when mtu is not 0, IFLA_MASTER when
// master is not nil (0 detaches), IFLA_IFALIAS when alias is not nil (""
// removes it), and the up flag in ifi_flags/ifi_change when up is not nil;
// the attributes in the order rtnetlink.LinkMessage.MarshalBinary writes
// them.
func setRequest(index uint32, name string, mtu uint32, master *uint32, up *bool, alias *string) []byte {
	var ifFlags, change uint32
	if up != nil {
		change = unix.IFF_UP
		if *up {
			ifFlags = unix.IFF_UP
		}
	}
	b, start := linkMsg(make([]byte, 0, 48), unix.RTM_NEWLINK, flagsChange, index, ifFlags, change)
	if index == 0 {
		b = nlwire.AppendString(b, unix.IFLA_IFNAME, name)
	}
	if mtu != 0 {
		b = nlwire.AppendU32(b, unix.IFLA_MTU, mtu)
	}
	if master != nil {
		b = nlwire.AppendU32(b, unix.IFLA_MASTER, *master)
	}
	if alias != nil {
		// Without a NUL, as iproute2 sends it: the kernel stores the
		// bytes given, and none clear the alias.
		b = nlwire.AppendAttr(b, unix.IFLA_IFALIAS, []byte(*alias))
	}
	nlwire.Finish(b, start)
	return b
}

// appendCreateRequest appends Create's RTM_NEWLINK message, header
// included, to b: IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO {IFLA_INFO_KIND
// "amt", IFLA_INFO_DATA a} and IFLA_MASTER, the bytes and order
// rtnetlink.LinkMessage.MarshalBinary gives for the same link
// (TestAppendCreateRequest compares them), without its allocations. On
// error b is returned as it was.
func appendCreateRequest(b []byte, flags uint16, seq uint32, s *Spec, a *ifla.AMT, master uint32) ([]byte, error) {
	orig := len(b)
	var up uint32
	if s.Up {
		up = unix.IFF_UP
	}
	b, start := linkMsg(b, unix.RTM_NEWLINK, flags, 0, up, up)
	nlwire.SetSeq(b[start:], seq)
	b = nlwire.AppendString(b, unix.IFLA_IFNAME, s.Name)
	if s.MTU != 0 {
		b = nlwire.AppendU32(b, unix.IFLA_MTU, s.MTU)
	}
	b, info := nlwire.BeginNested(b, unix.IFLA_LINKINFO)
	b = nlwire.AppendString(b, unix.IFLA_INFO_KIND, Kind)
	b, data := nlwire.BeginNested(b, unix.NLA_F_NESTED|unix.IFLA_INFO_DATA)
	b, err := a.AppendBinary(b)
	if err != nil {
		return b[:orig], err
	}
	if nlwire.EndNested(b, data) != nil || nlwire.EndNested(b, info) != nil {
		return b[:orig], fmt.Errorf("amtlink: the AMT data of %d bytes do not fit in one netlink attribute", len(b)-data)
	}
	if master != 0 {
		b = nlwire.AppendU32(b, unix.IFLA_MASTER, master)
	}
	nlwire.Finish(b, start)
	return b, nil
}
