//go:build linux

package amtlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// burstVLANs is how many VLANs the overrun tests put on one dummy and
// delete at once through it: far more notifications than a notification
// socket's buffer (net.core.rmem_max) holds.
const burstVLANs = 2000

// addBurst creates the dummy name with burstVLANs VLANs on it.
func (n *testNS) addBurst(t *testing.T, name string) {
	t.Helper()
	if err := n.addLink(t, name, "dummy", nil); errors.Is(err, unix.EOPNOTSUPP) {
		testenv.Skip(t, "kernel %s has no dummy driver (CONFIG_DUMMY) for the VLANs' parent: %v", testenv.KernelRelease(), err)
	} else if err != nil {
		t.Fatalf("create dummy %s: %v", name, err)
	}
	parent := n.index(t, name)
	for i := 1; i <= burstVLANs; i++ {
		id := binary.NativeEndian.AppendUint16(nil, uint16(i))
		data, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_VLAN_ID, Data: id}})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.rt.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
			Name: fmt.Sprintf("v%d", i), Type: parent, Info: &rtnetlink.LinkInfo{Kind: "vlan", Data: &rtnetlink.LinkData{Name: "vlan", Data: data}},
		}}); i == 1 && errors.Is(err, unix.EOPNOTSUPP) {
			testenv.Skip(t, "kernel %s has no 802.1Q VLAN driver (CONFIG_VLAN_8021Q): %v", testenv.KernelRelease(), err)
		} else if err != nil {
			t.Fatalf("create vlan %d on %s: %v", i, name, err)
		}
	}
}

// deleteLink deletes the link name, and with it whatever sits on it.
func (n *testNS) deleteLink(t *testing.T, name string) {
	t.Helper()
	if err := n.rt.Link.Delete(n.index(t, name)); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// TestIntegrationSubscribeOverrun deletes a dummy carrying 2,000 VLANs while
// Subscribe's caller is not reading (inside Ready), so the kernel must drop
// notifications: Subscribe reports NotifyResync, stays alive, and reports
// the next change.
func TestIntegrationSubscribeOverrun(t *testing.T) {
	n := newTestNS(t)
	n.addBurst(t, "bulk0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	resynced, after := false, false
	start := time.Now()
	err := n.c.Subscribe(ctx, SubscribeOptions{Ready: func() {
		n.deleteLink(t, "bulk0") // 2,001 RTM_DELLINKs at once
	}}, func(nt Notification) error {
		switch {
		case nt.Type == NotifyResync && !resynced:
			resynced = true
			t.Logf("NotifyResync %v after the burst", time.Since(start))
			// Still reporting: the next change arrives.
			if err := n.addLink(t, "after0", "dummy", nil); err != nil {
				t.Fatalf("create dummy after0: %v", err)
			}
		case nt.Type == NotifyLink && nt.Device.Name == "after0":
			after = true
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if !resynced || !after {
		t.Fatalf("after deleting %d VLANs at once: resync reported %v, next change reported %v; want both", burstVLANs, resynced, after)
	}
}

// TestIntegrationWatchOverrun: the same burst under Watch gives
// EventResynced, and Watch still reports the next amt link.
func TestIntegrationWatchOverrun(t *testing.T) {
	testenv.RequireAMT(t)
	n := newTestNS(t)
	if err := n.addLink(t, "eth0", "dummy", nil); err != nil {
		t.Fatal(err)
	}
	n.addBurst(t, "bulk0")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got []string
	err := n.c.Watch(ctx, WatchOptions{Ready: func() { n.deleteLink(t, "bulk0") }}, func(e Event) error {
		got = append(got, e.Type.String()+" "+e.Link.Name)
		switch e.Type {
		case EventResynced:
			spec := Spec{Name: "amtr", Dev: "eth0", AMT: ifla.AMT{Mode: ifla.Ptr(ifla.ModeRelay), Local: netip.MustParseAddr("10.0.0.1")}}
			if err := n.c.Add(spec); err != nil {
				t.Fatalf("add amtr: %v", err)
			}
		case EventCreated:
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if len(got) != 2 || got[0] != "resynced " || got[1] != "created amtr" {
		t.Fatalf("events %q, want resynced, then created amtr", got)
	}
}
