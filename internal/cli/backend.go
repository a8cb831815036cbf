package cli

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/amtctl/amtctl/pkg/amtlink"
)

// Backend is what the commands need from the kernel side, all of it: a
// command never looks for an optional capability. *amtlink.Client
// satisfies it, wrapped by [OpenAMTLink] so that Close also releases the
// namespace reference and devices come as Interfaces. A Backend that cannot
// do something (a fake in a test) returns an error that says so.
type Backend interface {
	// Create validates s and creates the link, returning it as read back.
	Create(s amtlink.Spec) (*amtlink.Link, error)
	// Add is Create without the read-back, for when the link is not
	// printed.
	Add(s amtlink.Spec) error
	// Get returns the amt link called name; errors.Is(err, os.ErrNotExist)
	// when there is none.
	Get(name string) (*amtlink.Link, error)
	// List returns every amt link, sorted by index.
	List() ([]amtlink.Link, error)
	// Delete removes the amt link called name.
	Delete(name string) error
	// Set changes the generic attributes in ch of the amt link called
	// name in place and returns the link as read back.
	Set(name string, ch amtlink.Change) (*amtlink.Link, error)
	// Watch reports link events to fn until ctx ends or fn fails, as
	// amtlink.Client's Watch does.
	Watch(ctx context.Context, opt amtlink.WatchOptions, fn func(amtlink.Event) error) error
	// Subscribe reports changes to the links (of any kind) and addresses
	// of the namespace to fn until ctx ends or fn fails, as
	// amtlink.Client's Subscribe does, with amtlink.NotifyResync when the
	// kernel dropped notifications; apply --watch converges on them.
	Subscribe(ctx context.Context, opt amtlink.SubscribeOptions, fn func(amtlink.Notification) error) error
	// Interfaces lists every device of the namespace with its addresses,
	// for add's warnings and the completion of device names.
	Interfaces() ([]Interface, error)
	// Interface returns the device called name with its addresses, at a
	// cost that does not grow with the number of devices;
	// errors.Is(err, os.ErrNotExist) when there is none.
	Interface(name string) (*Interface, error)
	// NetNSGone reports whether the namespace the backend was opened for
	// can no longer be reached by its name or path (ip netns del, or the
	// process of /proc/PID/ns/net exited); the backend keeps it alive
	// until Close. Always false for the current namespace.
	NetNSGone() bool
	// Close releases the backend.
	Close() error
}

// Interface describes a network device of the backend's namespace, as far as
// warnings and shell completion need it.
type Interface struct {
	Index int // ifindex
	Name  string
	Up    bool         // IFF_UP is set
	Addrs []netip.Addr // addresses assigned to the device
}

// Opener returns a Backend for the network namespace netns: "" means the
// current namespace; otherwise a name under /run/netns or a path.
type Opener func(netns string) (Backend, error)

// amtlinkBackend is an *amtlink.Client plus the namespace it was dialled in.
type amtlinkBackend struct {
	*amtlink.Client
	ns    *amtlink.NetNS
	netns string
}

// OpenAMTLink is the production Opener: it opens netns (when not "") with
// amtlink.NetNSFromPath when it is an absolute path, else with
// amtlink.OpenNetNS, which takes only what `ip netns` calls a name, and
// dials an amtlink.Client there.
func OpenAMTLink(netns string) (Backend, error) {
	ns, err := openNetNS(netns)
	if err != nil {
		return nil, err
	}
	c, err := amtlink.Dial(ns)
	if err != nil {
		if ns != nil {
			ns.Close()
		}
		return nil, fmt.Errorf("dial rtnetlink: %w", err)
	}
	return &amtlinkBackend{Client: c, ns: ns, netns: netns}, nil
}

// openNetNS opens what -n names: nil for "" (the current namespace), a path
// with amtlink.NetNSFromPath, a name with amtlink.OpenNetNS. The caller
// closes it.
func openNetNS(netns string) (*amtlink.NetNS, error) {
	switch {
	case netns == "":
		return nil, nil
	case strings.HasPrefix(netns, "/"):
		return amtlink.NetNSFromPath(netns)
	default:
		return amtlink.OpenNetNS(netns)
	}
}

// Close closes the client and the namespace reference.
func (b *amtlinkBackend) Close() error {
	err := b.Client.Close()
	if b.ns != nil {
		if nerr := b.ns.Close(); err == nil {
			err = nerr
		}
	}
	return err
}

// NetNSGone implements Backend with amtlink.NetNS.Gone.
func (b *amtlinkBackend) NetNSGone() bool { return b.ns != nil && b.ns.Gone() }

// Interfaces implements Backend with amtlink's Devices: one link dump and
// one address dump in the backend's namespace, so add's warnings and the
// completion of dev and master work with -n too.
func (b *amtlinkBackend) Interfaces() ([]Interface, error) {
	devs, err := b.Devices()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(devs))
	for i := range devs {
		out = append(out, toInterface(&devs[i]))
	}
	return out, nil
}

// Interface implements Backend with amtlink's Device: one link lookup and
// one address dump of that device, so that add's warnings cost the same
// among ten devices or ten thousand.
func (b *amtlinkBackend) Interface(name string) (*Interface, error) {
	d, err := b.Device(name)
	if err != nil {
		return nil, err
	}
	it := toInterface(d)
	return &it, nil
}

func toInterface(d *amtlink.Device) Interface {
	it := Interface{Index: int(d.Index), Name: d.Name, Up: d.Up()}
	for _, p := range d.Addrs {
		it.Addrs = append(it.Addrs, p.Addr())
	}
	return it
}

// findInterface looks name up in the list list returns, for a Backend
// whose list is at hand anyway.
func findInterface(list func() ([]Interface, error), name string) (*Interface, error) {
	ifs, err := list()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		if ifs[i].Name == name {
			return &ifs[i], nil
		}
	}
	return nil, fmt.Errorf("device %q: %w", name, os.ErrNotExist)
}
