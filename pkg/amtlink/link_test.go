package amtlink

import (
	"net/netip"
	"testing"
)

func TestLinkRelay(t *testing.T) {
	for _, tc := range []struct {
		remote netip.Addr
		want   netip.Addr
		ok     bool
	}{
		{netip.Addr{}, netip.Addr{}, false},            // no IFLA_AMT_REMOTE_IP
		{netip.IPv4Unspecified(), netip.Addr{}, false}, // 0.0.0.0: still discovering
		{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.2"), true},
	} {
		l := Link{}
		l.AMT.Remote = tc.remote
		if got, ok := l.Relay(); got != tc.want || ok != tc.ok {
			t.Errorf("remote %v: Relay() = %v, %v; want %v, %v", tc.remote, got, ok, tc.want, tc.ok)
		}
	}
}
