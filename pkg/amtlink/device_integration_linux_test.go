//go:build linux

package amtlink

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// TestIntegrationDevice: Device(name) gives what Devices lists for that
// name, addresses of that device only included, and os.ErrNotExist for a
// missing one.
func TestIntegrationDevice(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	n.addVeth(t, "va", "vb", n)
	n.addAddr(t, "va", "10.0.0.1/24")
	n.addAddr(t, "vb", "10.0.0.2/24")
	n.up(t, "va")
	devs, err := n.c.Devices()
	if err != nil {
		t.Fatalf("Devices: %v", err)
	}
	for _, name := range []string{"lo", "va", "vb"} {
		got, err := n.c.Device(name)
		if err != nil {
			t.Fatalf("Device(%s): %v", name, err)
		}
		var want *Device
		for i := range devs {
			if devs[i].Name == name {
				want = &devs[i]
			}
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Errorf("Device(%s) differs from Devices' entry (-Devices +Device):\n%s", name, diff)
		}
	}
	if va, _ := n.c.Device("va"); !va.HasAddr(netip.MustParseAddr("10.0.0.1")) || va.HasAddr(netip.MustParseAddr("10.0.0.2")) {
		t.Errorf("va: %+v, want 10.0.0.1 and not vb's 10.0.0.2", va)
	}
	if _, err := n.c.Device("nope0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Device(nope0): %v, want os.ErrNotExist", err)
	}
}
