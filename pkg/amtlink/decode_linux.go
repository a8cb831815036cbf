//go:build linux

package amtlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// Every reply this package reads is decoded here, with nlwire's one
// attribute walker. The decoders copy what they keep: a reply's payload
// lives in the client's receive buffer only until the next read.

// rawLink is one decoded RTM_NEWLINK message: the fields a Link needs, and
// its AMT data when it is an amt link.
type rawLink struct {
	index, flags uint32
	name         string
	mtu          uint32
	master       uint32 // valid when hasMaster
	hasMaster    bool
	operState    rtnetlink.OperationalState
	stats        *rtnetlink.LinkStats64 // nil when the kernel sent none
	linkKind     string                 // IFLA_INFO_KIND, "" without IFLA_LINKINFO
	amt          ifla.AMT
	isAMT        bool
	alias        string // IFLA_IFALIAS
}

func (r *rawLink) kind() string { return r.linkKind }

// errMalformed reports broken attribute framing or a fixed-size attribute
// of the wrong size in a kernel message.
var errMalformed = nlwire.ErrMalformed

// decodeLink decodes the payload of an RTM_NEWLINK message in one pass over
// its attributes, allocating the result, its name, kind and statistics,
// and the AMT data's fields.
// It is strict where rtnetlink's LinkMessage decoder is lenient (STYLE §5):
// broken framing of any top-level attribute or of IFLA_LINKINFO, a
// fixed-size attribute of the wrong size, and malformed AMT data are
// errors, never a silently half-decoded link.
func decodeLink(b []byte) (*rawLink, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return nil, errors.New("amtlink: decoding link message: too short for an ifinfomsg")
	}
	if len(b) == unix.SizeofIfInfomsg {
		return nil, errors.New("amtlink: decoding link message: no attributes")
	}
	r := &rawLink{
		index: binary.NativeEndian.Uint32(b[4:8]),
		flags: binary.NativeEndian.Uint32(b[8:12]),
	}
	var info []byte
	seenInfo := false
	if err := r.attrs(b[unix.SizeofIfInfomsg:], &info, &seenInfo); err != nil {
		return nil, fmt.Errorf("amtlink: decoding link %d: %w", r.index, err)
	}
	r.linkKind = string(bytes.TrimRight(nlwire.Find(info, unix.IFLA_INFO_KIND), "\x00"))
	if r.linkKind != Kind {
		return r, nil
	}
	r.isAMT = true
	if err := r.amt.UnmarshalBinary(nlwire.Find(info, unix.IFLA_INFO_DATA)); err != nil {
		return nil, fmt.Errorf("amtlink: decoding link %s: %w", r.name, err)
	}
	return r, nil
}

// attrs decodes the top-level attributes of a link message into r, and
// the first IFLA_LINKINFO's payload into info.
func (r *rawLink) attrs(b []byte, info *[]byte, seenInfo *bool) error {
	it := nlwire.Attrs(b)
	for it.Next() {
		t, p := it.Type(), it.Data()
		if want := fixedLinkAttrLen(t); want != 0 && len(p) != want {
			return fmt.Errorf("%w: type %d has %d bytes, want %d", errMalformed, t, len(p), want)
		}
		switch t {
		case unix.IFLA_IFNAME:
			r.name = string(bytes.TrimRight(p, "\x00"))
		case unix.IFLA_MTU:
			r.mtu = binary.NativeEndian.Uint32(p)
		case unix.IFLA_IFALIAS:
			r.alias = string(bytes.TrimRight(p, "\x00"))
		case unix.IFLA_MASTER:
			r.master, r.hasMaster = binary.NativeEndian.Uint32(p), true
		case unix.IFLA_OPERSTATE:
			r.operState = rtnetlink.OperationalState(p[0])
		case unix.IFLA_ADDRESS, unix.IFLA_BROADCAST:
			if len(p) < 4 || len(p) > 32 {
				return fmt.Errorf("%w: hardware address of %d bytes", errMalformed, len(p))
			}
		case unix.IFLA_STATS: // not read; any length a newer kernel may use
			if len(p) < 92 || len(p)%4 != 0 {
				return fmt.Errorf("%w: IFLA_STATS of %d bytes", errMalformed, len(p))
			}
		case unix.IFLA_STATS64:
			s, err := decodeStats64(p)
			if err != nil {
				return err
			}
			r.stats = s
		case unix.IFLA_LINKINFO:
			if err := nlwire.Check(p); err != nil {
				return err
			}
			if !*seenInfo {
				*info, *seenInfo = p, true
			}
		}
	}
	return it.Err()
}

// fixedLinkAttrLen is the payload size of the fixed-size top-level link
// attributes that are read, or 0.
func fixedLinkAttrLen(t uint16) int {
	switch t {
	case unix.IFLA_MTU, unix.IFLA_LINK, unix.IFLA_MASTER, unix.IFLA_TXQLEN, unix.IFLA_GROUP,
		unix.IFLA_CARRIER_CHANGES, unix.IFLA_CARRIER_UP_COUNT, unix.IFLA_CARRIER_DOWN_COUNT:
		return 4
	case unix.IFLA_OPERSTATE, unix.IFLA_LINKMODE, unix.IFLA_CARRIER:
		return 1
	}
	return 0
}

// decodeStats64 decodes struct rtnl_link_stats64: 23 counters up to Linux
// 4.6, rx_nohandler since, rx_otherhost_dropped since 5.19. Counters a
// newer kernel appends are ignored.
func decodeStats64(p []byte) (*rtnetlink.LinkStats64, error) {
	if len(p) < 184 || len(p)%8 != 0 {
		return nil, fmt.Errorf("%w: IFLA_STATS64 of %d bytes", errMalformed, len(p))
	}
	s := &rtnetlink.LinkStats64{}
	fields := [...]*uint64{
		&s.RXPackets, &s.TXPackets, &s.RXBytes, &s.TXBytes, &s.RXErrors, &s.TXErrors,
		&s.RXDropped, &s.TXDropped, &s.Multicast, &s.Collisions,
		&s.RXLengthErrors, &s.RXOverErrors, &s.RXCRCErrors, &s.RXFrameErrors, &s.RXFIFOErrors, &s.RXMissedErrors,
		&s.TXAbortedErrors, &s.TXCarrierErrors, &s.TXFIFOErrors, &s.TXHeartbeatErrors, &s.TXWindowErrors,
		&s.RXCompressed, &s.TXCompressed, &s.RXNoHandler, &s.RXOtherhostDropped,
	}
	for i, f := range fields {
		if 8*i+8 > len(p) {
			break
		}
		*f = binary.NativeEndian.Uint64(p[8*i:])
	}
	return s, nil
}

// isAMTMessage reports whether the RTM_NEWLINK payload b is of kind "amt",
// looking only at IFLA_LINKINFO/IFLA_INFO_KIND. It allocates nothing, so
// skipping the other links of an unfiltered dump is cheap.
func isAMTMessage(b []byte) bool {
	if len(b) < unix.SizeofIfInfomsg {
		return false
	}
	info := nlwire.Find(b[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO)
	kind := nlwire.Find(info, unix.IFLA_INFO_KIND)
	return string(bytes.TrimRight(kind, "\x00")) == Kind
}

// decodeDevice decodes the few fields of an RTM_NEWLINK payload a Device
// has, checking the framing of every attribute. Name lookups use it too,
// for the index and the name.
func decodeDevice(b []byte) (Device, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return Device{}, fmt.Errorf("amtlink: decoding link: %d bytes, shorter than ifinfomsg", len(b))
	}
	d := Device{
		Type:  binary.NativeEndian.Uint16(b[2:4]),
		Index: binary.NativeEndian.Uint32(b[4:8]),
		Flags: binary.NativeEndian.Uint32(b[8:12]),
	}
	it := nlwire.Attrs(b[unix.SizeofIfInfomsg:])
	for it.Next() {
		p := it.Data()
		switch it.Type() {
		case unix.IFLA_IFNAME:
			d.Name = string(bytes.TrimRight(p, "\x00"))
		case unix.IFLA_MTU, unix.IFLA_MASTER:
			if len(p) != 4 {
				return Device{}, fmt.Errorf("amtlink: decoding link %d: %w: type %d has %d bytes, want 4", d.Index, errMalformed, it.Type(), len(p))
			}
			if it.Type() == unix.IFLA_MTU {
				d.MTU = binary.NativeEndian.Uint32(p)
			} else {
				d.Master = binary.NativeEndian.Uint32(p)
			}
		case unix.IFLA_LINKINFO:
			d.Kind = string(bytes.TrimRight(nlwire.Find(p, unix.IFLA_INFO_KIND), "\x00"))
		}
	}
	if err := it.Err(); err != nil {
		return Device{}, fmt.Errorf("amtlink: decoding link %d: %w", d.Index, err)
	}
	return d, nil
}

// decodeAddr decodes an RTM_NEWADDR payload into the device index and the
// address with its prefix length. It prefers IFA_LOCAL, which is the
// device's own address on point-to-point links (where IFA_ADDRESS is the
// peer's). Families other than IPv4 and IPv6 give an invalid prefix.
func decodeAddr(b []byte) (uint32, netip.Prefix, error) {
	if len(b) < unix.SizeofIfAddrmsg {
		return 0, netip.Prefix{}, fmt.Errorf("amtlink: decoding address: %d bytes, shorter than ifaddrmsg", len(b))
	}
	family, plen := b[0], int(b[1])
	idx := binary.NativeEndian.Uint32(b[4:8])
	var local, addr []byte
	it := nlwire.Attrs(b[unix.SizeofIfAddrmsg:])
	for it.Next() {
		switch it.Type() {
		case unix.IFA_LOCAL:
			local = it.Data()
		case unix.IFA_ADDRESS:
			addr = it.Data()
		}
	}
	if err := it.Err(); err != nil {
		return 0, netip.Prefix{}, fmt.Errorf("amtlink: decoding address of link %d: %w", idx, err)
	}
	if local == nil {
		local = addr
	}
	want := 0
	switch family {
	case unix.AF_INET:
		want = 4
	case unix.AF_INET6:
		want = 16
	default:
		return idx, netip.Prefix{}, nil
	}
	if len(local) != want {
		return 0, netip.Prefix{}, fmt.Errorf("amtlink: decoding address of link %d: %d address bytes for family %d, want %d", idx, len(local), family, want)
	}
	a, _ := netip.AddrFromSlice(local)
	p := netip.PrefixFrom(a, plen)
	if !p.IsValid() {
		return 0, netip.Prefix{}, fmt.Errorf("amtlink: decoding address of link %d: prefix length %d too long for %s", idx, plen, a)
	}
	return idx, p, nil
}
