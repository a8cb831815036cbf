//go:build linux

package amtlink

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func (c *client) Devices() ([]Device, error) {
	const op = "devices"
	// A link dump without statistics (IFLA_EXT_MASK), all kinds.
	lreq := make([]byte, unix.SizeofIfInfomsg, unix.SizeofIfInfomsg+8)
	lreq[0] = unix.AF_UNSPEC
	lreq = appendSkipStats(lreq)
	var devs []Device
	byIndex := make(map[uint32]int)
	err := c.dump(unix.RTM_GETLINK, lreq, func(m netlink.Message) error {
		if m.Header.Type != unix.RTM_NEWLINK {
			return nil
		}
		d, err := decodeDevice(m.Data)
		if err != nil {
			return &Error{Op: op, Err: err}
		}
		byIndex[d.Index] = len(devs)
		devs = append(devs, d)
		return nil
	})
	if err != nil {
		return nil, dumpError(op, err)
	}

	// One address dump of both families.
	areq := make([]byte, unix.SizeofIfAddrmsg)
	areq[0] = unix.AF_UNSPEC
	err = c.dump(unix.RTM_GETADDR, areq, func(m netlink.Message) error {
		if m.Header.Type != unix.RTM_NEWADDR {
			return nil
		}
		idx, p, err := decodeAddr(m.Data)
		if err != nil {
			return &Error{Op: op, Err: err}
		}
		if i, ok := byIndex[idx]; ok && p.IsValid() {
			devs[i].Addrs = append(devs[i].Addrs, p)
		}
		return nil
	})
	if err != nil {
		return nil, dumpError(op, err)
	}
	slices.SortFunc(devs, func(a, b Device) int { return cmp.Compare(a.Index, b.Index) })
	return devs, nil
}

// decodeDevice decodes the few fields of an RTM_NEWLINK payload a Device
// has, checking the framing of every attribute it reads.
func decodeDevice(b []byte) (Device, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return Device{}, fmt.Errorf("amtlink: decoding link: %d bytes, shorter than ifinfomsg", len(b))
	}
	d := Device{
		Type:  binary.NativeEndian.Uint16(b[2:4]),
		Index: binary.NativeEndian.Uint32(b[4:8]),
		Flags: binary.NativeEndian.Uint32(b[8:12]),
	}
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfInfomsg:])
	if err != nil {
		return Device{}, fmt.Errorf("amtlink: decoding link %d: %w", d.Index, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			d.Name = ad.String()
		case unix.IFLA_MTU:
			d.MTU = ad.Uint32()
		case unix.IFLA_MASTER:
			d.Master = ad.Uint32()
		case unix.IFLA_LINKINFO:
			d.Kind = string(bytes.TrimRight(findAttr(ad.Bytes(), unix.IFLA_INFO_KIND), "\x00"))
		}
	}
	if err := ad.Err(); err != nil {
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
	ad, err := netlink.NewAttributeDecoder(b[unix.SizeofIfAddrmsg:])
	if err != nil {
		return 0, netip.Prefix{}, fmt.Errorf("amtlink: decoding address of link %d: %w", idx, err)
	}
	var local, addr []byte
	for ad.Next() {
		switch ad.Type() {
		case unix.IFA_LOCAL:
			local = ad.Bytes()
		case unix.IFA_ADDRESS:
			addr = ad.Bytes()
		}
	}
	if err := ad.Err(); err != nil {
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
