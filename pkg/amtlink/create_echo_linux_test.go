//go:build linux

package amtlink

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

const echoFlags = createFlags | netlink.Echo

// relaySpec is a create without a master, the case Create reads back from
// the kernel's echo.
func relaySpec(name string) Spec {
	return Spec{
		Name: name,
		Dev:  "eth0",
		AMT: ifla.AMT{
			Mode:  ifla.Ptr(ifla.ModeRelay),
			Local: netip.MustParseAddr("10.0.0.2"),
		},
	}
}

// TestCreateEcho: without a master, Create asks for NLM_F_ECHO and takes
// the link from the echo, so there is no read-back request; the dev's index
// is looked up once per client.
func TestCreateEcho(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	for _, name := range []string{"amt1", "amt2"} {
		l, err := c.Create(relaySpec(name))
		if err != nil {
			t.Fatalf("Create %s: %v", name, err)
		}
		if l.Name != name || l.LowerName != "eth0" || l.Index == 0 {
			t.Errorf("Create %s returned %+v", name, l)
		}
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_NEWLINK, echoFlags, nil},
		{unix.RTM_NEWLINK, echoFlags, nil},
	})
	// What the echo gave equals what a Get reads.
	got, err := k.client().Create(relaySpec("amt3"))
	if err != nil {
		t.Fatalf("Create amt3: %v", err)
	}
	want, err := c.Get("amt3")
	if err != nil {
		t.Fatalf("Get amt3: %v", err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Create's echo differs from Get (-get +create):\n%s", diff)
	}
}

// TestCreateNoEcho: a kernel that ignores NLM_F_ECHO (before 6.1) answers
// with the acknowledgement only; Create reads the link back by name.
func TestCreateNoEcho(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	k.noEcho = true
	l, err := k.client().Create(relaySpec("amt1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if l.Name != "amt1" || l.LowerName != "eth0" {
		t.Errorf("Create returned %+v", l)
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_NEWLINK, echoFlags, nil},
		{unix.RTM_GETLINK, reqFlags, getByName("amt1")},
	})
}

// TestCreateStaleDev: the cached index of dev went stale (the device was
// deleted and made again); the kernel answers ENODEV and Create looks the
// device up again and retries once.
func TestCreateStaleDev(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	if _, err := c.Create(relaySpec("amt1")); err != nil {
		t.Fatalf("Create amt1: %v", err)
	}
	k.links[1].index = 50 // eth0 made again under a new index
	k.reqs = nil
	l, err := c.Create(relaySpec("amt2"))
	if err != nil {
		t.Fatalf("Create amt2: %v", err)
	}
	if l.AMT.Link == nil || *l.AMT.Link != 50 || l.LowerName != "eth0" {
		t.Errorf("Create amt2: link %v lower %q, want 50 eth0", l.AMT.Link, l.LowerName)
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_NEWLINK, echoFlags, nil},
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_NEWLINK, echoFlags, nil},
	})
	// A dev that is really gone still fails, after one retry.
	k.links = k.links[:1]
	if _, err := c.Create(relaySpec("amt3")); err == nil {
		t.Fatal("Create with dev gone: no error")
	}
}

// TestAdd: Add sends Create's request without NLM_F_ECHO and reads nothing
// back, makes the same link, and fails as Create does; with an MTU it reads
// the link back to set the MTU the driver overrode.
func TestAdd(t *testing.T) {
	k := newFakeKernel(t, baseLinks()...)
	c := k.client()
	if err := c.Add(relaySpec("amt1")); err != nil {
		t.Fatalf("Add: %v", err)
	}
	checkReqs(t, k.reqs, []wantReq{
		{unix.RTM_GETLINK, reqFlags, lookupByName("eth0")},
		{unix.RTM_NEWLINK, createFlags, nil},
	})
	added, err := c.Get("amt1")
	if err != nil {
		t.Fatalf("Get after Add: %v", err)
	}
	created, err := c.Create(relaySpec("amt2"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	added.Name, added.Index = created.Name, created.Index
	if diff := cmp.Diff(created, added, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Add made a different link than Create (-create +add):\n%s", diff)
	}

	// The same errors: an existing name, bad input (nothing sent).
	k.reqs = nil
	if err := c.Add(relaySpec("amt1")); !errors.Is(err, os.ErrExist) {
		t.Errorf("Add of an existing name: %v, want os.ErrExist", err)
	}
	bad := relaySpec("amt9")
	bad.AMT.Local = netip.MustParseAddr("127.0.0.1")
	n := len(k.reqs)
	if err := c.Add(bad); err == nil || len(k.reqs) != n {
		t.Errorf("Add with a loopback local: %v after %d requests, want an error and none", err, len(k.reqs)-n)
	}

	// With an MTU, Add asks for the echo like Create, to fix the MTU up.
	k.reqs = nil
	s := relaySpec("amt3")
	s.MTU = 1400
	if err := c.Add(s); err != nil {
		t.Fatalf("Add with mtu: %v", err)
	}
	if len(k.reqs) == 0 || k.reqs[0].Header.Flags != echoFlags {
		t.Errorf("Add with mtu: requests %+v, want the create with NLM_F_ECHO first", k.reqs)
	}
	if l, err := c.Get("amt3"); err != nil || l.MTU != 1400 {
		t.Errorf("Add with mtu: Get = %+v, %v; want mtu 1400", l, err)
	}
}
