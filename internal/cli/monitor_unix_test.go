//go:build unix

package cli

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestMonitorSignals: SIGINT and SIGTERM end monitor with exit status 0.
func TestMonitorSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			w := &watchFake{fake: newFake(), events: sampleEvents()[:1], block: true}
			// monitor is listening for the signals by the time Watch
			// is ready.
			ready := func() {
				if err := syscall.Kill(os.Getpid(), sig); err != nil {
					t.Errorf("kill: %v", err)
				}
			}
			code, out, errOut := runWatchHooked(t, w, hooks{monitorReady: ready}, "monitor")
			if code != 0 || errOut != status("this network namespace", 200*time.Millisecond) || out != "created amtg gateway local 10.0.0.2 dev veth-g\n" {
				t.Errorf("code %d stdout %q stderr %q; want 0, the event, no error", code, out, errOut)
			}
			if !w.stopped {
				t.Errorf("Watch was not stopped through its context")
			}
		})
	}
}
