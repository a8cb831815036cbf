//go:build !linux

package sdnotify

// monotonicUsec: only Linux has systemd, whose clock this would be.
func monotonicUsec() (uint64, bool) { return 0, false }
