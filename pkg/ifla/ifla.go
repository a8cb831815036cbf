package ifla

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

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

// attrMax is IFLA_AMT_MAX in the kernel version this package was written
// against; attributes above it are kept in AMT.Unknown.
const attrMax = AttrMaxTunnels

// DefaultPort is the IANA-assigned AMT UDP port (RFC 7450 §7); the kernel
// uses it for both the relay and the gateway port when none is given.
const DefaultPort uint16 = 2268

// DefaultMaxTunnels is the kernel's default for IFLA_AMT_MAX_TUNNELS
// (AMT_MAX_TUNNELS in drivers/net/amt.c) when the attribute is absent.
const DefaultMaxTunnels uint32 = 128

// Mode is the role of an AMT interface (enum amt_mode in the kernel's UAPI).
type Mode uint32

// The AMT modes the kernel knows (AMT_MODE_GATEWAY, AMT_MODE_RELAY).
const (
	ModeGateway Mode = 0 // AMT_MODE_GATEWAY: tunnels multicast in from a relay
	ModeRelay   Mode = 1 // AMT_MODE_RELAY: serves gateways from a multicast network
)

// modeMax is AMT_MODE_MAX: the highest valid mode value.
const modeMax = ModeRelay

// String returns "gateway" or "relay", and "unknown mode value (N)" for any
// other value, so printing a mode from a newer kernel never fails.
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

// MarshalText implements encoding.TextMarshaler. It fails for a value that is
// neither ModeGateway nor ModeRelay, so JSON output never carries a
// description in place of a mode.
func (m Mode) MarshalText() ([]byte, error) {
	if m > modeMax {
		return nil, &FieldError{Field: "mode", Value: strconv.FormatUint(uint64(m), 10),
			Reason: "unknown mode value", Fix: `use "gateway" or "relay"`}
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the rules of
// ParseMode.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMode parses the iproute2 keyword for a mode: "gateway" or "relay"
// (exact, lower case, as "ip link add ... type amt mode MODE" accepts).
// Any other input gives a *FieldError with Field "mode".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "gateway":
		return ModeGateway, nil
	case "relay":
		return ModeRelay, nil
	}
	return 0, &FieldError{Field: "mode", Value: s, Reason: "unknown mode", Fix: `use "gateway" or "relay"`}
}

// Ptr returns a pointer to a copy of v; it is a convenience for the optional
// fields of AMT, for example ifla.Ptr(ifla.ModeRelay) or ifla.Ptr[uint16](2268).
func Ptr[T any](v T) *T { return &v }

// AMT is the IFLA_INFO_DATA of an AMT link. Nil pointers and zero netip.Addr
// values are unset: Encode omits them so the kernel applies its own defaults,
// and Decode leaves them nil when the kernel did not report them.
type AMT struct {
	// Mode is IFLA_AMT_MODE. Required on create.
	Mode *Mode
	// RelayPort is IFLA_AMT_RELAY_PORT in host order (big-endian on the
	// wire). Kernel default DefaultPort.
	RelayPort *uint16
	// GatewayPort is IFLA_AMT_GATEWAY_PORT in host order (big-endian on the
	// wire). Kernel default DefaultPort.
	GatewayPort *uint16
	// Link is IFLA_AMT_LINK, the ifindex of the lower (underlay) device.
	// Required on create.
	Link *uint32
	// Local is IFLA_AMT_LOCAL_IP, the IPv4 source address of the tunnel.
	// Required on create.
	Local netip.Addr
	// Remote is IFLA_AMT_REMOTE_IP. It is read-only: the kernel reports it
	// (in gateway mode, the relay it discovered) and ignores it on create;
	// Validate rejects it.
	Remote netip.Addr
	// Discovery is IFLA_AMT_DISCOVERY_IP, the relay discovery address a
	// gateway sends its Relay Discovery messages to. Gateway mode only,
	// required there.
	Discovery netip.Addr
	// MaxTunnels is IFLA_AMT_MAX_TUNNELS, the number of gateways a relay
	// serves at most. Relay mode only; kernel default DefaultMaxTunnels.
	MaxTunnels *uint32
	// Unknown holds attributes this version of the package does not know,
	// verbatim and in the order they arrived. Encode writes them back after
	// the known ones.
	Unknown []netlink.Attribute
}

// Encode writes every set field of a as IFLA_AMT_* attributes, in the order
// iproute2 uses (mode, relay port, gateway port, link, local, remote,
// discovery, max tunnels), followed by a.Unknown. Ports and addresses are
// written in network byte order; mode, link and max tunnels in the encoder's
// byte order (native). Encode does not call Validate; it fails only for values
// the wire format cannot carry: an address that is not IPv4 (an IPv4-mapped
// IPv6 address included, which must be unmapped explicitly) and an unknown
// attribute whose type is one this package knows.
func (a *AMT) Encode(ae *netlink.AttributeEncoder) error {
	addrs := [...]struct {
		typ  uint16
		name string
		addr netip.Addr
	}{
		{AttrLocalIP, "local", a.Local},
		{AttrRemoteIP, "remote", a.Remote},
		{AttrDiscoveryIP, "discovery", a.Discovery},
	}
	for _, f := range addrs {
		if f.addr.IsValid() && !f.addr.Is4() {
			return fmt.Errorf("ifla: encode %s: %q is not an IPv4 address", f.name, f.addr)
		}
	}
	for _, u := range a.Unknown {
		if t := u.Type &^ (netlink.Nested | netlink.NetByteOrder); t >= AttrMode && t <= attrMax {
			return fmt.Errorf("ifla: encode: unknown attribute has known type %d (%s)", t, attrName(t))
		}
	}
	if a.Mode != nil {
		ae.Uint32(AttrMode, uint32(*a.Mode))
	}
	if a.RelayPort != nil {
		ae.Bytes(AttrRelayPort, binary.BigEndian.AppendUint16(nil, *a.RelayPort))
	}
	if a.GatewayPort != nil {
		ae.Bytes(AttrGatewayPort, binary.BigEndian.AppendUint16(nil, *a.GatewayPort))
	}
	if a.Link != nil {
		ae.Uint32(AttrLink, *a.Link)
	}
	for _, f := range addrs {
		if f.addr.IsValid() {
			b := f.addr.As4()
			ae.Bytes(f.typ, b[:])
		}
	}
	if a.MaxTunnels != nil {
		ae.Uint32(AttrMaxTunnels, *a.MaxTunnels)
	}
	for _, u := range a.Unknown {
		ae.Bytes(u.Type, u.Data)
	}
	return nil
}

// Decode reads IFLA_AMT_* attributes from ad into a, which it resets first.
// It is lenient: attributes it does not know are kept in a.Unknown (copied,
// so they stay valid after ad's buffer is reused). It checks the payload
// length of every known attribute and reports the first mismatch as an error
// naming the attribute, e.g. "IFLA_AMT_RELAY_PORT: want 2 bytes, got 3".
// Decode also returns ad.Err(), so the caller need not check it separately.
func (a *AMT) Decode(ad *netlink.AttributeDecoder) error {
	*a = AMT{}
	for ad.Next() {
		typ := ad.Type()
		b := ad.Bytes()
		if typ < AttrMode || typ > attrMax {
			a.Unknown = append(a.Unknown, netlink.Attribute{
				Type: typ | ad.TypeFlags(),
				Data: append([]byte(nil), b...),
			})
			continue
		}
		if want := attrLen(typ); len(b) != want {
			return &LengthError{Type: typ, Want: want, Got: len(b)}
		}
		switch typ {
		case AttrMode:
			a.Mode = Ptr(Mode(ad.ByteOrder.Uint32(b)))
		case AttrRelayPort:
			a.RelayPort = Ptr(binary.BigEndian.Uint16(b))
		case AttrGatewayPort:
			a.GatewayPort = Ptr(binary.BigEndian.Uint16(b))
		case AttrLink:
			a.Link = Ptr(ad.ByteOrder.Uint32(b))
		case AttrLocalIP:
			a.Local = netip.AddrFrom4([4]byte(b))
		case AttrRemoteIP:
			a.Remote = netip.AddrFrom4([4]byte(b))
		case AttrDiscoveryIP:
			a.Discovery = netip.AddrFrom4([4]byte(b))
		case AttrMaxTunnels:
			a.MaxTunnels = Ptr(ad.ByteOrder.Uint32(b))
		}
	}
	if err := ad.Err(); err != nil {
		return fmt.Errorf("ifla: decode IFLA_INFO_DATA: %w", err)
	}
	return nil
}

// LengthError reports a known attribute whose payload has the wrong length.
type LengthError struct {
	Type uint16 // attribute type, e.g. AttrRelayPort
	Want int    // payload length the kernel uses
	Got  int    // payload length found
}

// Error returns e.g. "IFLA_AMT_RELAY_PORT: want 2 bytes, got 3".
func (e *LengthError) Error() string {
	return fmt.Sprintf("%s: want %d bytes, got %d", attrName(e.Type), e.Want, e.Got)
}

func attrLen(t uint16) int {
	switch t {
	case AttrRelayPort, AttrGatewayPort:
		return 2
	default:
		return 4
	}
}

// attrName returns the kernel's name for an attribute type.
func attrName(t uint16) string {
	switch t {
	case AttrMode:
		return "IFLA_AMT_MODE"
	case AttrRelayPort:
		return "IFLA_AMT_RELAY_PORT"
	case AttrGatewayPort:
		return "IFLA_AMT_GATEWAY_PORT"
	case AttrLink:
		return "IFLA_AMT_LINK"
	case AttrLocalIP:
		return "IFLA_AMT_LOCAL_IP"
	case AttrRemoteIP:
		return "IFLA_AMT_REMOTE_IP"
	case AttrDiscoveryIP:
		return "IFLA_AMT_DISCOVERY_IP"
	case AttrMaxTunnels:
		return "IFLA_AMT_MAX_TUNNELS"
	}
	return "IFLA_AMT_" + strconv.Itoa(int(t))
}

// String formats a like iproute2's "ip -d link show" prints info_data, e.g.
// "mode gateway local 10.0.0.1 discovery 10.0.0.2 link 3 gateway_port 2268
// relay_port 2268". Unset fields are left out; the lower device is printed
// as its ifindex ("link N") because this package does no name lookups.
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
		add("link", strconv.FormatUint(uint64(*a.Link), 10))
	}
	if a.GatewayPort != nil {
		add("gateway_port", strconv.FormatUint(uint64(*a.GatewayPort), 10))
	}
	if a.RelayPort != nil {
		add("relay_port", strconv.FormatUint(uint64(*a.RelayPort), 10))
	}
	if a.MaxTunnels != nil {
		add("max_tunnels", strconv.FormatUint(uint64(*a.MaxTunnels), 10))
	}
	for _, u := range a.Unknown {
		add("attr"+strconv.Itoa(int(u.Type)), fmt.Sprintf("%x", u.Data))
	}
	return sb.String()
}
