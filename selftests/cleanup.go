//go:build linux

package selftests

import (
	"io"
	"sync"
)

// emergency holds what to close when SIGINT or SIGTERM arrives mid-test
// (TestMain's handler): namespace files and the sockets living in those
// namespaces. Closing them releases every namespace, and with it every
// device, at once, where t.Cleanup would never get to run. The process
// exiting would release them too; closing first makes it explicit and
// ordered.
var emergency struct {
	sync.Mutex
	closers []io.Closer
}

// onSignal registers c to be closed if the run is interrupted. Everything
// registered tolerates being closed twice.
func onSignal(c io.Closer) {
	emergency.Lock()
	emergency.closers = append(emergency.closers, c)
	emergency.Unlock()
}

// closeAllForSignal closes everything registered, newest first.
func closeAllForSignal() {
	emergency.Lock()
	defer emergency.Unlock()
	for i := len(emergency.closers) - 1; i >= 0; i-- {
		emergency.closers[i].Close()
	}
	emergency.closers = nil
}
