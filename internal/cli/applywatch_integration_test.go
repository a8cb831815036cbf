//go:build linux

package cli

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/amtctl/amtctl/pkg/amtlink"
	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// burstVLANs is how many VLANs the overrun tests delete at once, through
// their parent: more notifications than a socket's buffer holds.
const burstVLANs = 2000

// addBurst creates the dummy name in ns with burstVLANs VLANs on it.
func addBurst(t *testing.T, ns *os.File, name string) {
	t.Helper()
	c := dialNS(t, ns)
	if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC,
		Attributes: &rtnetlink.LinkAttributes{Name: name, Info: &rtnetlink.LinkInfo{Kind: "dummy"}}}); err != nil {
		t.Fatalf("create dummy %s: %v", name, err)
	}
	parent := linkIndex(t, c, name)
	for i := 1; i <= burstVLANs; i++ {
		data, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_VLAN_ID, Data: binary.NativeEndian.AppendUint16(nil, uint16(i))}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Link.New(&rtnetlink.LinkMessage{Family: unix.AF_UNSPEC, Attributes: &rtnetlink.LinkAttributes{
			Name: fmt.Sprintf("v%d", i), Type: parent, Info: &rtnetlink.LinkInfo{Kind: "vlan", Data: &rtnetlink.LinkData{Name: "vlan", Data: data}},
		}}); err != nil {
			t.Fatalf("create vlan %d: %v", i, err)
		}
	}
}

func linkIndex(t *testing.T, c *rtnetlink.Conn, name string) uint32 {
	t.Helper()
	links, err := c.Link.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attributes != nil && l.Attributes.Name == name {
			return l.Index
		}
	}
	t.Fatalf("no link %s", name)
	return 0
}

// deleteLink deletes name in ns, and whatever sits on it.
func deleteLink(t *testing.T, ns *os.File, name string) {
	t.Helper()
	c := dialNS(t, ns)
	if err := c.Link.Delete(linkIndex(t, c, name)); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
}

// lineReader hands out the lines written to its pipe.
func lineReader(t *testing.T) (*io.PipeWriter, <-chan string) {
	pr, pw := io.Pipe()
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			t.Logf("amtctl: %s", sc.Text())
			lines <- sc.Text()
		}
	}()
	return pw, lines
}

// waitLine waits (bounded) for a line starting with prefix, skipping
// others.
func waitLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within 30s", prefix)
		}
	}
}

// backWithin waits until kc has the amt link name again, failing after
// limit.
func backWithin(t *testing.T, kc *amtlink.Client, name string, limit time.Duration, what string) {
	t.Helper()
	start := time.Now()
	for {
		if _, err := kc.Get(name); err == nil {
			t.Logf("%s: %s back after %v", what, name, time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: %s not back within %v", what, name, limit)
		}
		time.Sleep(10 * time.Millisecond) // polling the kernel, which says nothing when asked to wait
	}
}

// TestIntegrationApplyWatch runs "amtctl -n NS apply --watch" in-process on
// a real namespace: a link whose lower device is deleted and re-created is
// back within a second, so is one deleted by hand; SIGHUP with a broken
// file keeps the old links; 2,000 VLANs deleted at once while apply is
// busy overrun its socket, and it says it resynced and goes on; SIGTERM
// ends it with exit 0 and leaves the link.
func TestIntegrationApplyWatch(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	path := testenv.NetNSPath(ns)
	kc := nsClient(t, ns)
	file := filepath.Join(t.TempDir(), "links.yaml")
	if err := os.WriteFile(file, []byte("links:\n  - {name: amtr, mode: relay, local: 10.0.0.1, dev: eth0, up: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var hold atomic.Pointer[chan struct{}]
	ready := make(chan struct{})
	h := hooks{watchReady: func() { close(ready) }, watchIdle: func() {
		if c := hold.Load(); c != nil {
			<-*c
		}
	}}
	pw, lines := lineReader(t)
	done := make(chan int, 1)
	errb := &bytes.Buffer{}
	go func() {
		code := Execute(newRootCommand(OpenAMTLink, h), []string{"-n", path, "apply", "--watch", "-f", file}, pw, errb)
		pw.Close()
		done <- code
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("apply --watch ended: exit %d, stderr %q", code, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatal("apply --watch not ready within 20s")
	}
	waitLine(t, lines, "created amtr: mode relay local 10.0.0.1 dev eth0 up")

	// The lower device deleted (the driver deletes amtr with it) and
	// re-created.
	deleteLink(t, ns, "eth0")
	addDummy(t, ns, "eth0", "10.0.0.1")
	backWithin(t, kc, "amtr", time.Second, "eth0 re-created")

	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand")

	// SIGHUP with a broken file: refused, the old links kept.
	if err := os.WriteFile(file, []byte("links:\n  - {name: amtr, mode: relay, local: nope}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine(t, lines, "reload refused: ")
	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand after a refused reload")

	// The burst, while apply is held busy: its socket overruns.
	addBurst(t, ns, "bulk0")
	c := make(chan struct{})
	hold.Store(&c)
	deleteLink(t, ns, "bulk0")
	hold.Store(nil)
	close(c)
	waitLine(t, lines, "resynced: the kernel dropped notifications")
	if err := kc.Delete("amtr"); err != nil {
		t.Fatal(err)
	}
	backWithin(t, kc, "amtr", time.Second, "deleted by hand after the overrun")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("apply --watch after SIGTERM: exit %d, stderr %q", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("apply --watch still running 20s after SIGTERM")
	}
	if _, err := kc.Get("amtr"); err != nil {
		t.Errorf("after SIGTERM: %v; want amtr left in place", err)
	}
}

// TestIntegrationMonitorOverrun: monitor, held inside its Ready while 2,000
// VLANs are deleted at once, says it resynced and reports the next link.
func TestIntegrationMonitorOverrun(t *testing.T) {
	testenv.RequireAMT(t)
	ns := testenv.NewNetNS(t)
	addDummy(t, ns, "eth0", "10.0.0.1")
	addBurst(t, ns, "bulk0")
	path := testenv.NetNSPath(ns)
	ready, release := make(chan struct{}), make(chan struct{})
	pw, lines := lineReader(t)
	done := make(chan int, 1)
	errb := &bytes.Buffer{}
	go func() {
		root := newRootCommand(OpenAMTLink, hooks{monitorReady: func() { close(ready); <-release }})
		code := Execute(root, []string{"-n", path, "monitor"}, pw, errb)
		pw.Close()
		done <- code
	}()
	select {
	case <-ready:
	case code := <-done:
		t.Fatalf("monitor ended: exit %d, stderr %q", code, errb.String())
	case <-time.After(20 * time.Second):
		t.Fatal("monitor not ready within 20s")
	}
	deleteLink(t, ns, "bulk0")
	close(release)
	waitLine(t, lines, "resynced (the kernel dropped notifications")
	if code, _, errOut := runKernel("", "-n", path, "add", "amtr", "mode", "relay", "local", "10.0.0.1", "dev", "eth0"); code != 0 {
		t.Fatalf("add: exit %d, %q", code, errOut)
	}
	waitLine(t, lines, "created amtr relay local 10.0.0.1 dev eth0")
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("monitor after SIGINT: exit %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("monitor still running 20s after SIGINT")
	}
}
