//go:build linux

package amtlink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// netnsRunDir is where `ip netns add NAME` bind-mounts named namespaces.
const netnsRunDir = "/run/netns"

// OpenNetNS opens the named network namespace, as `ip netns add NAME`
// creates it: /run/netns/NAME. A name is what `ip netns` accepts: not empty,
// no "/", not "." or "..", at most 255 bytes; anything else is refused before
// any file is opened, with an error compatible with
// errors.Is(err, fs.ErrInvalid). A namespace file given by its path, such as
// /proc/1234/ns/net, is opened with NetNSFromPath.
//
// A missing namespace gives an error compatible with
// errors.Is(err, os.ErrNotExist) that reads
// `network namespace "NAME" not found (ip netns add NAME?)`. A file that is
// not a network namespace (for example a stale /run/netns entry whose bind
// mount is gone) is rejected too, so a Client never silently talks to the
// wrong namespace.
func OpenNetNS(name string) (*NetNS, error) {
	if err := CheckNetNSName(name); err != nil {
		return nil, err
	}
	return openNetNS(name, filepath.Join(netnsRunDir, name), true)
}

// NetNSFromPath opens the network namespace file at path, such as
// /proc/1234/ns/net or a bind mount of one, with the checks and errors of
// OpenNetNS.
func NetNSFromPath(path string) (*NetNS, error) {
	if path == "" {
		return nil, &netnsError{name: path, msg: "network namespace path is empty; give a path such as /proc/PID/ns/net", err: fs.ErrInvalid}
	}
	return openNetNS(path, path, false)
}

func openNetNS(name, path string, named bool) (*NetNS, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			msg := fmt.Sprintf("network namespace %q not found", name)
			if named {
				msg += " (ip netns add " + name + "?)"
			}
			return nil, &netnsError{name: name, msg: msg, err: err}
		}
		return nil, &netnsError{name: name, msg: fmt.Sprintf("network namespace %q: %v", name, err), err: err}
	}
	if err := checkNetNS(f); err != nil {
		f.Close()
		return nil, &netnsError{name: name, msg: fmt.Sprintf("network namespace %q: %v", name, err), err: err}
	}
	return &NetNS{fd: int(f.Fd()), owned: true, name: name, path: path, close: f.Close}, nil
}

// Gone reports whether the name or path n was opened with no longer leads
// to the namespace n holds: `ip netns del` removed /run/netns/NAME, the
// process of /proc/PID/ns/net exited, or the name now leads to another
// namespace. The namespace itself lives on while n, or a socket created
// in it (a Client), still refers to it: a long-running program that
// watches namespaces by name asks Gone and lets go of those that are gone,
// so that the kernel can release them and their devices.
//
// Gone is false for a NetNS from NetNSFromFD (it has no name to check),
// after Close, and when the path cannot be examined for another reason
// than its absence (a permission error): only a namespace known to be gone
// is reported gone.
func (n *NetNS) Gone() bool {
	if n == nil || n.path == "" || n.fd < 0 {
		return false
	}
	var held, now unix.Stat_t
	if err := unix.Fstat(n.fd, &held); err != nil {
		return false
	}
	if err := unix.Stat(n.path, &now); err != nil {
		return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
	}
	// A namespace is one nsfs inode: the same device and inode number
	// is the same namespace.
	return held.Dev != now.Dev || held.Ino != now.Ino
}

var errNotNetNS = errors.New("not a network namespace")

// checkNetNS makes sure f is a namespace file (nsfs) of type network.
func checkNetNS(f *os.File) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("fstatfs: %w", err)
	}
	if st.Type != unix.NSFS_MAGIC {
		return fmt.Errorf("%w (the file is not a namespace; is the bind mount gone?)", errNotNetNS)
	}
	// NS_GET_NSTYPE (Linux 4.11+) tells which kind of namespace it is.
	const nsGetNSType = 0xb703 // _IO(0xb7, 0x3)
	t, err := unix.IoctlRetInt(int(f.Fd()), nsGetNSType)
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
			return nil // older kernel: cannot tell, trust the path
		}
		return fmt.Errorf("NS_GET_NSTYPE: %w", err)
	}
	if t != unix.CLONE_NEWNET {
		return fmt.Errorf("%w (it is another kind of namespace)", errNotNetNS)
	}
	return nil
}
