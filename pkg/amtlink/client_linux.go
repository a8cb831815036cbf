//go:build linux

package amtlink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/socket"
	"golang.org/x/sys/unix"
)

// client is the Linux implementation behind Client. Its requests and
// replies are encoded and decoded by this package on nlwire's framing
// (request_linux.go, decode_linux.go) and go through one round trip
// (exchange, conn_linux.go) on a NETLINK_ROUTE socket of its own (dialRoute),
// opened in another namespace if asked.
// rtnetlink.Conn is not used: it can neither look a link up by name nor
// take a fake socket (STYLE §4, §5).
type client struct {
	s sock
	// conn is the real socket's owner, nil behind a fake sock: Watch
	// asks it for the socket's namespace.
	conn *socket.Conn
	// pid is the socket's port ID, the nlmsg_pid of its replies.
	pid uint32
	// subscribe, when not nil, replaces notifications as the source of
	// Watch's and Subscribe's notifications (a fake kernel's, in tests);
	// groups is the netlink.Config.Groups mask asked for.
	subscribe func(ctx context.Context, groups uint32) (<-chan received, func(), error)

	// mu serialises round trips; seq, rx and dumpLeft are exchange's,
	// under mu.
	mu  sync.Mutex
	seq uint32
	rx  []byte
	// dumpLeft is set while a dump may still be running on the socket:
	// from a dump request until its NLMSG_DONE (or another request's, of
	// a dump left behind) is read. An answer that ends early (an error,
	// lost datagrams) leaves the kernel's dump running, to go on in the
	// next recvfrom; answers are not read with readQueued then.
	dumpLeft bool
	// txBuf is Create's request, reused under txMu.
	txMu  sync.Mutex
	txBuf []byte

	// devs caches the ifindex of Spec.Dev names, so that a run of creates
	// on one device (a batch) looks the device up once, as iproute2's
	// ll_map cache does. A stale entry shows as ENODEV from the create
	// request ("Can't find stream device"): Create then drops it, looks
	// the device up again and retries once.
	devMu sync.Mutex
	devs  map[string]uint32
}

// newClient dials NETLINK_ROUTE, inside ns when it is not nil.
func newClient(ns *NetNS) (*client, error) {
	op, nsfd := "dial", 0
	if ns != nil {
		op = "dial netns " + ns.name
		if ns.fd < 0 {
			return nil, &Error{Op: op, Err: errors.New("amtlink: the NetNS is closed")}
		}
		nsfd = ns.fd
	}
	conn, err := dialRoute(nsfd)
	if err != nil {
		return nil, kernelError(op, "", err)
	}
	c, err := initClient(conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// dialRoute opens a NETLINK_ROUTE socket bound to a port ID the kernel
// picks, in the namespace nsfd refers to unless it is 0. The namespace
// switch is mdlayher/socket's (socket.Config.NetNS), on a locked, throwaway
// thread, as netlink.Dial's is; this package never calls setns itself.
// netlink.Dial is not used because each netlink.Conn seeds a math/rand
// source for its sequence numbers, which this client keeps itself: about
// 36k instructions, a good part of a short command's start-up.
func dialRoute(nsfd int) (*socket.Conn, error) {
	var cfg *socket.Config
	if nsfd != 0 {
		cfg = &socket.Config{NetNS: nsfd}
	}
	conn, err := socket.Socket(unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE, "netlink", cfg)
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(&unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// initClient prepares conn, a real netlink socket.
func initClient(conn *socket.Conn) (*client, error) {
	// Extended acknowledgements put the kernel's reason for a failure into
	// Error.Message ("Invalid Local address"). Strict checking makes the
	// kernel reject malformed requests instead of ignoring parts of them.
	// Both are missing on old kernels; neither is needed to work, so
	// failures are ignored.
	_ = conn.SetsockoptInt(unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	_ = conn.SetsockoptInt(unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, &Error{Op: "dial", Err: fmt.Errorf("amtlink: the netlink socket: %w", err)}
	}
	pid, err := portID(rc)
	if err != nil {
		return nil, &Error{Op: "dial", Err: err}
	}
	return &client{s: rawSock{conn: conn, rc: rc}, conn: conn, pid: pid}, nil
}

func (c *client) Close() error { return c.s.close() }

// kernelError turns an error from the netlink package into an *Error,
// keeping the kernel's extended acknowledgement message and the raw errno.
func kernelError(op, name string, err error) error {
	e := &Error{Op: op, Name: name, Err: err}
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		// Keep the errno (or *os.SyscallError) without the OpError
		// wrapper, whose text repeats the message with an offset.
		e.Message = oe.Message
		e.Err = oe.Err
	}
	if errors.Is(e.Err, unix.EOPNOTSUPP) {
		if op == "create" {
			e.Err = &kernelErr{sentinel: ErrNoDriver, errno: e.Err}
		} else {
			e.Err = &kernelErr{sentinel: ErrNotSupported, errno: e.Err}
		}
	}
	return e
}

// getRaw looks a link up by name with one RTM_GETLINK request (ifindex 0,
// IFLA_IFNAME), which the kernel answers with that link only.
func (c *client) getRaw(op, name string) (*rawLink, error) {
	r, err := lookupOne(c, op, name, linkRequest(unix.RTM_GETLINK, flagsGet, 0, name, false), decodeLink)
	return r, notFound(err, "link", name)
}

// lookup finds one device by index (when index is not 0) or by name, with
// a light request, and returns it. Errors are *Error for op.
func (c *client) lookup(op, errName string, index uint32, name string) (*Device, error) {
	d, err := lookupOne(c, op, errName, linkRequest(unix.RTM_GETLINK, flagsGet, index, name, true), decodeDevice)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// lookupOne sends the lookup req and decodes the link it is answered with.
func lookupOne[T any](c *client, op, name string, req []byte, decode func([]byte) (T, error)) (T, error) {
	var got T
	found := false
	err := c.exchange(req, nil, func(m reply) error {
		if m.typ != unix.RTM_NEWLINK {
			return nil
		}
		var err error
		got, err = decode(m.data)
		found = err == nil
		return err
	})
	switch {
	case err != nil:
		return got, c.opError(op, name, err)
	case !found:
		return got, &Error{Op: op, Name: name, Err: errors.New("amtlink: kernel answered a lookup without a link")}
	}
	return got, nil
}

// opError turns an error of exchange into an *Error for op and name: the
// callback's errors may already be one; the kernel's are kernelError's.
func (c *client) opError(op, name string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	var oe *netlink.OpError
	if errors.As(err, &oe) {
		return kernelError(op, name, err)
	}
	return &Error{Op: op, Name: name, Err: err}
}

// notFound rewrites an ENODEV/ENOENT *Error from a lookup of what (a link,
// the dev, the master) into a readable line that still matches
// os.ErrNotExist and the errno.
func notFound(err error, what, name string) error {
	var e *Error
	if errors.As(err, &e) && (errors.Is(e.Err, unix.ENODEV) || errors.Is(e.Err, unix.ENOENT)) {
		e.Err = &lookupError{field: what, name: name, err: e.Err}
	}
	return err
}

// names resolves ifindexes to names for one call, asking the kernel once
// per distinct index.
type names struct {
	c     *client
	op    string
	cache map[uint32]string
}

// remember records that index is called name.
func (n *names) remember(index uint32, name string) {
	if n.cache == nil {
		n.cache = make(map[uint32]string, 2)
	}
	n.cache[index] = name
}

func (n *names) name(index uint32) (string, error) {
	if index == 0 {
		return "", nil
	}
	if s, ok := n.cache[index]; ok {
		return s, nil
	}
	var s string
	d, err := n.c.lookup(n.op, "", index, "")
	switch {
	case err == nil:
		s = d.Name
	case errors.Is(err, unix.ENODEV):
		// Gone, or the index is in another namespace: report "".
	default:
		return "", err
	}
	n.remember(index, s)
	return s, nil
}

// link converts r into a Link, resolving the master's and lower device's
// names through n.
func (r *rawLink) link(n *names) (Link, error) {
	l := Link{
		Index:     r.index,
		Name:      r.name,
		MTU:       r.mtu,
		Flags:     r.flags,
		OperState: r.operState,
		AMT:       r.amt,
		Stats:     r.stats,
		Alias:     r.alias,
	}
	var err error
	if r.hasMaster {
		if l.Master, err = n.name(r.master); err != nil {
			return Link{}, err
		}
	}
	if r.amt.Link != nil {
		if l.LowerName, err = n.name(*r.amt.Link); err != nil {
			return Link{}, err
		}
	}
	return l, nil
}

func (c *client) Get(name string) (*Link, error) {
	return c.get("get", name)
}

// getAMT checks name and looks the link up for op, refusing one that is
// not an amt link (saying nothing was done when refuse is set).
func (c *client) getAMT(op, name string, refuse bool) (*rawLink, error) {
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	r, err := c.getRaw(op, name)
	if err != nil {
		return nil, err
	}
	if !r.isAMT {
		return nil, &Error{Op: op, Name: name, Err: &notAMTError{name: name, kind: r.kind(), refuse: refuse}}
	}
	return r, nil
}

func (c *client) get(op, name string) (*Link, error) {
	r, err := c.getAMT(op, name, false)
	if err != nil {
		return nil, err
	}
	l, err := r.link(&names{c: c, op: op})
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func (c *client) List() ([]Link, error) {
	// The kernel filters a link dump by IFLA_LINKINFO/IFLA_INFO_KIND. A
	// kernel that does not know the kind (no AMT driver) ignores the filter
	// and dumps everything, hence the kind check in dumpAMT as well.
	raws, err := c.dumpAMT("list", false)
	if err != nil {
		return nil, err
	}
	n := &names{c: c, op: "list"}
	links := make([]Link, 0, len(raws))
	for _, r := range raws {
		l, err := r.link(n)
		if err != nil {
			return nil, err
		}
		links = append(links, l)
	}
	return links, nil
}

// dumpAMT dumps the AMT links, sorted by index, without statistics when
// light. Links of other kinds (a kernel that ignores the kind filter) are
// skipped without being decoded.
func (c *client) dumpAMT(op string, light bool) ([]*rawLink, error) {
	var raws []*rawLink
	err := c.exchange(amtDumpRequest(light), func() { raws = raws[:0] }, func(m reply) error {
		if m.typ != unix.RTM_NEWLINK || !isAMTMessage(m.data) {
			return nil
		}
		r, err := decodeLink(m.data)
		if err != nil {
			return err
		}
		raws = append(raws, r)
		return nil
	})
	if err != nil {
		return nil, c.opError(op, "", err)
	}
	slices.SortFunc(raws, func(a, b *rawLink) int { return cmp.Compare(a.index, b.index) })
	return raws, nil
}

func (c *client) Delete(name string) error {
	r, err := c.getAMT("delete", name, true)
	if err != nil {
		return err
	}
	err = c.exchange(linkRequest(unix.RTM_DELLINK, flagsChange, r.index, "", false), nil, ignoreReplies)
	if err != nil {
		return notFound(c.opError("delete", name, err), "link", name)
	}
	return nil
}

// lookupIndex resolves a device name for Create.
func (c *client) lookupIndex(op, linkName, field, dev string) (uint32, error) {
	d, err := c.lookup(op, linkName, 0, dev)
	if err != nil {
		return 0, notFound(err, field, dev)
	}
	return d.Index, nil
}

// devIndex resolves Spec.Dev for Create, from the cache when it can. cached
// reports whether the index came from the cache.
func (c *client) devIndex(op, linkName, dev string) (idx uint32, cached bool, err error) {
	c.devMu.Lock()
	idx, ok := c.devs[dev]
	c.devMu.Unlock()
	if ok {
		return idx, true, nil
	}
	if idx, err = c.lookupIndex(op, linkName, "dev", dev); err != nil {
		return 0, false, err
	}
	c.devMu.Lock()
	if c.devs == nil {
		c.devs = make(map[string]uint32)
	}
	c.devs[dev] = idx
	c.devMu.Unlock()
	return idx, false, nil
}

func (c *client) forgetDev(dev string) {
	c.devMu.Lock()
	delete(c.devs, dev)
	c.devMu.Unlock()
}

func (c *client) Create(s Spec) (*Link, error) { return c.create(s, true) }

func (c *client) Add(s Spec) error {
	_, err := c.create(s, false)
	return err
}

// create is Create, and Add when readBack is false: then the kernel is not
// asked to echo the link and nothing is decoded, unless Spec.MTU needs the
// read-back to be set right (see readBack).
func (c *client) create(s Spec, readBack bool) (*Link, error) {
	const op = "create"
	readBack = readBack || s.MTU != 0
	if err := s.Validate(); err != nil {
		return nil, &Error{Op: op, Name: s.Name, Err: err}
	}
	// Names resolved here are remembered for the read-back.
	n := &names{c: c, op: op}
	a := s.AMT
	// resolveDev sets IFLA_AMT_LINK from Spec.Dev and reports whether the
	// index came from the cache.
	resolveDev := func() (bool, error) {
		if s.Dev == "" {
			return false, nil
		}
		idx, cached, err := c.devIndex(op, s.Name, s.Dev)
		if err != nil {
			return false, err
		}
		a.Link = &idx
		n.remember(idx, s.Dev)
		return cached, nil
	}
	cached, err := resolveDev()
	if err != nil {
		return nil, err
	}
	var master uint32
	if s.Master != "" {
		if master, err = c.lookupIndex(op, s.Name, "master", s.Master); err != nil {
			return nil, err
		}
		n.remember(master, s.Master)
	}
	// One request: the kernel creates the link, enslaves it, sets the MTU
	// and brings it up, or undoes all of it and reports why.
	echo, err := c.newLink(op, &s, &a, master, readBack && master == 0)
	if err != nil && cached && errors.Is(err, unix.ENODEV) {
		// The cached index of dev may be stale: look it up again and
		// retry once.
		c.forgetDev(s.Dev)
		delete(n.cache, *a.Link)
		if _, err = resolveDev(); err != nil {
			return nil, err
		}
		echo, err = c.newLink(op, &s, &a, master, readBack && master == 0)
	}
	if err != nil {
		return nil, masterNotSupported(err, s.Master)
	}
	if s.Alias != "" {
		// The kernel ignores IFLA_IFALIAS in a create request: set it on
		// the new link, by name (its index may not be known yet).
		if err := c.exchange(setRequest(0, s.Name, 0, nil, nil, &s.Alias), nil, ignoreReplies); err != nil {
			err = c.opError(op, s.Name, err)
			if uerr := c.undoCreate(s.Name); uerr != nil {
				var e *Error
				if errors.As(err, &e) {
					e.Err = fmt.Errorf("%w; deleting the half-made link failed too: %v", e.Err, uerr)
				}
			}
			return nil, err
		}
		if echo != nil {
			echo.alias = s.Alias
		}
	}
	if !readBack {
		// The request carried kind amt and NLM_F_EXCL: the kernel made
		// this link, as asked, or said why not.
		return nil, nil
	}

	// From here on the link exists: any failure deletes it again.
	l, err := c.readBack(op, s, n, echo)
	if err != nil {
		if uerr := c.undoCreate(s.Name); uerr != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Err = fmt.Errorf("%w; deleting the half-made link failed too: %v", e.Err, uerr)
			}
		}
		return nil, err
	}
	return l, nil
}

// newLink sends Create's RTM_NEWLINK for s, with a as its AMT data and
// master (0 for none) as IFLA_MASTER. With echo it asks the kernel to echo
// the new link (NLM_F_ECHO, honoured for links since Linux 6.1) and returns
// the echo, which saves the read-back request; it returns nil when none
// came (older kernels). Create asks for no echo when there is a master: the
// kernel sends it before it enslaves the link.
//
// The request is built in c.txBuf, and the echo is decoded where it lies in
// the receive buffer: a batch of creates allocates little per link. An echo
// that cannot be decoded is dropped: Create reads the link back instead,
// and fails there.
func (c *client) newLink(op string, s *Spec, a *ifla.AMT, master uint32, echo bool) (*rawLink, error) {
	flags := uint16(flagsCreate)
	if echo {
		flags |= nlwire.FlagEcho
	}
	c.txMu.Lock()
	defer c.txMu.Unlock()
	b, err := appendCreateRequest(c.txBuf[:0], flags, 0, s, a, master)
	if err != nil {
		return nil, &Error{Op: op, Name: s.Name, Err: err}
	}
	c.txBuf = b
	var got *rawLink
	err = c.exchange(b, nil, func(m reply) error {
		if m.typ == unix.RTM_NEWLINK {
			if l, err := decodeLink(m.data); err == nil {
				got = l
			}
		}
		return nil
	})
	if err != nil {
		return nil, c.opError(op, s.Name, err)
	}
	if got != nil && got.name != s.Name {
		return nil, nil // not ours after all: read back by name
	}
	return got, nil
}

// ignoreReplies is the callback of requests answered by an acknowledgement
// alone.
func ignoreReplies(reply) error { return nil }

// masterNotSupported tells a master that cannot take ports apart from a
// missing AMT driver: both answer EOPNOTSUPP to the create request, but only
// the missing driver comes with the extack "Unknown device type". (A kernel
// too old to send that message is taken to lack the driver when no master
// was asked for.)
func masterNotSupported(err error, master string) error {
	var e *Error
	if master == "" || !errors.As(err, &e) || !errors.Is(e.Err, ErrNoDriver) || e.Message == unknownKindMsg {
		return err
	}
	e.Err = &kernelErr{
		sentinel: fmt.Errorf("%w: master %q cannot take ports (use a bridge, bond or VRF)", ErrNotSupported, master),
		errno:    unix.EOPNOTSUPP,
	}
	return err
}

// unknownKindMsg is the kernel's extack for a link kind it does not know
// (net/core/rtnetlink.c, rtnl_newlink).
const unknownKindMsg = "Unknown device type"

// readBack reads the link Create just made (unless r, the kernel's echo,
// already has it), fixing up its MTU if needed.
func (c *client) readBack(op string, s Spec, n *names, r *rawLink) (*Link, error) {
	var err error
	if r == nil {
		if r, err = c.getRaw(op, s.Name); err != nil {
			return nil, err
		}
	}
	if !r.isAMT {
		return nil, &Error{Op: op, Name: s.Name, Err: &notAMTError{name: s.Name, kind: r.kind()}}
	}
	if s.MTU != 0 && r.mtu != s.MTU {
		// The AMT driver derives the MTU from the lower device in its
		// newlink, overwriting the IFLA_MTU of the create request (which
		// the kernel applied first); set it again on the new link.
		if err := c.setMTU(op, s.Name, r.index, s.MTU); err != nil {
			return nil, err
		}
		if r, err = c.getRaw(op, s.Name); err != nil {
			return nil, err
		}
		if got := r.mtu; got != s.MTU {
			return nil, &Error{Op: op, Name: s.Name, Err: fmt.Errorf("amtlink: asked for mtu %d, the kernel set %d", s.MTU, got)}
		}
	}
	l, err := r.link(n)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

func (c *client) setMTU(op, name string, index, mtu uint32) error {
	if err := c.exchange(setRequest(index, "", mtu, nil, nil, nil), nil, ignoreReplies); err != nil {
		return c.opError(op, name, err)
	}
	return nil
}

// undoCreate deletes a link Create made but could not finish. The name is
// ours: the create request carried Excl, so the kernel made this link for us.
// It deletes by name (ifindex 0, IFLA_IFNAME), since the index may not be
// known yet.
func (c *client) undoCreate(name string) error {
	if err := c.exchange(linkRequest(unix.RTM_DELLINK, flagsChange, 0, name, false), nil, ignoreReplies); err != nil {
		return c.opError("delete", name, err)
	}
	return nil
}
