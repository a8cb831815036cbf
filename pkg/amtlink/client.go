package amtlink

import (
	"net/netip"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
)

// A Client creates, reads and deletes AMT links in one network namespace
// over one rtnetlink socket. It is safe for concurrent use; Create's steps
// (resolve names, create, read back) are not atomic with respect to other
// processes changing links at the same time.
type Client struct {
	c *client
}

// Dial opens an rtnetlink socket in the namespace ns, or in the caller's
// current namespace when ns is nil. The socket keeps its namespace for its
// whole life, so ns may be closed as soon as Dial returns.
//
// Dial turns on extended acknowledgements, so the kernel's explanation of a
// failure reaches Error.Message, and tries strict checking of requests.
func Dial(ns *NetNS) (*Client, error) {
	c, err := newClient(ns)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close closes the socket.
func (c *Client) Close() error { return c.c.Close() }

// Spec describes an AMT link to create.
type Spec struct {
	// Name is the interface name: 1 to 15 bytes, no "/", no white space,
	// not "." or "..".
	Name string
	// AMT holds the IFLA_AMT_* attributes. AMT.Link may be nil when Dev is
	// set; setting both is an error.
	AMT ifla.AMT
	// Dev is the lower (underlay) device's name, resolved to AMT.Link in
	// the client's namespace.
	Dev string
	// Master is an optional bridge or VRF to enslave the link to.
	Master string
	// MTU is the link's MTU; 0 keeps the kernel's choice (the lower
	// device's MTU minus the AMT headers).
	MTU uint32
	// Up brings the link up as it is created.
	Up bool
	// Alias is the interface alias (IFLA_IFALIAS, "ip link set NAME alias
	// TEXT"), at most MaxAlias bytes; "" sets none. The kernel ignores
	// IFLA_IFALIAS in a create request (rtnl_newlink_create applies only
	// the attributes rtnl_create_link knows; checked on 6.1, 6.12 and 7.3),
	// so Create sets it with a second request on the new link, and deletes
	// the link again if that fails.
	Alias string
}

// Create validates s fully, without sending anything when it is invalid,
// then creates the link with one RTM_NEWLINK request that also carries the
// master, MTU and up flag, and returns the link as the kernel reports it.
//
// Invalid input gives an *Error wrapping an *ifla.FieldError, one line that
// names the field and the fix. A Dev or Master the namespace does not have
// gives an error compatible with errors.Is(err, os.ErrNotExist); an existing
// link of the same name one compatible with errors.Is(err, os.ErrExist); a
// kernel without the AMT driver ErrNoDriver; missing privileges
// os.ErrPermission.
//
// Create never leaves a half-made link behind: if any step after the kernel
// created the link fails, the link is deleted again.
func (c *Client) Create(s Spec) (*Link, error) { return c.c.Create(s) }

// Add creates the link s exactly as Create does, with the same checks,
// errors and guarantees, but does not read it back: one request and its
// acknowledgement, what "ip link add" costs. Use it when the new link is not
// needed, as in a batch of creates. (With Spec.MTU set it reads the link
// back anyway, since the driver overrides the MTU of the request; see
// Create.)
func (c *Client) Add(s Spec) error { return c.c.Add(s) }

// Get returns the AMT link called name. If there is no link of that name, or
// the link is of another kind ("amtg is a veth link, not amt"), the error is
// compatible with errors.Is(err, os.ErrNotExist); in the second case also
// with errors.Is(err, ErrNotAMT).
func (c *Client) Get(name string) (*Link, error) { return c.c.Get(name) }

// List returns every AMT link in the namespace, sorted by index. It asks the
// kernel for a dump filtered by kind, so its cost does not grow with the
// number of unrelated links. No AMT links give an empty slice and no error.
func (c *Client) List() ([]Link, error) { return c.c.List() }

// Delete deletes the AMT link called name. It refuses a link of another kind
// with an error compatible with errors.Is(err, ErrNotAMT) and
// errors.Is(err, os.ErrNotExist); a missing link gives os.ErrNotExist too.
func (c *Client) Delete(name string) error { return c.c.Delete(name) }

// Link is an AMT link as the kernel reports it.
type Link struct {
	Index     uint32
	Name      string
	MTU       uint32
	Flags     uint32 // IFF_* flags, e.g. IFF_UP (1)
	OperState rtnetlink.OperationalState
	Master    string // name of the master device, "" if none
	LowerName string // name of the device AMT.Link refers to; "" if it is gone or in another namespace
	AMT       ifla.AMT
	Stats     *rtnetlink.LinkStats64 // nil if the kernel sent none
	Alias     string                 // IFLA_IFALIAS, "" if none
}

// iffUp is IFF_UP from <net/if.h>, spelled out so this file builds on every
// platform.
const iffUp = 0x1

// Up reports whether the link is administratively up (IFF_UP).
func (l *Link) Up() bool { return l.Flags&iffUp != 0 }

// Relay returns the relay a gateway link has discovered (IFLA_AMT_REMOTE_IP)
// and true, or false while it has none: the kernel reports 0.0.0.0, or
// nothing, until discovery has worked. Watch's relay events follow the
// same rule.
func (l *Link) Relay() (netip.Addr, bool) {
	if relaySet(l.AMT.Remote) {
		return l.AMT.Remote, true
	}
	return netip.Addr{}, false
}

// relaySet reports whether a is a discovered relay: the kernel reports
// 0.0.0.0, or nothing, while a gateway is still discovering.
func relaySet(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }
