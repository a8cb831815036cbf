package ifla

import (
	"errors"
	"math"
	"net/netip"
	"strconv"

	"github.com/amtctl/amtctl/internal/fieldline"
)

// FieldError describes one invalid field of an AMT, or one bad command-line
// value. Field is the iproute2 keyword ("mode", "dev", "local", "discovery",
// "relay_port", "gateway_port", "max_tunnels", "remote"), so the message
// points at what the user typed.
type FieldError struct {
	Field  string // iproute2 keyword of the field
	Value  string // the offending value as given; "" when the field is missing
	Reason string // what is wrong
	Fix    string // what to write instead
}

// Error returns one line: `<field> "<value>": <reason>; <fix>`, or
// `<field>: <reason>; <fix>` when Value is empty. For example:
//
//	local "ff02::1": IPv6 address, but the AMT tunnel runs over IPv4; use an IPv4 unicast address such as 192.0.2.1
func (e *FieldError) Error() string {
	return fieldline.Format(e.Field, e.Value, e.Reason, e.Fix)
}

const (
	fixAddr  = "use an IPv4 unicast address such as 192.0.2.1"
	fixPort  = "use a UDP port from 1 to 65535, or leave it out for the default 2268"
	fixMaxTn = "use a number from 1 to 4294967295, or leave it out for the default 128"
)

// Validate checks a as the request to create a link and returns the first
// problem as a *FieldError, or nil. It mirrors the kernel's amt_validate and
// amt_newlink and closes the holes they leave. The checks, in this order:
//
//   - mode: required, and "gateway" or "relay" (kernel: AMT_MODE_MAX).
//   - dev (Link): required and not 0 (kernel: "Link attribute is required",
//     and ifindex 0 never names a device).
//   - local: required, and an IPv4 unicast address; see ParseAddr for what
//     that excludes. The kernel refuses only 0.0.0.0/8, 127/8 and multicast,
//     and, because its policy gives addresses a minimum length only, takes
//     the first 4 bytes of a 16-byte IPv6 address without a word.
//   - discovery: in gateway mode required, checked like local, and not
//     equal to local (the relay's address, not this host's: a relay on this
//     host would need the same UDP port as the gateway). In relay mode it is
//     refused, because the kernel ignores it there.
//   - relay_port, gateway_port: 0 is refused in either mode (the kernel
//     refuses relay_port 0 always and gateway_port 0 in gateway mode, and
//     silently accepts a meaningless gateway_port 0 on a relay). In gateway
//     mode the two must be equal, counting an unset port as 2268: the
//     kernel's gateway listens only on relay_port (amt_socket_create) but
//     sends from gateway_port, so the relay's replies to any other port are
//     lost. A relay ignores gateway_port; setting it there is allowed, as the
//     kernel's own selftest (tools/testing/selftests/net/amt.sh) does.
//   - max_tunnels: relay mode only, where the kernel uses it, and not 0
//     (the kernel silently turns 0 into the default 128).
//   - remote: refused; it is read-only and the kernel ignores it on create.
//   - Unknown: must not hold a type this package knows (Encode would fail).
func (a *AMT) Validate() error {
	if m := a.Missing(); len(m) > 0 {
		return missingError(m[0])
	}
	mode := *a.Mode
	if mode > modeMax {
		return &FieldError{Field: "mode", Value: strconv.FormatUint(uint64(mode), 10),
			Reason: "unknown mode value", Fix: `use "gateway" or "relay"`}
	}
	if *a.Link == 0 {
		return &FieldError{Field: "dev", Value: "ifindex 0", Reason: "no device has ifindex 0", Fix: `add "dev IFNAME" naming an existing device`}
	}
	if err := checkAddr("local", a.Local); err != nil {
		return err
	}
	switch mode {
	case ModeGateway:
		if err := checkAddr("discovery", a.Discovery); err != nil {
			return err
		}
		if a.Discovery == a.Local {
			return &FieldError{Field: "discovery", Value: a.Discovery.String(), Reason: "same as local",
				Fix: "use the relay's IPv4 unicast address, not this host's"}
		}
	case ModeRelay:
		if a.Discovery.IsValid() {
			return &FieldError{Field: "discovery", Value: a.Discovery.String(), Reason: "only a gateway uses it, the kernel ignores it in relay mode",
				Fix: `remove "discovery", or use "mode gateway"`}
		}
	}
	if a.RelayPort != nil && *a.RelayPort == 0 {
		return &FieldError{Field: "relay_port", Value: "0", Reason: "port 0 is refused", Fix: fixPort}
	}
	if a.GatewayPort != nil && *a.GatewayPort == 0 {
		return &FieldError{Field: "gateway_port", Value: "0", Reason: "port 0 is refused", Fix: fixPort}
	}
	if mode == ModeGateway {
		relay, gw := portOr(a.RelayPort), portOr(a.GatewayPort)
		if relay != gw {
			return &FieldError{Field: "gateway_port", Value: strconv.Itoa(int(gw)),
				Reason: "differs from relay_port " + strconv.Itoa(int(relay)) + ", but a kernel gateway receives only on relay_port",
				Fix:    "use the same port for gateway_port and relay_port"}
		}
	}
	if a.MaxTunnels != nil {
		if mode != ModeRelay {
			return &FieldError{Field: "max_tunnels", Value: strconv.FormatUint(uint64(*a.MaxTunnels), 10),
				Reason: "only a relay uses it", Fix: `remove "max_tunnels", or use "mode relay"`}
		}
		if *a.MaxTunnels == 0 {
			return &FieldError{Field: "max_tunnels", Value: "0", Reason: "the kernel turns 0 into the default 128", Fix: fixMaxTn}
		}
	}
	if a.Remote.IsValid() {
		return &FieldError{Field: "remote", Value: a.Remote.String(), Reason: "read-only, the kernel reports it and ignores it on create",
			Fix: `remove "remote"; a gateway finds its relay through "discovery"`}
	}
	for _, u := range a.Unknown {
		if t := u.Type & typeMask; t >= AttrMode && t <= attrMax {
			return &FieldError{Field: "unknown", Value: attrName(t), Reason: "a known attribute in AMT.Unknown",
				Fix: "set the matching AMT field instead"}
		}
	}
	return nil
}

// Missing returns the iproute2 keywords of the attributes a create request
// must have and a lacks, in the order Validate reports them: "mode", "dev"
// (Link), "local", and "discovery" when a is a gateway. It returns nil when
// nothing is missing. This is the one list of required attributes: Validate
// reports its first entry, and amtctl words its "add needs" and apply-file
// "is required" messages from it.
func (a *AMT) Missing() []string {
	var m []string
	if a.Mode == nil {
		m = append(m, "mode")
	}
	if a.Link == nil {
		m = append(m, "dev")
	}
	if !a.Local.IsValid() {
		m = append(m, "local")
	}
	if a.Mode != nil && *a.Mode == ModeGateway && !a.Discovery.IsValid() {
		m = append(m, "discovery")
	}
	return m
}

// missingError is Validate's error for the required attribute key that is
// missing.
func missingError(key string) *FieldError {
	switch key {
	case "mode":
		return &FieldError{Field: "mode", Reason: "missing", Fix: `add "mode gateway" or "mode relay"`}
	case "dev":
		return &FieldError{Field: "dev", Reason: "missing: the lower device the tunnel runs over", Fix: `add "dev IFNAME", for example "dev eth0"`}
	case "local":
		return &FieldError{Field: "local", Reason: "missing", Fix: `add "local ADDR" with this host's IPv4 address on dev, for example "local 192.0.2.1"`}
	}
	return &FieldError{Field: "discovery", Reason: "missing, a gateway needs the relay's address",
		Fix: `add "discovery ADDR" with the relay's IPv4 unicast address`}
}

func portOr(p *uint16) uint16 {
	if p == nil {
		return DefaultPort
	}
	return *p
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// checkAddr requires an IPv4 unicast address that can carry the tunnel's
// UDP traffic to or from another host; see ParseAddr.
func checkAddr(field string, ip netip.Addr) *FieldError {
	fix := fixAddr
	var reason string
	switch {
	case ip.Is4In6():
		reason = "IPv4-mapped IPv6 address"
		fix = "write the IPv4 address itself: " + ip.Unmap().String()
	case ip.Is6():
		reason = "IPv6 address, but the AMT tunnel runs over IPv4"
	case ip.As4()[0] == 0:
		reason = `"this network" address (0.0.0.0/8)`
	case ip == broadcast:
		reason = "broadcast address"
	case ip.IsMulticast():
		reason = "multicast address, but a tunnel endpoint is unicast"
	case ip.IsLoopback():
		reason = "loopback address, no other host can reach it"
	case ip.IsLinkLocalUnicast():
		reason = "link-local address (169.254.0.0/16), routers do not forward it"
	default:
		return nil // a good address costs no allocation
	}
	return &FieldError{Field: field, Value: ip.String(), Reason: reason, Fix: fix}
}

// ParseAddr parses s as the IPv4 address of field ("local" or "discovery")
// and returns it, or a *FieldError naming field. It accepts only an IPv4
// unicast address that another host can reach, and refuses:
//
//   - IPv6 addresses: the kernel's tunnel is IPv4 only (RFC 7450 allows IPv6,
//     Linux does not implement it);
//   - IPv4-mapped IPv6 addresses (::ffff:192.0.2.1): not unmapped silently,
//     the error shows the plain IPv4 form to write instead;
//   - 0.0.0.0/8, 127.0.0.0/8 and multicast 224.0.0.0/4, as the kernel does;
//   - 255.255.255.255 (limited broadcast) and link-local 169.254.0.0/16,
//     which the kernel accepts but which cannot work across routers;
//   - prefixes ("192.0.2.1/24"), zones and anything else that is not an
//     address.
//
// Other addresses, private and reserved 240.0.0.0/4 included, are accepted.
func ParseAddr(field, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, &FieldError{Field: field, Reason: "empty value", Fix: fixAddr}
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, &FieldError{Field: field, Value: s, Reason: "not an IP address", Fix: fixAddr}
	}
	if e := checkAddr(field, ip); e != nil {
		return netip.Addr{}, e
	}
	return ip, nil
}

// ParsePort parses s as the UDP port of field ("relay_port" or
// "gateway_port"): a decimal number from 1 to 65535. Port 0 is refused
// because the kernel refuses it (see Validate). Errors are *FieldError.
func ParsePort(field, s string) (uint16, error) {
	n, err := parseUint(field, s, math.MaxUint16, fixPort)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, &FieldError{Field: field, Value: s, Reason: "port 0 is refused", Fix: fixPort}
	}
	return uint16(n), nil
}

// ParseMaxTunnels parses s as the max_tunnels value of a relay: a decimal
// number from 1 to 4294967295. 0 is refused because the kernel would
// silently use the default 128 instead. Errors are *FieldError with Field
// "max_tunnels".
func ParseMaxTunnels(s string) (uint32, error) {
	n, err := parseUint("max_tunnels", s, math.MaxUint32, fixMaxTn)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, &FieldError{Field: "max_tunnels", Value: s, Reason: "the kernel turns 0 into the default 128", Fix: fixMaxTn}
	}
	return uint32(n), nil
}

// parseUint parses a plain decimal number no larger than limit.
func parseUint(field, s string, limit uint64, fix string) (uint64, error) {
	if s == "" {
		return 0, &FieldError{Field: field, Reason: "empty value", Fix: fix}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, &FieldError{Field: field, Value: s, Reason: "not a decimal number", Fix: fix}
	}
	if err != nil || n > limit {
		return 0, &FieldError{Field: field, Value: s, Reason: "out of range", Fix: fix}
	}
	return n, nil
}
