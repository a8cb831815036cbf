//go:build linux

package amtlink

import (
	"strconv"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// validate checks ch for the link called name without asking the kernel.
func (ch Change) validate(name string) *ifla.FieldError {
	if ch.MTU != nil && (*ch.MTU < minMTU || *ch.MTU > maxMTU) {
		return &ifla.FieldError{Field: "mtu", Value: strconv.FormatUint(uint64(*ch.MTU), 10),
			Reason: "out of range",
			Fix:    "use 68 to 65535 (at most the lower device's MTU minus the AMT headers)"}
	}
	if ch.Master != nil && *ch.Master != "" {
		if err := checkIfName("master", *ch.Master); err != nil {
			return err
		}
		if *ch.Master == name {
			return &ifla.FieldError{Field: "master", Value: *ch.Master, Reason: "is the link itself",
				Fix: "name a bridge or VRF device, or use nomaster to detach the link"}
		}
	}
	return nil
}

func (c *client) Set(name string, ch Change) (*Link, error) {
	const op = "set"
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	if err := ch.validate(name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	r, err := c.getRaw(op, name)
	if err != nil {
		return nil, err
	}
	if !r.isAMT {
		return nil, &Error{Op: op, Name: name, Err: &notAMTError{name: name, kind: r.kind()}}
	}
	n := &names{c: c, op: op, cache: make(map[uint32]string, 2)}
	if ch.IsZero() {
		l, err := r.link(n)
		if err != nil {
			return nil, err
		}
		return &l, nil
	}
	req := &rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Index:      r.index,
		Attributes: &rtnetlink.LinkAttributes{},
	}
	if ch.MTU != nil {
		req.Attributes.MTU = *ch.MTU
	}
	if ch.Master != nil {
		var idx uint32 // IFLA_MASTER 0 detaches
		if *ch.Master != "" {
			if idx, err = c.lookupIndex(op, name, "master", *ch.Master); err != nil {
				return nil, err
			}
			n.cache[idx] = *ch.Master
		}
		req.Attributes.Master = &idx
	}
	if ch.Up != nil {
		req.Change = unix.IFF_UP
		if *ch.Up {
			req.Flags = unix.IFF_UP
		}
	}
	// One request without NLM_F_CREATE: the kernel's do_setlink applies
	// the MTU, the master and the flags of the existing link in turn.
	if _, err := c.execute(op, name, unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge, req); err != nil {
		return nil, notFound(err, "link", name)
	}
	if r, err = c.getRaw(op, name); err != nil {
		return nil, err
	}
	l, err := r.link(n)
	if err != nil {
		return nil, err
	}
	return &l, nil
}
