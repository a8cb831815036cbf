//go:build linux

package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"golang.org/x/sys/unix"
)

// netnsLaterLimit is how long TestIntegrationApplyWatchNetnsLater waits
// for a link in a namespace just added: generous, for a loaded host; the
// time it took is logged.
const netnsLaterLimit = 10 * time.Second

// ipNetnsAdd names ns NAME the way ip netns add does (ip/ipnetns.c): the
// directory /run/netns made a shared mount point (bound onto itself) if it
// is none, the file /run/netns/NAME created empty, and only then the
// namespace bind-mounted onto it; pause is how long the file stays a
// plain one. It returns the file's path.
func ipNetnsAdd(t *testing.T, ns *os.File, name string, pause time.Duration) string {
	t.Helper()
	if err := os.MkdirAll(defaultNetnsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", defaultNetnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); errors.Is(err, unix.EINVAL) {
		if err := unix.Mount(defaultNetnsDir, defaultNetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			t.Fatalf("bind %s onto itself: %v", defaultNetnsDir, err)
		}
		if err := unix.Mount("", defaultNetnsDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
			t.Fatalf("make %s shared: %v", defaultNetnsDir, err)
		}
	} else if err != nil {
		t.Fatalf("make %s shared: %v", defaultNetnsDir, err)
	}
	p := filepath.Join(defaultNetnsDir, name)
	if err := os.WriteFile(p, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ipNetnsDel(p) })
	time.Sleep(pause)
	if err := unix.Mount(testenv.NetNSPath(ns), p, "none", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind-mount the namespace at %s: %v", p, err)
	}
	return p
}

// ipNetnsDel is ip netns del: the bind mount detached, the file removed.
func ipNetnsDel(p string) error {
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("umount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// TestIntegrationApplyWatchNetnsLater: apply --watch on a file whose link
// lives in a named namespace that does not exist yet; ip netns add (its
// steps, empty file first) makes it, and the link is there at once, with
// no resync to find it (--resync 1h). ip netns del: watch says so once and
// goes on; the namespace added again (another one, same name) gets the
// link back at once. How long each took is logged (in the VM: 40-270 ms
// after the bind mount); the test allows 10 s, for a loaded host, since
// without the watch of /run/netns the link would never come.
func TestIntegrationApplyWatchNetnsLater(t *testing.T) {
	testenv.RequireAMT(t)
	name := fmt.Sprintf("amtctl-later-%d", os.Getpid())
	file := writeFile(t, "links.yaml", "links:\n  - {name: amtr, netns: "+name+", mode: relay, local: 10.0.0.1, dev: eth0, up: true}\n")
	w := startKernelWatch(t, "", file, hooks{}, "--resync", "1h")
	waitLine(t, w.lines, "waiting for netns "+name+": not found (ip netns add "+name+"?); opened as soon as it is added")

	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	kc := nsClient(t, ns)
	p := ipNetnsAdd(t, ns, name, 200*time.Millisecond)
	backWithin(t, kc, "amtr", netnsLaterLimit, "ip netns add")
	waitLine(t, w.lines, "created amtr (netns "+name+"): mode relay local 10.0.0.1 dev eth0 up")

	if err := ipNetnsDel(p); err != nil {
		t.Fatal(err)
	}
	waitLine(t, w.lines, "lost netns "+name+": it is gone (ip netns del?)")

	ns2 := testenv.NewNetNS(t)
	addDummy(t, ns2, "eth0", "10.0.0.1")
	kc2 := nsClient(t, ns2)
	ipNetnsAdd(t, ns2, name, 0)
	backWithin(t, kc2, "amtr", netnsLaterLimit, "ip netns add again")
	waitLine(t, w.lines, "created amtr (netns "+name+"): mode relay local 10.0.0.1 dev eth0 up")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited(t, "apply --watch after SIGTERM", w.done, w.errb)
}
