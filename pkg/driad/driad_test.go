package driad

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReverseName(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.12":    "12.100.51.198.in-addr.arpa.",
		"::ffff:192.0.2.1": "1.2.0.192.in-addr.arpa.",
		"2001:db8::15":     "5.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
		"0.0.0.0":          "0.0.0.0.in-addr.arpa.",
		"255.255.255.255":  "255.255.255.255.in-addr.arpa.",
	} {
		if got := ReverseName(netip.MustParseAddr(in)); got != want {
			t.Errorf("ReverseName(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestParseResolvConf(t *testing.T) {
	r, err := ParseResolvConf(strings.NewReader(`# comment
search example.com
nameserver 192.0.2.53 ; trailing comment
nameserver 2001:db8::53
nameserver 192.0.2.54
nameserver 192.0.2.55
options ndots:2 timeout:3 attempts:9 rotate
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Resolver{Servers: []netip.AddrPort{
		netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53"), netip.MustParseAddrPort("192.0.2.54:53"),
	}, Timeout: 3 * time.Second, Attempts: 5}
	if diff := cmp.Diff(want, r, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }), cmp.Comparer(func(a, b func(int, func(int, int))) bool { return a == nil && b == nil }), cmp.Comparer(func(a, b func(context.Context, string, string) (net.Conn, error)) bool { return a == nil && b == nil })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r, err = ParseResolvConf(strings.NewReader("options timeout:0\n"))
	if err != nil || len(r.Servers) != 1 || r.Servers[0] != netip.MustParseAddrPort("127.0.0.1:53") || r.Timeout != time.Second || r.Attempts != DefaultAttempts {
		t.Errorf("empty resolv.conf: %+v, %v; want 127.0.0.1:53, 1s, 2 attempts", r, err)
	}
	if _, err := ParseResolvConf(strings.NewReader("nameserver dns.example\n")); err == nil || err.Error() != `line 1: nameserver "dns.example" is not an IP address` {
		t.Errorf("bad nameserver: %v", err)
	}
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.53": "192.0.2.53:53", "192.0.2.53:5353": "192.0.2.53:5353", "2001:db8::53": "[2001:db8::53]:53", "[2001:db8::53]:54": "[2001:db8::53]:54"} {
		if got, err := ParseServer(in); err != nil || got.String() != want {
			t.Errorf("ParseServer(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "dns.example", "192.0.2.53:0", "192.0.2.53:99999", "192.0.2.53/24"} {
		if _, err := ParseServer(in); err == nil || !strings.Contains(err.Error(), "not an IP address or ADDR:PORT") {
			t.Errorf("ParseServer(%q) = %v", in, err)
		}
	}
}
