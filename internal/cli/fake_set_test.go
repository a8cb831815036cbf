package cli

import (
	"syscall"

	"github.com/amtctl/amtctl/pkg/amtlink"
)

// setCall is one Set call on the fake.
type setCall struct {
	Name string
	Ch   amtlink.Change
}

// Set changes up, mtu and master of an amt link of the fake, as the kernel
// does; a master the fake's namespace lacks is ENODEV. f.setErr fails every
// call.
func (f *fake) Set(name string, ch amtlink.Change) (*amtlink.Link, error) {
	f.sets = append(f.sets, setCall{Name: name, Ch: ch})
	if f.setErr != nil {
		return nil, f.setErr
	}
	i := f.find(name)
	if i < 0 {
		return nil, &amtlink.Error{Op: "set", Name: name, Err: syscall.ENODEV}
	}
	l := &f.links[i]
	if ch.Master != nil && *ch.Master != "" {
		if _, ok := f.ifindex(*ch.Master); !ok {
			return nil, &amtlink.Error{Op: "set", Name: name, Err: syscall.ENODEV}
		}
	}
	if ch.MTU != nil {
		l.MTU = *ch.MTU
	}
	if ch.Master != nil {
		l.Master = *ch.Master
	}
	if ch.Alias != nil {
		l.Alias = *ch.Alias
	}
	if ch.Up != nil {
		if *ch.Up {
			l.Flags |= iffUp
		} else {
			l.Flags &^= iffUp
		}
	}
	out := *l
	return &out, nil
}
