//go:build linux

package amtlink

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// operBits are the link flags the kernel changes asynchronously.
const operBits = unix.IFF_RUNNING | unix.IFF_LOWER_UP | unix.IFF_DORMANT

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
		if want == nil {
			t.Fatalf("Devices listed no %s", name)
		}
		// The kernel sets IFF_RUNNING, IFF_LOWER_UP and IFF_DORMANT on its
		// own time (linkwatch), so they may change between the two
		// lookups: compare the rest.
		w, g := *want, *got
		w.Flags &^= operBits
		g.Flags &^= operBits
		if diff := cmp.Diff(w, g, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
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
