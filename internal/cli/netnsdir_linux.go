//go:build linux

package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// netnsDir watches the directory of named namespaces (/run/netns, where
// ip netns add bind-mounts them) with inotify, so that apply --watch opens
// a namespace as soon as it is added and lets go of one as soon as it is
// deleted, instead of at the next resync. Until the directory exists its
// parent is watched for it.
type netnsDir struct {
	dir    string
	f      *os.File // the inotify descriptor, non-blocking: Close ends a Read
	wd     int32    // dir's watch, or -1
	parent int32    // dir's parent's watch, or -1
	// names carries the name of each entry of dir that was created,
	// renamed or deleted; "" asks for every name to be looked at (dir
	// appeared, or the kernel dropped events).
	names chan string
	done  chan struct{} // closed by close
}

// inotify events on dir's entries, and on dir itself.
const netnsDirMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// watchNetnsDir starts watching dir; an error leaves apply --watch with
// its resyncs.
func watchNetnsDir(dir string) (*netnsDir, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	d := &netnsDir{dir: dir, f: os.NewFile(uintptr(fd), "inotify"), wd: -1, parent: -1, names: make(chan string, 64), done: make(chan struct{})}
	if err := d.arm(); err != nil {
		d.f.Close()
		return nil, err
	}
	go d.read()
	return d, nil
}

// arm watches dir, or, while there is none, its parent.
func (d *netnsDir) arm() error {
	wd, err := unix.InotifyAddWatch(d.fd(), d.dir, netnsDirMask|unix.IN_ONLYDIR)
	if err == nil {
		d.wd = int32(wd)
		return nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "inotify_add_watch", Path: d.dir, Err: err}
	}
	if d.parent < 0 {
		pwd, err := unix.InotifyAddWatch(d.fd(), filepath.Dir(d.dir), unix.IN_CREATE|unix.IN_MOVED_TO|unix.IN_ONLYDIR)
		if err != nil {
			return &os.PathError{Op: "inotify_add_watch", Path: filepath.Dir(d.dir), Err: err}
		}
		d.parent = int32(pwd)
	}
	// Created between the failed watch and the parent's: look again.
	if wd, err := unix.InotifyAddWatch(d.fd(), d.dir, netnsDirMask|unix.IN_ONLYDIR); err == nil {
		d.wd = int32(wd)
	}
	return nil
}

func (d *netnsDir) fd() int { return int(d.f.Fd()) }

// read turns inotify events into names until the descriptor is closed.
func (d *netnsDir) read() {
	defer close(d.names)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	rc, err := d.f.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), buf)
			return rerr != unix.EAGAIN
		}); err != nil {
			return // closed
		}
		if rerr == unix.EINTR {
			continue
		}
		if rerr != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			d.event(ev.Wd, ev.Mask, string(name))
		}
	}
}

// event handles one inotify event; read's goroutine alone calls it.
func (d *netnsDir) event(wd int32, mask uint32, name string) {
	switch {
	case mask&unix.IN_Q_OVERFLOW != 0:
		d.send("")
	case wd == d.wd && mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0:
		// dir itself went: every namespace in it with it; wait for the next.
		d.wd = -1
		if err := d.arm(); err == nil {
			d.send("")
		}
	case wd == d.wd:
		d.send(name)
	case wd == d.parent && name == filepath.Base(d.dir) && d.wd < 0:
		if err := d.arm(); err == nil && d.wd >= 0 {
			d.send("")
		}
	}
}

// send hands name to the loop, unless the watch was stopped.
func (d *netnsDir) send(name string) {
	select {
	case d.names <- name:
	case <-d.done:
	}
}

// close stops the watch; names is closed once read has returned.
func (d *netnsDir) close() {
	close(d.done)
	d.f.Close()
}
