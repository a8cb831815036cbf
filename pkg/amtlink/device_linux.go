//go:build linux

package amtlink

import "golang.org/x/sys/unix"

func (c *client) Device(name string) (*Device, error) {
	const op = "device"
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	d, err := c.lookup(op, name, 0, name)
	if err != nil {
		return nil, notFound(err, "link", name)
	}
	// The addresses of this device only: with NETLINK_GET_STRICT_CHK
	// (Linux 4.20+) the kernel filters the dump by ifa_index; without it
	// the dump has every device's, hence the check here as well.
	err = c.exchange(addrDumpRequest(d.Index), func() { d.Addrs = nil }, func(m reply) error {
		if m.typ != unix.RTM_NEWADDR {
			return nil
		}
		idx, p, err := decodeAddr(m.data)
		if err != nil {
			return err
		}
		if idx == d.Index && p.IsValid() {
			d.Addrs = append(d.Addrs, p)
		}
		return nil
	})
	if err != nil {
		return nil, c.opError(op, name, err)
	}
	return d, nil
}
