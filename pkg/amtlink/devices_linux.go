//go:build linux

package amtlink

import (
	"cmp"
	"slices"

	"golang.org/x/sys/unix"
)

func (c *client) Devices() ([]Device, error) {
	const op = "devices"
	var devs []Device
	byIndex := make(map[uint32]int)
	reset := func() { devs = devs[:0]; clear(byIndex) }
	err := c.exchange(allLinksRequest(), reset, func(m reply) error {
		if m.typ != unix.RTM_NEWLINK {
			return nil
		}
		d, err := decodeDevice(m.data)
		if err != nil {
			return err
		}
		byIndex[d.Index] = len(devs)
		devs = append(devs, d)
		return nil
	})
	if err != nil {
		return nil, c.opError(op, "", err)
	}
	// One address dump of both families.
	err = c.exchange(addrDumpRequest(0), func() {
		for i := range devs {
			devs[i].Addrs = nil
		}
	}, func(m reply) error {
		if m.typ != unix.RTM_NEWADDR {
			return nil
		}
		idx, p, err := decodeAddr(m.data)
		if err != nil {
			return err
		}
		if i, ok := byIndex[idx]; ok && p.IsValid() {
			devs[i].Addrs = append(devs[i].Addrs, p)
		}
		return nil
	})
	if err != nil {
		return nil, c.opError(op, "", err)
	}
	slices.SortFunc(devs, func(a, b Device) int { return cmp.Compare(a.Index, b.Index) })
	return devs, nil
}
