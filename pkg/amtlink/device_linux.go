//go:build linux

package amtlink

import (
	"encoding/binary"
	"errors"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func (c *client) Device(name string) (*Device, error) {
	const op = "device"
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	lm := &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{Name: name}}
	lreq, err := lightRequest(lm)
	if err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	msgs, err := c.exec(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   lreq,
	})
	if err != nil {
		return nil, notFound(kernelError(op, name, err), "link", name)
	}
	var d *Device
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		dd, err := decodeDevice(m.Data)
		if err != nil {
			return nil, &Error{Op: op, Name: name, Err: err}
		}
		d = &dd
		break
	}
	if d == nil {
		return nil, &Error{Op: op, Name: name, Err: errors.New("amtlink: kernel answered a lookup without a link")}
	}

	// The addresses of this device only: with NETLINK_GET_STRICT_CHK
	// (Linux 4.20+) the kernel filters the dump by ifa_index; without it
	// the dump has every device's, hence the check here as well.
	areq := make([]byte, unix.SizeofIfAddrmsg)
	areq[0] = unix.AF_UNSPEC
	binary.NativeEndian.PutUint32(areq[4:8], d.Index)
	err = c.dump(unix.RTM_GETADDR, areq, func(m netlink.Message) error {
		if m.Header.Type != unix.RTM_NEWADDR {
			return nil
		}
		idx, p, err := decodeAddr(m.Data)
		if err != nil {
			return &Error{Op: op, Name: name, Err: err}
		}
		if idx == d.Index && p.IsValid() {
			d.Addrs = append(d.Addrs, p)
		}
		return nil
	})
	if err != nil {
		return nil, dumpError(op, err)
	}
	return d, nil
}
