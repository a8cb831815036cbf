package ifla

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
)

// gw and relay return valid create requests to break one field at a time.
func gw() AMT {
	return AMT{Mode: Ptr(ModeGateway), Link: Ptr[uint32](3), Local: ip10_0_0_1, Discovery: ip10_0_0_2}
}

func relay() AMT {
	return AMT{Mode: Ptr(ModeRelay), Link: Ptr[uint32](3), Local: ip10_0_0_2}
}

func with(a AMT, f func(*AMT)) AMT { f(&a); return a }

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// checkFieldError asserts err is a *FieldError for field whose message is
// one line, names the field and contains fix.
func checkFieldError(t *testing.T, err error, field, fix string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FieldError", err, err)
	}
	msg := err.Error()
	if fe.Field != field {
		t.Errorf("Field = %q, want %q (%s)", fe.Field, field, msg)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, field+" ") && !strings.HasPrefix(msg, field+":") {
		t.Errorf("message %q does not start with the field %q", msg, field)
	}
	if fe.Fix == "" || !strings.HasSuffix(msg, "; "+fe.Fix) {
		t.Errorf("message %q does not end with its fix %q", msg, fe.Fix)
	}
	if !strings.Contains(msg, fix) {
		t.Errorf("message %q does not contain the fix %q", msg, fix)
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		in    AMT
		field string // "" = valid
		fix   string // substring of the message
	}{
		// valid
		{"gateway minimal", gw(), "", ""},
		{"relay minimal", relay(), "", ""},
		{"selftest gateway", goldenIPGatewayAMT, "", ""},
		{"selftest relay", goldenIPRelayAMT, "", ""},
		{"gateway equal custom ports", with(gw(), func(a *AMT) { a.RelayPort, a.GatewayPort = Ptr[uint16](4000), Ptr[uint16](4000) }), "", ""},
		{"gateway explicit default gateway_port", with(gw(), func(a *AMT) { a.GatewayPort = Ptr(DefaultPort) }), "", ""},
		{"relay gateway_port differs (ignored)", with(relay(), func(a *AMT) { a.GatewayPort = Ptr[uint16](9) }), "", ""},
		{"relay max_tunnels 1", with(relay(), func(a *AMT) { a.MaxTunnels = Ptr[uint32](1) }), "", ""},
		{"relay max_tunnels max", with(relay(), func(a *AMT) { a.MaxTunnels = Ptr[uint32](4294967295) }), "", ""},
		{"reserved 240/4 local", with(gw(), func(a *AMT) { a.Local = addr("240.0.0.1") }), "", ""},
		{"private 192.168 discovery", with(gw(), func(a *AMT) { a.Discovery = addr("192.168.1.1") }), "", ""},
		{"unknown attribute kept", with(relay(), func(a *AMT) { a.Unknown = []netlink.Attribute{{Type: 9, Data: []byte{1}}} }), "", ""},

		// mode
		{"mode missing", with(gw(), func(a *AMT) { a.Mode = nil }), "mode", `add "mode gateway" or "mode relay"`},
		{"mode 2", with(gw(), func(a *AMT) { a.Mode = Ptr(Mode(2)) }), "mode", `use "gateway" or "relay"`},
		{"mode max", with(gw(), func(a *AMT) { a.Mode = Ptr(Mode(0xffffffff)) }), "mode", `use "gateway" or "relay"`},
		{"mode first of many problems", AMT{Remote: ip10_0_0_1}, "mode", "mode"},
		// dev
		{"link missing", with(gw(), func(a *AMT) { a.Link = nil }), "dev", `add "dev IFNAME"`},
		{"link 0", with(relay(), func(a *AMT) { a.Link = Ptr[uint32](0) }), "dev", `add "dev IFNAME"`},
		{"link before local", AMT{Mode: Ptr(ModeRelay)}, "dev", "dev"},
		// local
		{"local missing", with(gw(), func(a *AMT) { a.Local = netip.Addr{} }), "local", `add "local ADDR"`},
		{"local IPv6", with(gw(), func(a *AMT) { a.Local = addr("ff02::1") }), "local", "use an IPv4 unicast address such as 192.0.2.1"},
		{"local IPv6 unicast", with(relay(), func(a *AMT) { a.Local = addr("2001:db8::1") }), "local", "IPv4 unicast"},
		{"local IPv4-mapped", with(gw(), func(a *AMT) { a.Local = addr("::ffff:10.0.0.1") }), "local", "write the IPv4 address itself: 10.0.0.1"},
		{"local unspecified", with(gw(), func(a *AMT) { a.Local = netip.IPv4Unspecified() }), "local", "IPv4 unicast"},
		{"local zeronet", with(relay(), func(a *AMT) { a.Local = addr("0.1.2.3") }), "local", "IPv4 unicast"},
		{"local loopback", with(gw(), func(a *AMT) { a.Local = addr("127.0.0.1") }), "local", "IPv4 unicast"},
		{"local loopback 127/8", with(relay(), func(a *AMT) { a.Local = addr("127.9.9.9") }), "local", "IPv4 unicast"},
		{"local multicast", with(gw(), func(a *AMT) { a.Local = addr("239.1.1.1") }), "local", "IPv4 unicast"},
		{"local broadcast", with(relay(), func(a *AMT) { a.Local = addr("255.255.255.255") }), "local", "IPv4 unicast"},
		{"local link-local", with(gw(), func(a *AMT) { a.Local = addr("169.254.1.1") }), "local", "IPv4 unicast"},
		// discovery
		{"gateway discovery missing", with(gw(), func(a *AMT) { a.Discovery = netip.Addr{} }), "discovery", `add "discovery ADDR"`},
		{"discovery IPv6", with(gw(), func(a *AMT) { a.Discovery = addr("2001:db8::2") }), "discovery", "IPv4 unicast"},
		{"discovery IPv4-mapped", with(gw(), func(a *AMT) { a.Discovery = addr("::ffff:10.0.0.2") }), "discovery", "write the IPv4 address itself: 10.0.0.2"},
		{"discovery multicast", with(gw(), func(a *AMT) { a.Discovery = addr("224.0.0.1") }), "discovery", "IPv4 unicast"},
		{"discovery loopback", with(gw(), func(a *AMT) { a.Discovery = addr("127.0.0.2") }), "discovery", "IPv4 unicast"},
		{"discovery unspecified", with(gw(), func(a *AMT) { a.Discovery = netip.IPv4Unspecified() }), "discovery", "IPv4 unicast"},
		{"discovery broadcast", with(gw(), func(a *AMT) { a.Discovery = addr("255.255.255.255") }), "discovery", "IPv4 unicast"},
		{"discovery link-local", with(gw(), func(a *AMT) { a.Discovery = addr("169.254.0.9") }), "discovery", "IPv4 unicast"},
		{"discovery equals local", with(gw(), func(a *AMT) { a.Discovery = a.Local }), "discovery", "the relay's IPv4 unicast address, not this host's"},
		{"discovery in relay mode", with(relay(), func(a *AMT) { a.Discovery = ip10_0_0_1 }), "discovery", `remove "discovery", or use "mode gateway"`},
		{"discovery 0.0.0.0 in relay mode (kernel readback)", goldenKernelRelayAMT, "discovery", `remove "discovery"`},
		// ports
		{"relay_port 0 gateway", with(gw(), func(a *AMT) { a.RelayPort = Ptr[uint16](0) }), "relay_port", "use a UDP port from 1 to 65535"},
		{"relay_port 0 relay", with(relay(), func(a *AMT) { a.RelayPort = Ptr[uint16](0) }), "relay_port", "default 2268"},
		{"gateway_port 0 gateway", with(gw(), func(a *AMT) { a.GatewayPort = Ptr[uint16](0) }), "gateway_port", "use a UDP port from 1 to 65535"},
		{"gateway_port 0 relay", with(relay(), func(a *AMT) { a.GatewayPort = Ptr[uint16](0) }), "gateway_port", "use a UDP port"},
		{"gateway ports differ", with(gw(), func(a *AMT) { a.RelayPort, a.GatewayPort = Ptr[uint16](2268), Ptr[uint16](2269) }), "gateway_port", "use the same port for gateway_port and relay_port"},
		{"gateway only gateway_port set", with(gw(), func(a *AMT) { a.GatewayPort = Ptr[uint16](3000) }), "gateway_port", "same port"},
		{"gateway only relay_port set", with(gw(), func(a *AMT) { a.RelayPort = Ptr[uint16](3000) }), "gateway_port", "same port"},
		// max_tunnels
		{"max_tunnels in gateway mode", with(gw(), func(a *AMT) { a.MaxTunnels = Ptr[uint32](10) }), "max_tunnels", `remove "max_tunnels", or use "mode relay"`},
		{"max_tunnels 0", with(relay(), func(a *AMT) { a.MaxTunnels = Ptr[uint32](0) }), "max_tunnels", "leave it out for the default 128"},
		{"kernel gateway readback has max_tunnels", with(goldenKernelGatewayAMT, func(a *AMT) { a.GatewayPort = a.RelayPort }), "max_tunnels", "mode relay"},
		// remote
		{"remote set on gateway", with(gw(), func(a *AMT) { a.Remote = addr("198.51.100.7") }), "remote", `remove "remote"`},
		{"remote set on relay", with(relay(), func(a *AMT) { a.Remote = ip10_0_0_1 }), "remote", `"discovery"`},
		// unknown
		{"known type in Unknown", with(relay(), func(a *AMT) { a.Unknown = []netlink.Attribute{{Type: AttrMode, Data: []byte{0, 0, 0, 0}}} }), "unknown", "set the matching AMT field instead"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			checkFieldError(t, err, tt.field, tt.fix)
		})
	}
}

func TestFieldErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		e    FieldError
		want string
	}{
		{FieldError{Field: "local", Value: "ff02::1", Reason: "IPv6 address, but the AMT tunnel runs over IPv4", Fix: "use an IPv4 unicast address such as 192.0.2.1"},
			`local "ff02::1": IPv6 address, but the AMT tunnel runs over IPv4; use an IPv4 unicast address such as 192.0.2.1`},
		{FieldError{Field: "mode", Reason: "missing", Fix: `add "mode gateway" or "mode relay"`}, `mode: missing; add "mode gateway" or "mode relay"`},
		{FieldError{Field: "relay_port", Value: "a\nb", Reason: "not a decimal number", Fix: "x"}, `relay_port "a\nb": not a decimal number; x`},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	// The API brief's example, produced by Validate itself.
	a := with(gw(), func(a *AMT) { a.Local = addr("ff02::1") })
	const want = `local "ff02::1": IPv6 address, but the AMT tunnel runs over IPv4; use an IPv4 unicast address such as 192.0.2.1`
	if err := a.Validate(); err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

func TestParseAddr(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" = error
		fix      string
	}{
		{"10.0.0.1", "10.0.0.1", ""},
		{"192.0.2.1", "192.0.2.1", ""},
		{"100.64.0.1", "100.64.0.1", ""},
		{"", "", "IPv4 unicast"},
		{"abc", "", "IPv4 unicast"},
		{"10.0.0.1/24", "", "IPv4 unicast"},
		{"010.0.0.1", "", "IPv4 unicast"},
		{"10.0.0.256", "", "IPv4 unicast"},
		{" 10.0.0.1", "", "IPv4 unicast"},
		{"fe80::1%eth0", "", "IPv4 unicast"},
		{"2001:db8::1", "", "IPv4 unicast"},
		{"::ffff:192.0.2.1", "", "write the IPv4 address itself: 192.0.2.1"},
		{"0.0.0.0", "", "IPv4 unicast"},
		{"127.0.0.1", "", "IPv4 unicast"},
		{"224.0.0.1", "", "IPv4 unicast"},
		{"255.255.255.255", "", "IPv4 unicast"},
		{"169.254.10.10", "", "IPv4 unicast"},
	} {
		got, err := ParseAddr("discovery", tt.in)
		if tt.want != "" {
			if err != nil || got != addr(tt.want) {
				t.Errorf("ParseAddr(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
			}
			continue
		}
		if got.IsValid() {
			t.Errorf("ParseAddr(%q) returned %v with an error", tt.in, got)
		}
		t.Run(tt.in, func(t *testing.T) { checkFieldError(t, err, "discovery", tt.fix) })
	}
}

func TestParsePort(t *testing.T) {
	for _, tt := range []struct {
		in     string
		want   uint16
		reason string // "" = ok
	}{
		{"2268", 2268, ""},
		{"1", 1, ""},
		{"65535", 65535, ""},
		{"0", 0, "port 0 is refused"},
		{"00", 0, "port 0 is refused"},
		{"65536", 0, "out of range"},
		{"70000", 0, "out of range"},
		{"99999999999999999999999", 0, "out of range"},
		{"abc", 0, "not a decimal number"},
		{"-1", 0, "not a decimal number"},
		{"+80", 0, "not a decimal number"},
		{"0x8dc", 0, "not a decimal number"},
		{"", 0, "empty value"},
	} {
		got, err := ParsePort("relay_port", tt.in)
		if tt.reason == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParsePort(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		t.Run(tt.in, func(t *testing.T) {
			checkFieldError(t, err, "relay_port", "use a UDP port from 1 to 65535")
			if fe := err.(*FieldError); fe.Reason != tt.reason || fe.Value != tt.in || got != 0 {
				t.Errorf("ParsePort(%q) = %d, %+v; want reason %q", tt.in, got, fe, tt.reason)
			}
		})
	}
}

func TestParseMaxTunnels(t *testing.T) {
	for _, tt := range []struct {
		in     string
		want   uint32
		reason string
	}{
		{"128", 128, ""},
		{"1", 1, ""},
		{"4294967295", 4294967295, ""},
		{"0", 0, "the kernel turns 0 into the default 128"},
		{"4294967296", 0, "out of range"},
		{"ten", 0, "not a decimal number"},
		{"1e3", 0, "not a decimal number"},
		{"", 0, "empty value"},
	} {
		got, err := ParseMaxTunnels(tt.in)
		if tt.reason == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseMaxTunnels(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			continue
		}
		t.Run(tt.in, func(t *testing.T) {
			checkFieldError(t, err, "max_tunnels", "leave it out for the default 128")
			if fe := err.(*FieldError); fe.Reason != tt.reason || got != 0 {
				t.Errorf("ParseMaxTunnels(%q) = %d, %+v; want reason %q", tt.in, got, fe, tt.reason)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"gateway": ModeGateway, "relay": ModeRelay} {
		if got, err := ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "gw", "Relay", "1", "relay "} {
		_, err := ParseMode(in)
		t.Run(in, func(t *testing.T) { checkFieldError(t, err, "mode", `use "gateway" or "relay"`) })
	}
}
