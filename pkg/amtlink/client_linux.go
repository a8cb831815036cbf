//go:build linux

package amtlink

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"syscall"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// client is the Linux implementation behind Client. It owns a plain
// *netlink.Conn, because rtnetlink.Conn can neither look a link up by name
// nor be built on a fake connection from outside its package (STYLE §4,
// §5). rtnetlink.LinkMessage encodes its lookups and changes; Create's
// request (appendCreateRequest) and every reply (decodeLink) are encoded
// and decoded here, with the same bytes and stricter checks, at a fraction
// of the allocations.
type client struct {
	c *netlink.Conn
	// mu serialises requests on c: dumps and Create's echo are read
	// outside c's own lock (see dump and newLink).
	mu sync.Mutex
	// rxBuf is receiveEcho's buffer, txBuf Create's request, seq the
	// sequence number of Create's last request; all used under mu.
	rxBuf, txBuf []byte
	seq          uint32
	// rc is c's socket for reading and writing it directly, nil for a
	// fake connection (nltest), which has none.
	rc syscall.RawConn

	// devs caches the ifindex of Spec.Dev names, so that a run of creates
	// on one device (a batch) looks the device up once, as iproute2's
	// ll_map cache does. A stale entry shows as ENODEV from the create
	// request ("Can't find stream device"): Create then drops it, looks
	// the device up again and retries once.
	devMu sync.Mutex
	devs  map[string]uint32
}

// newClient dials NETLINK_ROUTE, inside ns when it is not nil. The namespace
// switch is done by the netlink package (netlink.Config.NetNS) on a locked,
// throwaway thread; this package never calls setns itself.
func newClient(ns *NetNS) (*client, error) {
	var cfg *netlink.Config
	op := "dial"
	if ns != nil {
		op = "dial netns " + ns.name
		if ns.fd < 0 {
			return nil, &Error{Op: op, Err: errors.New("amtlink: the NetNS is closed")}
		}
		cfg = &netlink.Config{NetNS: ns.fd}
	}
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, cfg)
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

// initClient prepares conn, a real or a fake (nltest) connection.
func initClient(conn *netlink.Conn) (*client, error) {
	// Extended acknowledgements put the kernel's reason for a failure into
	// netlink.OpError.Message ("Invalid Local address"), which we keep in
	// Error.Message. Strict checking makes the kernel reject malformed
	// requests instead of ignoring parts of them. Both are missing on old
	// kernels (and on fakes); neither is needed to work, so failures are
	// ignored.
	_ = conn.SetOption(netlink.ExtendedAcknowledge, true)
	_ = conn.SetOption(netlink.GetStrictCheck, true)
	c := &client{c: conn}
	if rc, err := conn.SyscallConn(); err == nil {
		c.rc = rc
	}
	return c, nil
}

func (c *client) Close() error { return c.c.Close() }

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

// execute sends one request built from lm and returns the replies. It maps
// every failure to an *Error for op and name.
func (c *client) execute(op, name string, typ netlink.HeaderType, flags netlink.HeaderFlags, lm *rtnetlink.LinkMessage) ([]netlink.Message, error) {
	b, err := lm.MarshalBinary()
	if err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	msgs, err := c.exec(netlink.Message{
		Header: netlink.Header{Type: typ, Flags: flags},
		Data:   b,
	})
	if err != nil {
		return nil, kernelError(op, name, err)
	}
	return msgs, nil
}

// rawLink is one decoded RTM_NEWLINK message: the fields a Link needs, and
// its AMT data when it is an amt link.
type rawLink struct {
	index, flags uint32
	name         string
	mtu          uint32
	master       uint32 // valid when hasMaster
	hasMaster    bool
	operState    rtnetlink.OperationalState
	stats        *rtnetlink.LinkStats64 // nil when the kernel sent none
	linkKind     string                 // IFLA_INFO_KIND, "" without IFLA_LINKINFO
	amt          ifla.AMT
	isAMT        bool
}

func (r *rawLink) kind() string { return r.linkKind }

// decodeLink decodes the payload of an RTM_NEWLINK message in one pass over
// its attributes, allocating the result, its name, kind and statistics,
// and the AMT data's fields.
// It is strict where rtnetlink's LinkMessage decoder is lenient (STYLE §5):
// broken framing of any top-level attribute or of IFLA_LINKINFO, a
// fixed-size attribute of the wrong size, and malformed AMT data are
// errors, never a silently half-decoded link.
func decodeLink(b []byte) (*rawLink, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return nil, errors.New("amtlink: decoding link message: too short for an ifinfomsg")
	}
	if len(b) == unix.SizeofIfInfomsg {
		return nil, errors.New("amtlink: decoding link message: no attributes")
	}
	r := &rawLink{
		index: binary.NativeEndian.Uint32(b[4:8]),
		flags: binary.NativeEndian.Uint32(b[8:12]),
	}
	var info []byte
	seenInfo := false
	err := walkAttrs(b[unix.SizeofIfInfomsg:], func(t uint16, p []byte) error {
		if want := fixedLinkAttrLen(t); want != 0 && len(p) != want {
			return fmt.Errorf("%w: type %d has %d bytes, want %d", errMalformed, t, len(p), want)
		}
		switch t {
		case unix.IFLA_IFNAME:
			r.name = string(bytes.TrimRight(p, "\x00"))
		case unix.IFLA_MTU:
			r.mtu = binary.NativeEndian.Uint32(p)
		case unix.IFLA_MASTER:
			r.master, r.hasMaster = binary.NativeEndian.Uint32(p), true
		case unix.IFLA_OPERSTATE:
			r.operState = rtnetlink.OperationalState(p[0])
		case unix.IFLA_ADDRESS, unix.IFLA_BROADCAST:
			if len(p) < 4 || len(p) > 32 {
				return fmt.Errorf("%w: hardware address of %d bytes", errMalformed, len(p))
			}
		case unix.IFLA_STATS: // not read; any length a newer kernel may use
			if len(p) < 92 || len(p)%4 != 0 {
				return fmt.Errorf("%w: IFLA_STATS of %d bytes", errMalformed, len(p))
			}
		case unix.IFLA_STATS64:
			s, err := decodeStats64(p)
			if err != nil {
				return err
			}
			r.stats = s
		case unix.IFLA_LINKINFO:
			if err := walkAttrs(p, func(uint16, []byte) error { return nil }); err != nil {
				return err
			}
			if !seenInfo {
				info, seenInfo = p, true
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("amtlink: decoding link %d: %w", r.index, err)
	}
	r.linkKind = string(bytes.TrimRight(findAttr(info, unix.IFLA_INFO_KIND), "\x00"))
	if r.linkKind != Kind {
		return r, nil
	}
	r.isAMT = true
	if err := r.amt.UnmarshalBinary(findAttr(info, unix.IFLA_INFO_DATA)); err != nil {
		return nil, fmt.Errorf("amtlink: decoding link %s: %w", r.name, err)
	}
	return r, nil
}

// fixedLinkAttrLen is the payload size of the fixed-size top-level link
// attributes that are read, or 0.
func fixedLinkAttrLen(t uint16) int {
	switch t {
	case unix.IFLA_MTU, unix.IFLA_LINK, unix.IFLA_MASTER, unix.IFLA_TXQLEN, unix.IFLA_GROUP,
		unix.IFLA_CARRIER_CHANGES, unix.IFLA_CARRIER_UP_COUNT, unix.IFLA_CARRIER_DOWN_COUNT:
		return 4
	case unix.IFLA_OPERSTATE, unix.IFLA_LINKMODE, unix.IFLA_CARRIER:
		return 1
	}
	return 0
}

// decodeStats64 decodes struct rtnl_link_stats64: 23 counters up to Linux
// 4.6, rx_nohandler since, rx_otherhost_dropped since 5.19. Counters a
// newer kernel appends are ignored.
func decodeStats64(p []byte) (*rtnetlink.LinkStats64, error) {
	if len(p) < 184 || len(p)%8 != 0 {
		return nil, fmt.Errorf("%w: IFLA_STATS64 of %d bytes", errMalformed, len(p))
	}
	s := &rtnetlink.LinkStats64{}
	fields := [...]*uint64{
		&s.RXPackets, &s.TXPackets, &s.RXBytes, &s.TXBytes, &s.RXErrors, &s.TXErrors,
		&s.RXDropped, &s.TXDropped, &s.Multicast, &s.Collisions,
		&s.RXLengthErrors, &s.RXOverErrors, &s.RXCRCErrors, &s.RXFrameErrors, &s.RXFIFOErrors, &s.RXMissedErrors,
		&s.TXAbortedErrors, &s.TXCarrierErrors, &s.TXFIFOErrors, &s.TXHeartbeatErrors, &s.TXWindowErrors,
		&s.RXCompressed, &s.TXCompressed, &s.RXNoHandler, &s.RXOtherhostDropped,
	}
	for i, f := range fields {
		if 8*i+8 > len(p) {
			break
		}
		*f = binary.NativeEndian.Uint64(p[8*i:])
	}
	return s, nil
}

// errMalformed reports broken attribute framing in a kernel message.
var errMalformed = errors.New("malformed netlink attribute")

// walkAttrs calls fn for each attribute in b (type without flag bits) and
// fails on broken framing, with the rules of netlink.AttributeDecoder: a
// length of 0 is a bare header, 1-3 or past the end is malformed, and so
// are 1-3 trailing bytes.
func walkAttrs(b []byte, fn func(t uint16, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return fmt.Errorf("%w: %d trailing bytes", errMalformed, len(b))
		}
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // NLA_TYPE_MASK
		switch {
		case l == 0:
			l = 4
		case l < 4 || l > len(b):
			return fmt.Errorf("%w: type %d, length %d", errMalformed, t, l)
		}
		if err := fn(t, b[4:l]); err != nil {
			return err
		}
		l = (l + 3) &^ 3
		if l >= len(b) {
			return nil
		}
		b = b[l:]
	}
	return nil
}

// isAMTMessage reports whether the RTM_NEWLINK payload b is of kind "amt",
// looking only at IFLA_LINKINFO/IFLA_INFO_KIND. It allocates nothing, so
// skipping the other links of an unfiltered dump is cheap.
func isAMTMessage(b []byte) bool {
	if len(b) < unix.SizeofIfInfomsg {
		return false
	}
	info := findAttr(b[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO)
	kind := findAttr(info, unix.IFLA_INFO_KIND)
	return string(bytes.TrimRight(kind, "\x00")) == Kind
}

// findAttr returns the payload of the first attribute of type typ (flag
// bits ignored) in the attribute stream b, or nil.
func findAttr(b []byte, typ uint16) []byte {
	// The same framing rules as netlink.AttributeDecoder: a length of 0
	// is a header without payload, 1-3 or past the end is malformed.
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		t := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // NLA_TYPE_MASK
		switch {
		case l == 0:
			l = 4
		case l < 4 || l > len(b):
			return nil
		}
		if t == typ {
			return b[4:l]
		}
		l = (l + 3) &^ 3
		if l >= len(b) {
			return nil
		}
		b = b[l:]
	}
	return nil
}

// getRaw looks a link up by name with one RTM_GETLINK request (ifindex 0,
// IFLA_IFNAME), which the kernel answers with that link only.
func (c *client) getRaw(op, name string) (*rawLink, error) {
	req := &rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: name},
	}
	// No Acknowledge: the reply itself is the answer, an ack would be an
	// extra message.
	msgs, err := c.execute(op, name, unix.RTM_GETLINK, netlink.Request, req)
	if err != nil {
		return nil, notFound(err, "link", name)
	}
	return oneLink(op, name, msgs)
}

// Name and index lookups ask the kernel to leave out the statistics
// (IFLA_EXT_MASK RTEXT_FILTER_SKIP_STATS, Linux 5.10+; older kernels ignore
// the bit) and decode nothing but the index and IFLA_IFNAME.
const (
	iflaExtMask          = 0x1d   // IFLA_EXT_MASK
	rtextFilterSkipStats = 1 << 3 // RTEXT_FILTER_SKIP_STATS
)

// appendSkipStats appends IFLA_EXT_MASK = RTEXT_FILTER_SKIP_STATS to an
// RTM_GETLINK request body, so that the kernel leaves out the statistics:
// the lookups and dumps that only want names, flags or AMT data are then a
// fraction of the size.
func appendSkipStats(b []byte) []byte {
	b = append(b, 8, 0, iflaExtMask, 0)
	return binary.NativeEndian.AppendUint32(b, rtextFilterSkipStats)
}

// lightRequest marshals lm as an RTM_GETLINK body that asks for no
// statistics.
func lightRequest(lm *rtnetlink.LinkMessage) ([]byte, error) {
	b, err := lm.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return appendSkipStats(b), nil
}

// lookup finds one link by index (when index is not 0) or by name and
// returns its index and name. Errors are *Error for op.
func (c *client) lookup(op, errName string, index uint32, name string) (uint32, string, error) {
	req := &rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: index}
	if index == 0 {
		req.Attributes = &rtnetlink.LinkAttributes{Name: name}
	}
	b, err := lightRequest(req)
	if err != nil {
		return 0, "", &Error{Op: op, Name: errName, Err: err}
	}
	msgs, err := c.exec(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   b,
	})
	if err != nil {
		return 0, "", kernelError(op, errName, err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		idx := binary.NativeEndian.Uint32(m.Data[4:8])
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			return 0, "", &Error{Op: op, Name: errName, Err: fmt.Errorf("amtlink: decoding link %d: %w", idx, err)}
		}
		var ifname string
		for ad.Next() {
			if ad.Type() == unix.IFLA_IFNAME {
				ifname = ad.String()
			}
		}
		if err := ad.Err(); err != nil {
			return 0, "", &Error{Op: op, Name: errName, Err: fmt.Errorf("amtlink: decoding link %d: %w", idx, err)}
		}
		return idx, ifname, nil
	}
	return 0, "", &Error{Op: op, Name: errName, Err: errors.New("amtlink: kernel answered a lookup without a link")}
}

func oneLink(op, name string, msgs []netlink.Message) (*rawLink, error) {
	var links []*rawLink
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		r, err := decodeLink(m.Data)
		if err != nil {
			return nil, &Error{Op: op, Name: name, Err: err}
		}
		links = append(links, r)
	}
	if len(links) != 1 {
		return nil, &Error{Op: op, Name: name, Err: fmt.Errorf("amtlink: kernel answered a lookup with %d links, want 1", len(links))}
	}
	return links[0], nil
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
	_, s, err := n.c.lookup(n.op, "", index, "")
	switch {
	case err == nil:
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

func (c *client) get(op, name string) (*Link, error) {
	if err := checkIfName("name", name); err != nil {
		return nil, &Error{Op: op, Name: name, Err: err}
	}
	r, err := c.getRaw(op, name)
	if err != nil {
		return nil, err
	}
	if !r.isAMT {
		return nil, &Error{Op: op, Name: name, Err: &notAMTError{name: name, kind: r.kind()}}
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
	// and dumps everything, hence the kind check below as well.
	req := &rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Info: &rtnetlink.LinkInfo{Kind: Kind}},
	}
	b, err := req.MarshalBinary()
	if err != nil {
		return nil, &Error{Op: "list", Err: err}
	}
	var raws []*rawLink
	err = c.dump(unix.RTM_GETLINK, b, func(m netlink.Message) error {
		if m.Header.Type != unix.RTM_NEWLINK || !isAMTMessage(m.Data) {
			// Not ours (an unfiltered dump): don't pay for decoding it,
			// nor fail on it.
			return nil
		}
		r, err := decodeLink(m.Data)
		if err != nil {
			return &Error{Op: "list", Err: err}
		}
		raws = append(raws, r)
		return nil
	})
	if err != nil {
		return nil, dumpError("list", err)
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
	slices.SortFunc(links, func(a, b Link) int { return cmp.Compare(a.Index, b.Index) })
	return links, nil
}

func (c *client) Delete(name string) error {
	if err := checkIfName("name", name); err != nil {
		return &Error{Op: "delete", Name: name, Err: err}
	}
	r, err := c.getRaw("delete", name)
	if err != nil {
		return err
	}
	if !r.isAMT {
		return &Error{Op: "delete", Name: name, Err: &notAMTError{name: name, kind: r.kind(), refuse: true}}
	}
	_, err = c.execute("delete", name, unix.RTM_DELLINK, netlink.Request|netlink.Acknowledge,
		&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Index: r.index})
	return notFound(err, "link", name)
}

// lookupIndex resolves a device name for Create.
func (c *client) lookupIndex(op, linkName, field, dev string) (uint32, error) {
	idx, _, err := c.lookup(op, linkName, 0, dev)
	return idx, notFound(err, field, dev)
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
// The request is built in c.txBuf and written to the socket directly, and
// the replies are read into c.rxBuf and decoded in place: a batch of
// creates allocates little per link.
func (c *client) newLink(op string, s *Spec, a *ifla.AMT, master uint32, echo bool) (*rawLink, error) {
	flags := netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge
	if echo {
		flags |= netlink.Echo
	}
	// The echo and the acknowledgement come as two reads: hold mu across
	// them, since netlink.Conn locks one call at a time.
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	b, err := appendCreateRequest(c.txBuf[:0], uint16(flags), c.seq, s, a, master)
	if err != nil {
		return nil, &Error{Op: op, Name: s.Name, Err: err}
	}
	c.txBuf = b
	var got *rawLink
	if c.rc != nil {
		if err = sendRaw(c.rc, b); err == nil {
			got, err = c.receiveEcho(c.rc, c.seq)
		}
	} else {
		got, err = c.newLinkConn(b)
	}
	if err != nil {
		return nil, kernelError(op, s.Name, err)
	}
	if got != nil && got.name != s.Name {
		return nil, nil // not ours after all: read back by name
	}
	return got, nil
}

// newLinkConn sends the request b through netlink.Conn and reads its
// replies there: the path of a fake connection, which has no socket.
func (c *client) newLinkConn(b []byte) (*rawLink, error) {
	h, _, err := nextMessage(b)
	if err != nil {
		return nil, err
	}
	req, err := c.c.Send(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(h.Header.Type), Flags: netlink.HeaderFlags(h.Header.Flags)},
		Data:   h.Data,
	})
	if err != nil {
		return nil, err
	}
	var echo *rawLink
	for {
		msgs, err := c.c.Receive()
		if err != nil {
			return nil, err
		}
		if err := netlink.Validate(req, msgs); err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			return echo, nil // a fake that sent no acknowledgement
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.RTM_NEWLINK:
				if l, err := decodeLink(m.Data); err == nil {
					echo = l
				}
			case netlink.Error:
				return echo, nil // the acknowledgement: errors came as err
			}
		}
	}
}

// appendCreateRequest appends Create's RTM_NEWLINK message, header
// included, to b: IFLA_IFNAME, IFLA_MTU, IFLA_LINKINFO {IFLA_INFO_KIND
// "amt", IFLA_INFO_DATA a} and IFLA_MASTER, the bytes and order
// rtnetlink.LinkMessage.MarshalBinary gives for the same link
// (TestAppendCreateRequest compares them), without its allocations.
func appendCreateRequest(b []byte, flags uint16, seq uint32, s *Spec, a *ifla.AMT, master uint32) ([]byte, error) {
	start := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0) // nlmsg_len, below
	b = binary.NativeEndian.AppendUint16(b, unix.RTM_NEWLINK)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // nlmsg_pid
	var up uint32
	if s.Up {
		up = unix.IFF_UP
	}
	b = append(b, unix.AF_UNSPEC, 0, 0, 0)      // family, pad, type
	b = binary.NativeEndian.AppendUint32(b, 0)  // index
	b = binary.NativeEndian.AppendUint32(b, up) // flags
	b = binary.NativeEndian.AppendUint32(b, up) // change
	b = appendAttrHeader(b, unix.IFLA_IFNAME, len(s.Name)+1)
	b = append(b, s.Name...)
	b = appendPad(append(b, 0), len(s.Name)+1)
	if s.MTU != 0 {
		b = appendAttrHeader(b, unix.IFLA_MTU, 4)
		b = binary.NativeEndian.AppendUint32(b, s.MTU)
	}
	info := len(b)
	b = appendAttrHeader(b, unix.IFLA_LINKINFO, 0)
	b = appendAttrHeader(b, unix.IFLA_INFO_KIND, len(Kind)+1)
	b = appendPad(append(append(b, Kind...), 0), len(Kind)+1)
	data := len(b)
	b = appendAttrHeader(b, unix.NLA_F_NESTED|unix.IFLA_INFO_DATA, 0)
	b, err := a.AppendBinary(b)
	if err != nil {
		return b[:start], err
	}
	if len(b)-info > 0xffff {
		return b[:start], fmt.Errorf("amtlink: the AMT data of %d bytes do not fit in one netlink attribute", len(b)-data)
	}
	binary.NativeEndian.PutUint16(b[data:], uint16(len(b)-data))
	binary.NativeEndian.PutUint16(b[info:], uint16(len(b)-info))
	if master != 0 {
		b = appendAttrHeader(b, unix.IFLA_MASTER, 4)
		b = binary.NativeEndian.AppendUint32(b, master)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b, nil
}

// appendAttrHeader appends a netlink attribute header for a payload of n
// bytes.
func appendAttrHeader(b []byte, typ uint16, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(4+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

// appendPad appends the zero bytes that align a payload of n bytes to 4.
func appendPad(b []byte, n int) []byte {
	for ; n%4 != 0; n++ {
		b = append(b, 0)
	}
	return b
}

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
	req := &rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Index:      index,
		Attributes: &rtnetlink.LinkAttributes{MTU: mtu},
	}
	_, err := c.execute(op, name, unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge, req)
	return err
}

// undoCreate deletes a link Create made but could not finish. The name is
// ours: the create request carried Excl, so the kernel made this link for us.
// It deletes by name (ifindex 0, IFLA_IFNAME), since the index may not be
// known yet.
func (c *client) undoCreate(name string) error {
	req := &rtnetlink.LinkMessage{
		Family:     unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: name},
	}
	_, err := c.execute("delete", name, unix.RTM_DELLINK, netlink.Request|netlink.Acknowledge, req)
	return err
}
