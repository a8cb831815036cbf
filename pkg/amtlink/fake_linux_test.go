//go:build linux

package amtlink

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"
	"unsafe"

	"github.com/amtctl/amtctl/internal/nlwire"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// fakeKernel is a small stand-in for the kernel's rtnetlink link handling,
// behind a fake socket (fakeSock). It keeps a table of links and answers
// RTM_GETLINK (by index, by name, dump with kind filter), RTM_NEWLINK
// (create with master/mtu/up, set mtu) and RTM_DELLINK the way
// net/core/rtnetlink.c and drivers/net/amt.c do, echoing each request's
// sequence number and PID (STYLE §4). Every request is recorded.
type fakeKernel struct {
	tb    tb
	links []fakeLink
	reqs  []netlink.Message
	next  uint32

	// noAMT makes the kernel not know kind "amt": EOPNOTSUPP on create,
	// and a dump's kind filter is ignored.
	noAMT bool
	// keepMTU makes create honour IFLA_MTU; by default the fake, like
	// amt_newlink, overwrites it with the lower device's MTU minus 44.
	keepMTU bool
	// noEcho makes create ignore NLM_F_ECHO, as kernels before 6.1 do.
	noEcho bool
	// addrs are the addresses RTM_GETADDR dumps.
	addrs []fakeAddr
	// notify, while a Watch is subscribed (k.subscribe), gets the
	// notification of every link created, changed or deleted.
	notify chan received
	// groups is the Groups mask of the last subscription.
	groups uint32
	// corrupt, when set, rewrites the encoded message of each link it
	// answers with, to inject malformed replies.
	corrupt func(l *fakeLink, b []byte) []byte
	// fail injects an error reply: return errno 0 to answer normally.
	fail func(req netlink.Message, lm *rtnetlink.LinkMessage) (errno unix.Errno, extack string)
}

// fakeAddr is one address of a fake link.
type fakeAddr struct {
	index uint32
	p     netip.Prefix
}

type fakeLink struct {
	index  uint32
	name   string
	kind   string
	flags  uint32
	mtu    uint32
	master uint32
	amt    *ifla.AMT
	alias  string
}

func newFakeKernel(tb tb, links ...fakeLink) *fakeKernel {
	k := &fakeKernel{tb: tb, links: links, next: 100}
	return k
}

// client returns a client on a fake socket served by k.
func (k *fakeKernel) client() *client {
	c, _ := testClient(k.tb, k.serve)
	return c
}

func (k *fakeKernel) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) == 0 {
		// nltest asks for "multicast" messages when a receive finds
		// nothing queued; there are none.
		k.tb.Errorf("fake kernel: receive without a request")
		return nil, unix.EBADMSG
	}
	if len(reqs) != 1 {
		k.tb.Errorf("fake kernel: %d messages in one send, want 1", len(reqs))
	}
	req := reqs[0]
	k.reqs = append(k.reqs, req)
	if req.Header.Type == unix.RTM_GETADDR {
		return k.dumpAddrs(req), nil
	}
	var lm rtnetlink.LinkMessage
	if err := lm.UnmarshalBinary(req.Data); err != nil {
		return k.errReply(req, unix.EINVAL, "bad ifinfomsg")
	}
	if k.fail != nil {
		if errno, msg := k.fail(req, &lm); errno != 0 {
			return k.errReply(req, errno, msg)
		}
	}
	switch req.Header.Type {
	case unix.RTM_GETLINK:
		if req.Header.Flags&netlink.Dump == netlink.Dump {
			return k.dump(req, &lm)
		}
		l := k.find(&lm)
		if l == nil {
			return k.errReply(req, unix.ENODEV, "")
		}
		return []netlink.Message{k.linkMsg(req, l, 0)}, nil
	case unix.RTM_NEWLINK:
		if req.Header.Flags&netlink.Create != 0 {
			return k.create(req, &lm)
		}
		l := k.find(&lm)
		if l == nil {
			return k.errReply(req, unix.ENODEV, "")
		}
		if lm.Attributes != nil && lm.Attributes.MTU != 0 {
			if lm.Attributes.MTU > 1456 {
				return k.errReply(req, unix.EINVAL, "mtu greater than device maximum")
			}
			l.mtu = lm.Attributes.MTU
		}
		if lm.Attributes != nil && lm.Attributes.Master != nil {
			l.master = *lm.Attributes.Master
		}
		if lm.Attributes != nil && lm.Attributes.Alias != nil {
			l.alias = *lm.Attributes.Alias
		}
		l.flags = (l.flags &^ lm.Change) | (lm.Flags & lm.Change)
		k.notifyLink(unix.RTM_NEWLINK, l)
		return k.ack(req), nil
	case unix.RTM_DELLINK:
		l := k.find(&lm)
		if l == nil {
			return k.errReply(req, unix.ENODEV, "")
		}
		gone := *l
		k.links = slices.DeleteFunc(k.links, func(x fakeLink) bool { return x.index == l.index })
		k.notifyLink(unix.RTM_DELLINK, &gone)
		return k.ack(req), nil
	}
	return k.errReply(req, unix.EOPNOTSUPP, "")
}

// find looks a link up as rtnl_getlink/rtnl_dellink do: by index if one is
// given, else by IFLA_IFNAME.
func (k *fakeKernel) find(lm *rtnetlink.LinkMessage) *fakeLink {
	for i := range k.links {
		l := &k.links[i]
		if lm.Index != 0 {
			if l.index == lm.Index {
				return l
			}
		} else if lm.Attributes != nil && lm.Attributes.Name != "" && l.name == lm.Attributes.Name {
			return l
		}
	}
	return nil
}

func (k *fakeKernel) byIndex(i uint32) *fakeLink {
	for j := range k.links {
		if k.links[j].index == i {
			return &k.links[j]
		}
	}
	return nil
}

func (k *fakeKernel) create(req netlink.Message, lm *rtnetlink.LinkMessage) ([]netlink.Message, error) {
	a := lm.Attributes
	if a == nil || a.Info == nil {
		return k.errReply(req, unix.EINVAL, "")
	}
	if k.find(&rtnetlink.LinkMessage{Attributes: &rtnetlink.LinkAttributes{Name: a.Name}}) != nil {
		return k.errReply(req, unix.EEXIST, "")
	}
	if a.Info.Kind != Kind || k.noAMT {
		return k.errReply(req, unix.EOPNOTSUPP, "Unknown device type")
	}
	d, ok := a.Info.Data.(*Driver)
	if !ok {
		return k.errReply(req, unix.EINVAL, "")
	}
	lower := k.byIndex(*d.Link)
	if lower == nil {
		return k.errReply(req, unix.ENODEV, "Can't find stream device")
	}
	amt := d.AMT
	amt.RelayPort = ifla.Ptr(ifla.DefaultPort)
	amt.GatewayPort = ifla.Ptr(ifla.DefaultPort)
	if d.RelayPort != nil {
		amt.RelayPort = d.RelayPort
	}
	if d.GatewayPort != nil {
		amt.GatewayPort = d.GatewayPort
	}
	if amt.MaxTunnels == nil {
		amt.MaxTunnels = ifla.Ptr(ifla.DefaultMaxTunnels)
	}
	if !amt.Discovery.IsValid() {
		amt.Discovery = netip.IPv4Unspecified()
	}
	l := fakeLink{index: k.next, name: a.Name, kind: Kind, mtu: lower.mtu - 44, amt: &amt, flags: unix.IFF_POINTOPOINT | unix.IFF_NOARP}
	if k.keepMTU && a.MTU != 0 {
		l.mtu = a.MTU
	}
	if a.Master != nil {
		m := k.byIndex(*a.Master)
		if m == nil {
			return k.errReply(req, unix.ENODEV, "")
		}
		if m.kind == "veth" {
			// do_set_master: no ndo_add_slave, no extack message
			return k.errReply(req, unix.EOPNOTSUPP, "")
		}
		l.master = *a.Master
	}
	l.flags = (l.flags &^ lm.Change) | (lm.Flags & lm.Change)
	k.next++
	k.links = append(k.links, l)
	k.notifyLink(unix.RTM_NEWLINK, &l)
	if req.Header.Flags&netlink.Echo != 0 && !k.noEcho {
		// rtnl_newlink_create (Linux 6.1+): the new link, then the ack.
		return append([]netlink.Message{k.linkMsg(req, &l, 0)}, k.ack(req)...), nil
	}
	return k.ack(req), nil
}

func (k *fakeKernel) dump(req netlink.Message, lm *rtnetlink.LinkMessage) ([]netlink.Message, error) {
	var kind string
	if lm.Attributes != nil && lm.Attributes.Info != nil && !k.noAMT {
		kind = lm.Attributes.Info.Kind
	}
	var msgs []netlink.Message
	for i := range k.links {
		if kind != "" && k.links[i].kind != kind {
			continue
		}
		msgs = append(msgs, k.linkMsg(req, &k.links[i], netlink.Multi))
	}
	done := netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   nlenc.Int32Bytes(0),
	}
	return append(msgs, done), nil
}

// linkMsg encodes l the way rtnl_fill_ifinfo does (the attributes we read,
// in the kernel's order, stats included).
func (k *fakeKernel) linkMsg(req netlink.Message, l *fakeLink, flags netlink.HeaderFlags) netlink.Message {
	k.tb.Helper()
	data := encodeKernelLink(k.tb, l)
	if k.corrupt != nil {
		data = k.corrupt(l, data)
	}
	return netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: flags, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}
}

func encodeKernelLink(tb tb, l *fakeLink) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint16(b[2:], unix.ARPHRD_NONE)
	binary.NativeEndian.PutUint32(b[4:], l.index)
	binary.NativeEndian.PutUint32(b[8:], l.flags)
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, l.name)
	ae.Uint32(unix.IFLA_TXQLEN, 1000)
	ae.Uint8(unix.IFLA_OPERSTATE, uint8(rtnetlink.OperStateUnknown))
	ae.Uint32(unix.IFLA_MTU, l.mtu)
	if l.master != 0 {
		ae.Uint32(unix.IFLA_MASTER, l.master)
	}
	if l.alias != "" {
		ae.String(unix.IFLA_IFALIAS, l.alias)
	}
	stats := make([]byte, 200)
	binary.NativeEndian.PutUint64(stats[0:], 42) // rx_packets
	ae.Bytes(unix.IFLA_STATS64, stats)
	if l.kind != "" {
		ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
			nae.String(unix.IFLA_INFO_KIND, l.kind)
			if l.amt != nil {
				nae.Nested(unix.IFLA_INFO_DATA, l.amt.Encode)
			}
			return nil
		})
	}
	attrs, err := ae.Encode()
	if err != nil {
		tb.Fatalf("encoding fake link: %v", err)
	}
	return append(b, attrs...)
}

// subscribe is a client's subscribe hook: the notifications of k. It
// records the groups asked for.
func (k *fakeKernel) subscribe(ctx context.Context, groups uint32) (<-chan received, func(), error) {
	k.groups = groups
	k.notify = make(chan received, 64)
	return k.notify, func() { k.notify = nil }, nil
}

// notifyLink sends the notification of l to a subscribed Watch.
func (k *fakeKernel) notifyLink(typ netlink.HeaderType, l *fakeLink) {
	if k.notify == nil {
		return
	}
	m := netlink.Message{Header: netlink.Header{Type: typ}, Data: encodeKernelLink(k.tb, l)}
	k.notify <- received{msgs: []netlink.Message{m}}
}

// dumpAddrs answers an address dump: every address, or those of the
// ifa_index the request names.
func (k *fakeKernel) dumpAddrs(req netlink.Message) []netlink.Message {
	var idx uint32
	if len(req.Data) >= unix.SizeofIfAddrmsg {
		idx = binary.NativeEndian.Uint32(req.Data[4:8])
	}
	var msgs []netlink.Message
	for _, a := range k.addrs {
		if idx != 0 && a.index != idx {
			continue
		}
		b := make([]byte, unix.SizeofIfAddrmsg)
		b[0] = unix.AF_INET
		if a.p.Addr().Is6() {
			b[0] = unix.AF_INET6
		}
		b[1] = byte(a.p.Bits())
		binary.NativeEndian.PutUint32(b[4:], a.index)
		b = nlwire.AppendAttr(b, unix.IFA_ADDRESS, a.p.Addr().AsSlice())
		msgs = append(msgs, netlink.Message{
			Header: netlink.Header{Type: unix.RTM_NEWADDR, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
			Data:   b,
		})
	}
	return append(msgs, netlink.Message{
		Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   nlenc.Int32Bytes(0),
	})
}

func (k *fakeKernel) ack(req netlink.Message) []netlink.Message {
	msgs, _ := nltest.Error(0, []netlink.Message{req})
	return msgs
}

// errReply builds an NLMSG_ERROR like the kernel's netlink_ack with
// extended acknowledgement: errno, the request's header (capped), then
// NLMSGERR_ATTR_MSG.
func (k *fakeKernel) errReply(req netlink.Message, errno unix.Errno, extack string) ([]netlink.Message, error) {
	if extack == "" {
		return nltest.Error(int(errno), []netlink.Message{req})
	}
	hdr := req.Header
	hdr.Length = uint32(unsafe.Sizeof(netlink.Header{}))
	data := nlenc.Int32Bytes(-int32(errno))
	hb := make([]byte, 16)
	binary.NativeEndian.PutUint32(hb[0:], hdr.Length)
	binary.NativeEndian.PutUint16(hb[4:], uint16(hdr.Type))
	binary.NativeEndian.PutUint16(hb[6:], uint16(hdr.Flags))
	binary.NativeEndian.PutUint32(hb[8:], hdr.Sequence)
	binary.NativeEndian.PutUint32(hb[12:], hdr.PID)
	data = append(data, hb...)
	data = append(data, nltest.MustMarshalAttributes([]netlink.Attribute{
		{Type: unix.NLMSGERR_ATTR_MSG, Data: append([]byte(extack), 0)},
	})...)
	return []netlink.Message{{
		Header: netlink.Header{
			Type:     netlink.Error,
			Flags:    netlink.Capped | netlink.AcknowledgeTLVs,
			Sequence: req.Header.Sequence,
			PID:      req.Header.PID,
		},
		Data: data,
	}}, nil
}
