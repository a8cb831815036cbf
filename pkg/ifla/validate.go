package ifla

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// FieldError describes one invalid field of an AMT or one bad command-line
// value. Field uses the iproute2 keyword ("mode", "local", "discovery",
// "dev", "relay_port", "gateway_port", "max_tunnels", "remote").
type FieldError struct {
	Field  string // iproute2 keyword of the field
	Value  string // the offending value as given ("" when missing)
	Reason string // what is wrong
	Fix    string // what to write instead
}

// Error returns one line: `<field> "<value>": <reason>; <fix>`, or
// `<field>: <reason>; <fix>` when the value is missing.
func (e *FieldError) Error() string {
	var sb strings.Builder
	sb.WriteString(e.Field)
	if e.Value != "" {
		sb.WriteByte(' ')
		sb.WriteString(strconv.Quote(e.Value))
	}
	sb.WriteString(": ")
	sb.WriteString(e.Reason)
	if e.Fix != "" {
		sb.WriteString("; ")
		sb.WriteString(e.Fix)
	}
	return sb.String()
}

// Validate checks a for creating a link and returns the first problem as a
// *FieldError, in this order: mode, link, local, discovery, ports,
// max_tunnels, remote.
func (a *AMT) Validate() error {
	if a.Mode == nil {
		return &FieldError{Field: "mode", Reason: "required", Fix: `add "mode gateway" or "mode relay"`}
	}
	if *a.Mode > modeMax {
		return &FieldError{Field: "mode", Value: strconv.FormatUint(uint64(*a.Mode), 10),
			Reason: "unknown mode value", Fix: `use "gateway" or "relay"`}
	}
	if a.Link == nil || *a.Link == 0 {
		return &FieldError{Field: "dev", Reason: "required (the lower device the tunnel runs over)", Fix: `add "dev IFNAME", e.g. "dev eth0"`}
	}
	if !a.Local.IsValid() {
		return &FieldError{Field: "local", Reason: "required", Fix: `add "local ADDR" with this host's IPv4 unicast address, e.g. "local 192.0.2.1"`}
	}
	if err := checkAddr("local", a.Local); err != nil {
		return err
	}
	if *a.Mode == ModeGateway {
		if !a.Discovery.IsValid() {
			return &FieldError{Field: "discovery", Reason: "required in gateway mode", Fix: `add "discovery ADDR" with the relay's IPv4 unicast address`}
		}
		if err := checkAddr("discovery", a.Discovery); err != nil {
			return err
		}
	} else if a.Discovery.IsValid() {
		return &FieldError{Field: "discovery", Value: a.Discovery.String(), Reason: "only used in gateway mode, the relay ignores it", Fix: `remove "discovery" or use "mode gateway"`}
	}
	if a.RelayPort != nil && *a.RelayPort == 0 {
		return &FieldError{Field: "relay_port", Value: "0", Reason: "port 0 is not a usable UDP port", Fix: "use 1-65535, or omit it for the default 2268"}
	}
	if a.GatewayPort != nil && *a.GatewayPort == 0 {
		return &FieldError{Field: "gateway_port", Value: "0", Reason: "port 0 is not a usable UDP port", Fix: "use 1-65535, or omit it for the default 2268"}
	}
	if a.MaxTunnels != nil {
		if *a.Mode != ModeRelay {
			return &FieldError{Field: "max_tunnels", Value: strconv.FormatUint(uint64(*a.MaxTunnels), 10), Reason: "only used in relay mode", Fix: `remove "max_tunnels" or use "mode relay"`}
		}
		if *a.MaxTunnels == 0 {
			return &FieldError{Field: "max_tunnels", Value: "0", Reason: "0 means the kernel default (128), not zero tunnels", Fix: "write a number from 1 to 4294967295, or omit it for the default 128"}
		}
	}
	if a.Remote.IsValid() {
		return &FieldError{Field: "remote", Value: a.Remote.String(), Reason: "read-only, reported by the kernel", Fix: `remove "remote"; a gateway learns its relay through "discovery"`}
	}
	return nil
}

// checkAddr requires an IPv4 unicast address that can source or receive the
// tunnel's UDP traffic.
func checkAddr(field string, ip netip.Addr) *FieldError {
	e := &FieldError{Field: field, Value: ip.String(), Fix: "use an IPv4 unicast address such as 192.0.2.1"}
	switch {
	case ip.Is4In6():
		e.Reason = "IPv4-mapped IPv6 address"
		e.Fix = "write it as plain IPv4: " + ip.Unmap().String()
	case ip.Is6():
		e.Reason = "IPv6 address, but the AMT tunnel runs over IPv4"
	case ip.IsUnspecified():
		e.Reason = "unspecified address"
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		e.Reason = "broadcast address"
	case ip.IsMulticast():
		e.Reason = "multicast address, but the tunnel endpoint must be unicast"
	case ip.IsLoopback():
		e.Reason = "loopback address, unreachable from other hosts"
	case ip.IsLinkLocalUnicast():
		e.Reason = "link-local address"
	default:
		return nil
	}
	return e
}

// ParseAddr parses s as the IPv4 unicast address for field ("local" or
// "discovery"). It rejects IPv6 (including IPv4-mapped IPv6, which it does
// not silently unmap), multicast, broadcast, unspecified, loopback and
// link-local addresses with a *FieldError naming field.
func ParseAddr(field, s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, &FieldError{Field: field, Value: s, Reason: "not an IP address", Fix: "use an IPv4 unicast address such as 192.0.2.1"}
	}
	if e := checkAddr(field, ip); e != nil {
		return netip.Addr{}, e
	}
	return ip, nil
}

// ParsePort parses s as a UDP port for field ("relay_port" or
// "gateway_port"): a decimal number from 1 to 65535.
func ParsePort(field, s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil && isRange(err):
		return 0, &FieldError{Field: field, Value: s, Reason: "out of range", Fix: "use a UDP port from 1 to 65535 (default 2268)"}
	case err != nil:
		return 0, &FieldError{Field: field, Value: s, Reason: "not a number", Fix: "use a UDP port from 1 to 65535 (default 2268)"}
	case n == 0:
		return 0, &FieldError{Field: field, Value: s, Reason: "port 0 is not a usable UDP port", Fix: "use 1-65535, or omit it for the default 2268"}
	case n > math.MaxUint16:
		return 0, &FieldError{Field: field, Value: s, Reason: "out of range", Fix: "use a UDP port from 1 to 65535 (default 2268)"}
	}
	return uint16(n), nil
}

// ParseMaxTunnels parses s as the max_tunnels value of a relay: a decimal
// number from 1 to 4294967295.
func ParseMaxTunnels(s string) (uint32, error) {
	const fix = "use a number from 1 to 4294967295, or omit it for the default 128"
	n, err := strconv.ParseUint(s, 10, 32)
	switch {
	case err != nil && isRange(err):
		return 0, &FieldError{Field: "max_tunnels", Value: s, Reason: "out of range", Fix: fix}
	case err != nil:
		return 0, &FieldError{Field: "max_tunnels", Value: s, Reason: "not a number", Fix: fix}
	case n == 0:
		return 0, &FieldError{Field: "max_tunnels", Value: s, Reason: "0 means the kernel default (128), not zero tunnels", Fix: fix}
	}
	return uint32(n), nil
}

func isRange(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}
