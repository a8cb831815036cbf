package amtlink

import (
	"context"
	"net/netip"
	"strconv"
	"time"
)

// Change holds the generic (non-AMT) attributes Set changes on an existing
// AMT link. A nil field is left as it is.
//
// The AMT attributes themselves (mode, local, discovery, ports,
// max_tunnels) cannot be changed: the kernel's AMT driver has no changelink.
// Delete the link and create it again instead.
type Change struct {
	// Up brings the link up (true) or down (false).
	Up *bool
	// MTU sets the link's MTU, 68 to 65535 and at most the lower device's
	// MTU minus the AMT headers (the kernel checks the exact maximum).
	MTU *uint32
	// Master enslaves the link to the bridge or VRF of that name; ""
	// detaches it from its master (nomaster).
	Master *string
	// Alias sets the interface alias (IFLA_IFALIAS), at most MaxAlias
	// bytes; "" removes it.
	Alias *string
}

// MaxAlias is the longest interface alias the kernel keeps (IFALIASZ-1).
const MaxAlias = 255

// IsZero reports whether ch changes nothing.
func (ch Change) IsZero() bool {
	return ch.Up == nil && ch.MTU == nil && ch.Master == nil && ch.Alias == nil
}

// Set changes the generic attributes in ch of the existing AMT link called
// name with one RTM_NEWLINK request without NLM_F_CREATE (as `ip link set`
// does), and returns the link as read back afterwards. A Change that changes
// nothing sends nothing and returns the link as it is.
//
// Invalid values are refused before anything is sent, with an *Error
// wrapping an *ifla.FieldError. A link of another kind is refused
// (errors.Is(err, ErrNotAMT)); a missing link or master gives
// os.ErrNotExist. The kernel applies the attributes of one request in turn
// (MTU, master, alias, then flags); if it refuses one, those before it may already
// have been applied, as with `ip link set`.
func (c *Client) Set(name string, ch Change) (*Link, error) { return c.c.Set(name, ch) }

// Validate runs every check Create does before it sends anything: the name,
// the AMT attributes (ifla.AMT.Validate, with a stand-in lower index when
// only Dev is set, since Dev is resolved by the kernel), dev, master and
// mtu. It returns the first problem as an *ifla.FieldError, one line naming
// the field and the fix, so a whole batch of specs can be checked before the
// first is created. Checks that need the kernel (does Dev exist, is the name
// taken) are left to Create.
func (s *Spec) Validate() error { return s.validate() }

// Device is one network device of a Client's namespace, of any kind, with
// its addresses, as Devices reports it.
type Device struct {
	Index uint32
	Name  string
	Kind  string // IFLA_INFO_KIND ("amt", "veth", "bridge", ...); "" for physical and loopback devices
	Flags uint32 // IFF_* flags
	Type  uint16 // ARPHRD_* hardware type (1 Ethernet, 772 loopback, 776 for AMT's IP tunnel ...)
	MTU   uint32
	// Master is the index of the device's master (bridge, VRF, bond), 0 if
	// none.
	Master uint32
	// Addrs are the device's IPv4 and IPv6 addresses with their prefix
	// lengths (the local address for point-to-point addresses).
	Addrs []netip.Prefix
}

// Up reports whether the device is administratively up (IFF_UP).
func (d *Device) Up() bool { return d.Flags&iffUp != 0 }

// HasAddr reports whether a is one of the device's addresses.
func (d *Device) HasAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range d.Addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// Devices returns every device of the Client's namespace with its
// addresses, sorted by index: one link dump and one address dump. It is what
// a caller needs to check a Spec's dev and local against the namespace it
// will be created in, or to complete device names, without entering that
// namespace itself.
func (c *Client) Devices() ([]Device, error) { return c.c.Devices() }

// EventType says what happened to an AMT link.
type EventType int

// The events Watch reports.
const (
	// EventCreated: an AMT link appeared.
	EventCreated EventType = iota
	// EventDeleted: an AMT link went away.
	EventDeleted
	// EventUp: the link was brought up (IFF_UP set).
	EventUp
	// EventDown: the link was brought down (IFF_UP cleared).
	EventDown
	// EventRelayDiscovered: a gateway learnt its relay (remote went from
	// unset or 0.0.0.0 to an address).
	EventRelayDiscovered
	// EventRelayChanged: a gateway's relay changed from one address to
	// another.
	EventRelayChanged
	// EventRelayLost: a gateway's relay went back to unset (discovery
	// restarts, e.g. after the link went down or the relay stopped
	// answering).
	EventRelayLost
	// EventResynced: the kernel dropped notifications (ENOBUFS, a
	// receive-buffer overrun), so Watch listed the links again. The
	// differences it found follow as ordinary events. Event.Link is zero.
	EventResynced
)

var eventNames = [...]string{
	EventCreated:         "created",
	EventDeleted:         "deleted",
	EventUp:              "up",
	EventDown:            "down",
	EventRelayDiscovered: "relay-discovered",
	EventRelayChanged:    "relay-changed",
	EventRelayLost:       "relay-lost",
	EventResynced:        "resynced",
}

// String returns the event's name as amtctl monitor prints it: "created",
// "deleted", "up", "down", "relay-discovered", "relay-changed",
// "relay-lost" or "resynced".
func (t EventType) String() string { return enumName(eventNames[:], t, "event type") }

// enumName is names[v], or "unknown WHAT value (v)" for a value names
// lacks (STYLE §2): the String of this package's enums.
func enumName[T ~int](names []string, v T, what string) string {
	if v >= 0 && int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return "unknown " + what + " value (" + strconv.Itoa(int(v)) + ")"
}

// MarshalText returns the event's name, so Event encodes as JSON readably.
func (t EventType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Event is one change to an AMT link seen by Watch.
type Event struct {
	Type EventType
	// Link is the link as it was at the event: for EventDeleted, its last
	// known state.
	Link Link
	// Remote is the gateway's relay after a relay-* event (the zero Addr
	// after EventRelayLost).
	Remote netip.Addr
	// Previous is the relay before a relay-* event (the zero Addr before
	// EventRelayDiscovered).
	Previous netip.Addr
	// Time is when Watch noticed the event.
	Time time.Time
}

// DefaultPollInterval is how often Watch polls gateway links for their relay
// when WatchOptions.PollInterval is 0.
const DefaultPollInterval = 200 * time.Millisecond

// WatchOptions tune Watch.
type WatchOptions struct {
	// PollInterval is how often Watch asks the kernel for the gateways'
	// relay addresses, because the kernel sends no notification when a
	// gateway discovers, changes or loses its relay. 0 means
	// DefaultPollInterval. Watch polls only while at least one gateway link
	// exists, with one filtered dump per interval whatever the number of
	// links.
	PollInterval time.Duration
	// Ready, if not nil, is called once, when Watch has subscribed to
	// notifications and read the starting state: every change after Ready
	// is reported. Tests and tools that must not miss the first event wait
	// for it.
	Ready func()
}

// Watch reports changes to the AMT links of the Client's namespace to fn,
// in order, until ctx is done (it then returns nil) or fn returns an error
// (which Watch returns). Links that exist when Watch starts are not
// reported; changes to them are.
//
// Watch opens its own rtnetlink socket in the Client's namespace, subscribed
// to link notifications (RTNLGRP_LINK), for created, deleted, up and down.
// The kernel sends nothing when a gateway learns its relay, so while gateway
// links exist Watch also polls them every PollInterval for relay-discovered,
// relay-changed and relay-lost; those are noticed up to one interval late.
// If the kernel drops notifications because the reader fell behind
// (ENOBUFS; a burst such as thousands of VLANs deleted with their parent is
// enough, whatever their kind), Watch lists the links again, reports
// EventResynced and then the differences, and goes on watching. Watch is
// built on the same notification stream as Subscribe.
//
// Watching the caller's own namespace needs no privilege. For another
// namespace Watch asks the kernel which one the Client's socket is in
// (SIOCGSKNS, which needs CAP_NET_ADMIN there) and opens its socket inside
// it, as Dial does (CAP_SYS_ADMIN).
//
// fn is called from Watch's goroutine; it must not call Watch.
func (c *Client) Watch(ctx context.Context, opt WatchOptions, fn func(Event) error) error {
	return c.c.Watch(ctx, opt, fn)
}
