//go:build linux

package amtlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// These need no privileges: they open namespace files of this process.

func TestOpenNetNSMissing(t *testing.T) {
	_, err := OpenNetNS("amtctl-no-such-ns")
	if want := `network namespace "amtctl-no-such-ns" not found (ip netns add amtctl-no-such-ns?)`; err == nil || err.Error() != want {
		t.Errorf("OpenNetNS(missing) = %v, want %q", err, want)
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v is not os.ErrNotExist", err)
	}
	_, err = NetNSFromPath("/nonexistent/ns/net")
	if want := `network namespace "/nonexistent/ns/net" not found`; err == nil || err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NetNSFromPath(missing path) = %v, want %q", err, want)
	}
	if _, err := NetNSFromPath(""); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("NetNSFromPath(\"\") = %v, want fs.ErrInvalid", err)
	}
}

// TestOpenNetNSRefusesPaths: what `ip netns` refuses as a name is refused
// before anything is opened, so a name can never reach outside /run/netns.
func TestOpenNetNSRefusesPaths(t *testing.T) {
	long := string(make([]byte, 256))
	for _, bad := range []string{"", ".", "..", "../../proc/1/ns/net", "a/b", "/proc/self/ns/net", long} {
		_, err := OpenNetNS(bad)
		if !errors.Is(err, fs.ErrInvalid) || errors.Is(err, os.ErrNotExist) {
			t.Errorf("OpenNetNS(%.20q) = %v, want fs.ErrInvalid and nothing opened", bad, err)
		}
	}
}

func TestOpenNetNSWrongFile(t *testing.T) {
	for _, p := range []string{"/proc/self/status", "/proc/self/ns/uts"} {
		_, err := NetNSFromPath(p)
		if !errors.Is(err, errNotNetNS) {
			t.Errorf("NetNSFromPath(%s) = %v, want %v", p, err, errNotNetNS)
		}
	}
}

func TestOpenNetNSOwn(t *testing.T) {
	p := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
	ns, err := NetNSFromPath(p)
	if err != nil {
		t.Fatalf("NetNSFromPath(%s): %v", p, err)
	}
	if ns.FD() < 0 || ns.String() != p {
		t.Errorf("FD %d String %q", ns.FD(), ns.String())
	}
	if err := ns.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if ns.FD() != -1 {
		t.Errorf("FD after Close = %d, want -1", ns.FD())
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := Dial(ns); err == nil {
		t.Error("Dial with a closed NetNS succeeded")
	}
}

// TestNetNSGone: a namespace is gone when its path no longer exists or
// leads to another namespace; never while it leads to the one held.
func TestNetNSGone(t *testing.T) {
	f, err := os.Open("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	// /proc/PID/fd/N exists while f is open, as /proc/PID/ns/net does
	// while PID lives.
	byFD, err := NetNSFromPath(fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer byFD.Close()
	if byFD.Gone() {
		t.Errorf("Gone() = true while %s leads to the namespace", byFD)
	}
	f.Close()
	if !byFD.Gone() {
		t.Errorf("Gone() = false after %s went away", byFD)
	}

	// A name that now leads elsewhere: a symlink re-pointed at another
	// namespace file (as a re-created /run/netns/NAME is another nsfs inode).
	link := t.TempDir() + "/ns"
	if err := os.Symlink("/proc/self/ns/net", link); err != nil {
		t.Fatal(err)
	}
	ns, err := NetNSFromPath(link)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if ns.Gone() {
		t.Errorf("Gone() = true while %s leads to the namespace", link)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self/ns/uts", link); err != nil {
		t.Fatal(err)
	}
	if !ns.Gone() {
		t.Errorf("Gone() = false after %s was pointed at another namespace", link)
	}
	ns.Close()
	if ns.Gone() {
		t.Errorf("Gone() = true after Close")
	}
	if NetNSFromFD(0).Gone() {
		t.Errorf("Gone() = true for NetNSFromFD, which has no path")
	}
}
