package ifla

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/amtctl/amtctl/internal/nlwire"
	"github.com/mdlayher/netlink"
)

// Attribute types of IFLA_INFO_DATA for kind "amt", exactly as the kernel's
// include/uapi/linux/amt.h enum (IFLA_AMT_UNSPEC is 0).
const (
	AttrMode        uint16 = 1 // IFLA_AMT_MODE: u32, native byte order
	AttrRelayPort   uint16 = 2 // IFLA_AMT_RELAY_PORT: __be16
	AttrGatewayPort uint16 = 3 // IFLA_AMT_GATEWAY_PORT: __be16
	AttrLink        uint16 = 4 // IFLA_AMT_LINK: u32 ifindex, native byte order
	AttrLocalIP     uint16 = 5 // IFLA_AMT_LOCAL_IP: struct in_addr
	AttrRemoteIP    uint16 = 6 // IFLA_AMT_REMOTE_IP: struct in_addr, reported only
	AttrDiscoveryIP uint16 = 7 // IFLA_AMT_DISCOVERY_IP: struct in_addr
	AttrMaxTunnels  uint16 = 8 // IFLA_AMT_MAX_TUNNELS: u32, native byte order
)

// attrMax is IFLA_AMT_MAX of the kernel this package was written against;
// attributes above it (and IFLA_AMT_UNSPEC) are kept in AMT.Unknown.
const attrMax = AttrMaxTunnels

// DefaultPort is the IANA-assigned AMT UDP port (RFC 7450 §7,
// IANA_AMT_UDP_PORT in the kernel); the kernel uses it for both the relay
// and the gateway port when the attribute is absent.
const DefaultPort uint16 = 2268

// DefaultMaxTunnels is the kernel's default for IFLA_AMT_MAX_TUNNELS
// (AMT_MAX_TUNNELS in drivers/net/amt.c), used when the attribute is absent
// or 0.
const DefaultMaxTunnels uint32 = 128

// Mode is the role of an AMT interface (enum amt_mode in the kernel's UAPI).
type Mode uint32

// The AMT modes the kernel knows (AMT_MODE_GATEWAY, AMT_MODE_RELAY).
const (
	ModeGateway Mode = 0 // AMT_MODE_GATEWAY: tunnels multicast in from a relay
	ModeRelay   Mode = 1 // AMT_MODE_RELAY: serves gateways from a multicast network
)

// modeMax is AMT_MODE_MAX: the highest mode value the kernel accepts.
const modeMax = ModeRelay

// String returns "gateway" or "relay", and "unknown mode value (N)" for any
// other value, so printing a mode from a newer kernel never fails (iproute2
// indexes an array with it instead).
func (m Mode) String() string {
	switch m {
	case ModeGateway:
		return "gateway"
	case ModeRelay:
		return "relay"
	default:
		return "unknown mode value (" + strconv.FormatUint(uint64(m), 10) + ")"
	}
}

// MarshalText implements encoding.TextMarshaler with the String form. It
// never fails: a mode value this package does not know (from a newer kernel)
// is written as "unknown mode value (N)" so that listing links as JSON keeps
// working; UnmarshalText does not accept that form back.
func (m Mode) MarshalText() ([]byte, error) {
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the rules of
// ParseMode; on error *m is unchanged and the error is a *FieldError.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMode parses the iproute2 keyword for a mode: exactly "gateway" or
// "relay", as "ip link add NAME type amt mode MODE" accepts. Any other input
// gives a *FieldError with Field "mode".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "gateway":
		return ModeGateway, nil
	case "relay":
		return ModeRelay, nil
	}
	reason := "unknown mode"
	if s == "" {
		reason = "empty value"
	}
	return 0, &FieldError{Field: "mode", Value: s, Reason: reason, Fix: `use "gateway" or "relay"`}
}

// Ptr returns a pointer to a copy of v; it is a convenience for the optional
// fields of AMT, for example ifla.Ptr(ifla.ModeRelay) or ifla.Ptr[uint16](2268).
func Ptr[T any](v T) *T { return &v }

// AMT is the IFLA_INFO_DATA of an AMT link. Nil pointers and zero
// netip.Addr values are unset: Encode omits them so that the kernel applies
// its own defaults, and Decode leaves them unset when the kernel did not
// report them. An AMT holds no unexported state, so it can be compared with
// go-cmp (use a netip.Addr comparer, or cmpopts.EquateComparable).
type AMT struct {
	// Mode is IFLA_AMT_MODE. Required on create.
	Mode *Mode
	// RelayPort is IFLA_AMT_RELAY_PORT in host order (big-endian on the
	// wire). In both modes it is the UDP port the kernel's tunnel socket
	// listens on; a gateway also sends to the relay on it. Kernel default
	// DefaultPort.
	RelayPort *uint16
	// GatewayPort is IFLA_AMT_GATEWAY_PORT in host order (big-endian on the
	// wire): the UDP source port of a gateway's messages. A relay ignores
	// it. Kernel default DefaultPort.
	GatewayPort *uint16
	// Link is IFLA_AMT_LINK, the ifindex of the lower (underlay) device,
	// "dev" in iproute2. Required on create.
	Link *uint32
	// Local is IFLA_AMT_LOCAL_IP, this host's IPv4 tunnel address.
	// Required on create.
	Local netip.Addr
	// Remote is IFLA_AMT_REMOTE_IP. It is read-only: a gateway reports the
	// relay it discovered; the kernel ignores it on create and Validate
	// rejects it.
	Remote netip.Addr
	// Discovery is IFLA_AMT_DISCOVERY_IP, the relay discovery address a
	// gateway sends its Relay Discovery messages to. Required in gateway
	// mode; a relay ignores it (and reports 0.0.0.0).
	Discovery netip.Addr
	// MaxTunnels is IFLA_AMT_MAX_TUNNELS, the number of gateways a relay
	// serves at most. Only a relay uses it; kernel default
	// DefaultMaxTunnels, which the kernel also uses for 0.
	MaxTunnels *uint32
	// Unknown holds attributes this version of the package does not know
	// (IFLA_AMT_UNSPEC and types above IFLA_AMT_MAX), verbatim with their
	// flag bits and in the order they arrived. Encode writes them back
	// after the known ones.
	Unknown []netlink.Attribute
}

// Encode writes every set field of a as IFLA_AMT_* attributes, followed by
// a.Unknown. The known attributes come in the order of the kernel selftest's
// "ip link add ... type amt mode M local A [remote R] discovery D dev L
// gateway_port P relay_port Q max_tunnels N", so the bytes are the ones
// iproute2 sends for that command. Ports and addresses are written in
// network byte order; mode, link and max tunnels in ae's byte order (native,
// unless the caller changed it).
//
// Encode does not validate (see Validate): it fails only for values the
// wire format cannot carry, namely an address that is not IPv4 (an
// IPv4-mapped IPv6 address included: unmap it explicitly) and an Unknown
// attribute whose type is one this package knows, which would duplicate or
// contradict a field. Encode writes nothing to ae when it fails.
func (a *AMT) Encode(ae *netlink.AttributeEncoder) error {
	addrs := [...]struct {
		typ  uint16
		addr netip.Addr
	}{
		{AttrLocalIP, a.Local},
		{AttrRemoteIP, a.Remote},
		{AttrDiscoveryIP, a.Discovery},
	}
	if err := a.encodable(); err != nil {
		return err
	}

	// One buffer holds the network-order payloads; ae keeps sub-slices of
	// it, which never overlap because its capacity is never exceeded.
	buf := make([]byte, 0, 3*4+2*2)
	put := func(typ uint16, b []byte) {
		n := len(buf)
		buf = append(buf, b...)
		ae.Bytes(typ, buf[n:len(buf):len(buf)])
	}
	if a.Mode != nil {
		ae.Uint32(AttrMode, uint32(*a.Mode))
	}
	for _, f := range addrs {
		if f.addr.IsValid() {
			b := f.addr.As4()
			put(f.typ, b[:])
		}
	}
	if a.Link != nil {
		ae.Uint32(AttrLink, *a.Link)
	}
	var port [2]byte
	if a.GatewayPort != nil {
		binary.BigEndian.PutUint16(port[:], *a.GatewayPort)
		put(AttrGatewayPort, port[:])
	}
	if a.RelayPort != nil {
		binary.BigEndian.PutUint16(port[:], *a.RelayPort)
		put(AttrRelayPort, port[:])
	}
	if a.MaxTunnels != nil {
		ae.Uint32(AttrMaxTunnels, *a.MaxTunnels)
	}
	for _, u := range a.Unknown {
		ae.Bytes(u.Type, u.Data)
	}
	return nil
}

// MarshalBinary returns the IFLA_INFO_DATA payload for a: the attributes
// Encode writes, in native byte order. It implements
// encoding.BinaryMarshaler.
func (a *AMT) MarshalBinary() ([]byte, error) {
	return a.AppendBinary(nil)
}

// AppendBinary appends the IFLA_INFO_DATA payload for a to b: the bytes
// MarshalBinary returns, with the same errors, and b unchanged on error.
// It allocates only when b has too little room, so a caller that builds
// requests in a buffer it reuses encodes without allocating. It implements
// encoding.BinaryAppender.
func (a *AMT) AppendBinary(b []byte) ([]byte, error) {
	if err := a.encodable(); err != nil {
		return b, err
	}
	if a.Mode != nil {
		b = nlwire.AppendU32(b, AttrMode, uint32(*a.Mode))
	}
	for _, f := range [...]struct {
		typ  uint16
		addr netip.Addr
	}{{AttrLocalIP, a.Local}, {AttrRemoteIP, a.Remote}, {AttrDiscoveryIP, a.Discovery}} {
		if f.addr.IsValid() {
			v := f.addr.As4()
			b = nlwire.AppendAttr(b, f.typ, v[:])
		}
	}
	if a.Link != nil {
		b = nlwire.AppendU32(b, AttrLink, *a.Link)
	}
	var port [2]byte
	if a.GatewayPort != nil {
		binary.BigEndian.PutUint16(port[:], *a.GatewayPort)
		b = nlwire.AppendAttr(b, AttrGatewayPort, port[:])
	}
	if a.RelayPort != nil {
		binary.BigEndian.PutUint16(port[:], *a.RelayPort)
		b = nlwire.AppendAttr(b, AttrRelayPort, port[:])
	}
	if a.MaxTunnels != nil {
		b = nlwire.AppendU32(b, AttrMaxTunnels, *a.MaxTunnels)
	}
	for _, u := range a.Unknown {
		b = nlwire.AppendAttr(b, u.Type, u.Data)
	}
	return b, nil
}

// encodable reports what the wire format cannot carry: an address that is
// not IPv4, or an Unknown attribute of a type this package knows.
func (a *AMT) encodable() error {
	for _, f := range [...]struct {
		typ  uint16
		addr netip.Addr
	}{{AttrLocalIP, a.Local}, {AttrRemoteIP, a.Remote}, {AttrDiscoveryIP, a.Discovery}} {
		if f.addr.IsValid() && !f.addr.Is4() {
			return fmt.Errorf("ifla: encode %s: %s is not an IPv4 address", attrName(f.typ), f.addr)
		}
	}
	for _, u := range a.Unknown {
		if t := u.Type & typeMask; t >= AttrMode && t <= attrMax {
			return fmt.Errorf("ifla: encode: Unknown holds a known attribute %s; set the AMT field instead", attrName(t))
		}
		if len(u.Data) > maxAttrPayload {
			return fmt.Errorf("ifla: encode: Unknown attribute %d has %d bytes, more than a netlink attribute holds (%d)", u.Type, len(u.Data), maxAttrPayload)
		}
	}
	return nil
}

// maxAttrPayload is the most a netlink attribute can carry: its length
// field is 16 bits and counts the 4-byte header.
const maxAttrPayload = 0xffff - 4

// Decode reads IFLA_AMT_* attributes from ad into a, replacing its previous
// contents. It is lenient, because its input comes from whatever kernel is
// running:
//   - attributes it does not know are kept in a.Unknown (copied, with their
//     flag bits);
//   - the payload length of every known attribute is checked, and a mismatch
//     is reported as a *LengthError naming the attribute, e.g.
//     "IFLA_AMT_RELAY_PORT: want 2 bytes, got 3";
//   - a repeated attribute overrides the earlier one, as in the kernel's
//     nla_parse.
//
// Decode returns the first error, which it also leaves in ad (so ad.Err()
// agrees), and ad's own framing error if it has one; on error a is zero.
// mode, link and max tunnels are read in ad.ByteOrder.
//
// Decode allocates one small block for the pointer fields and nothing else
// when there are no unknown attributes (note that the AttributeDecoder of
// mdlayher/netlink v1.7.2 itself copies each attribute's payload in Next;
// UnmarshalBinary avoids that).
func (a *AMT) Decode(ad *netlink.AttributeDecoder) error {
	var (
		d   decoder
		err error
	)
	for ad.Next() {
		typ, flags := ad.Type(), ad.TypeFlags()
		ad.Do(func(b []byte) error {
			err = d.attr(typ, flags, b, ad.ByteOrder)
			return err
		})
		if err != nil {
			*a = AMT{}
			return err
		}
	}
	if err := ad.Err(); err != nil {
		*a = AMT{}
		return fmt.Errorf("ifla: decode IFLA_INFO_DATA: %w", err)
	}
	*a = d.a
	return nil
}

// UnmarshalBinary decodes an IFLA_INFO_DATA payload (a sequence of netlink
// attributes in native byte order) into a with the rules of Decode. It
// implements encoding.BinaryUnmarshaler. Unlike Decode through an
// AttributeDecoder it copies nothing but unknown attributes.
func (a *AMT) UnmarshalBinary(b []byte) error {
	var d decoder
	it := nlwire.Attrs(b)
	for it.Next() {
		if err := d.attr(it.Type(), it.Flags(), it.Data(), binary.NativeEndian); err != nil {
			*a = AMT{}
			return err
		}
	}
	if it.Err() != nil {
		*a = AMT{}
		return fmt.Errorf("ifla: decode IFLA_INFO_DATA: %w", errTruncated)
	}
	*a = d.a
	return nil
}

// typeMask is NLA_TYPE_MASK: the type without NLA_F_NESTED and
// NLA_F_NET_BYTEORDER.
const typeMask = nlwire.TypeMask

var errTruncated = errors.New("invalid attribute; length too short or too large")

// values is the storage behind the pointer fields of a decoded AMT: one
// allocation instead of five.
type values struct {
	mode       Mode
	link       uint32
	maxTunnels uint32
	relayPort  uint16
	gwPort     uint16
}

// decoder accumulates one decode; the AMT is published only on success.
type decoder struct {
	a AMT
	v *values
}

func (d *decoder) vals() *values {
	if d.v == nil {
		d.v = new(values)
	}
	return d.v
}

// attr decodes one attribute; b is only borrowed.
func (d *decoder) attr(typ, flags uint16, b []byte, order binary.ByteOrder) error {
	if typ < AttrMode || typ > attrMax {
		d.a.Unknown = append(d.a.Unknown, netlink.Attribute{
			Type: typ | flags,
			Data: append([]byte(nil), b...),
		})
		return nil
	}
	if want := attrLen(typ); len(b) != want {
		return &LengthError{Type: typ, Want: want, Got: len(b)}
	}
	switch typ {
	case AttrMode:
		v := d.vals()
		v.mode = Mode(order.Uint32(b))
		d.a.Mode = &v.mode
	case AttrRelayPort:
		v := d.vals()
		v.relayPort = binary.BigEndian.Uint16(b)
		d.a.RelayPort = &v.relayPort
	case AttrGatewayPort:
		v := d.vals()
		v.gwPort = binary.BigEndian.Uint16(b)
		d.a.GatewayPort = &v.gwPort
	case AttrLink:
		v := d.vals()
		v.link = order.Uint32(b)
		d.a.Link = &v.link
	case AttrLocalIP:
		d.a.Local = netip.AddrFrom4([4]byte(b))
	case AttrRemoteIP:
		d.a.Remote = netip.AddrFrom4([4]byte(b))
	case AttrDiscoveryIP:
		d.a.Discovery = netip.AddrFrom4([4]byte(b))
	case AttrMaxTunnels:
		v := d.vals()
		v.maxTunnels = order.Uint32(b)
		d.a.MaxTunnels = &v.maxTunnels
	}
	return nil
}

// LengthError reports a known attribute whose payload has the wrong length.
// The kernel's policy only sets a minimum length for the addresses, but it
// always reports exactly 4 bytes, so anything else is malformed.
type LengthError struct {
	Type uint16 // attribute type, e.g. AttrRelayPort
	Want int    // payload length of that attribute
	Got  int    // payload length found
}

// Error returns e.g. "IFLA_AMT_RELAY_PORT: want 2 bytes, got 3".
func (e *LengthError) Error() string {
	return attrName(e.Type) + ": want " + strconv.Itoa(e.Want) + " bytes, got " + strconv.Itoa(e.Got)
}

func attrLen(t uint16) int {
	if t == AttrRelayPort || t == AttrGatewayPort {
		return 2
	}
	return 4
}

var attrNames = [...]string{
	AttrMode:        "IFLA_AMT_MODE",
	AttrRelayPort:   "IFLA_AMT_RELAY_PORT",
	AttrGatewayPort: "IFLA_AMT_GATEWAY_PORT",
	AttrLink:        "IFLA_AMT_LINK",
	AttrLocalIP:     "IFLA_AMT_LOCAL_IP",
	AttrRemoteIP:    "IFLA_AMT_REMOTE_IP",
	AttrDiscoveryIP: "IFLA_AMT_DISCOVERY_IP",
	AttrMaxTunnels:  "IFLA_AMT_MAX_TUNNELS",
}

// AttrName returns the kernel's name for an IFLA_AMT_* attribute type, such
// as "IFLA_AMT_RELAY_PORT", or "IFLA_AMT_UNSPEC" for 0 and "IFLA_AMT_<n>"
// for a type this package does not know. Flag bits are ignored.
func AttrName(t uint16) string { return attrName(t) }

func attrName(t uint16) string {
	t &= typeMask
	if t == 0 {
		return "IFLA_AMT_UNSPEC"
	}
	if int(t) < len(attrNames) {
		return attrNames[t]
	}
	return "IFLA_AMT_" + strconv.Itoa(int(t))
}

// String formats a for logs, in the order and with the keywords of
// "ip link add NAME type amt ...": for example
//
//	mode gateway local 10.0.0.1 discovery 10.0.0.2 link 3 gateway_port 2268 relay_port 2268
//
// Unset fields are left out. The lower device is printed as "link IFINDEX"
// because this package does no name lookups; the read-only remote address
// follows local as "remote ADDR"; unknown attributes come last as
// "attr TYPE:HEX". The empty AMT prints as "".
func (a AMT) String() string {
	var sb strings.Builder
	add := func(k, v string) {
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(k)
		sb.WriteByte(' ')
		sb.WriteString(v)
	}
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	if a.Mode != nil {
		add("mode", a.Mode.String())
	}
	if a.Local.IsValid() {
		add("local", a.Local.String())
	}
	if a.Remote.IsValid() {
		add("remote", a.Remote.String())
	}
	if a.Discovery.IsValid() {
		add("discovery", a.Discovery.String())
	}
	if a.Link != nil {
		add("link", u(uint64(*a.Link)))
	}
	if a.GatewayPort != nil {
		add("gateway_port", u(uint64(*a.GatewayPort)))
	}
	if a.RelayPort != nil {
		add("relay_port", u(uint64(*a.RelayPort)))
	}
	if a.MaxTunnels != nil {
		add("max_tunnels", u(uint64(*a.MaxTunnels)))
	}
	for _, x := range a.Unknown {
		add("attr", u(uint64(x.Type))+":"+hex.EncodeToString(x.Data))
	}
	return sb.String()
}
