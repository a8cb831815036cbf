package cli

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestIFFMatchesUnix: the spelled-out flags of iff.go are Linux's.
func TestIFFMatchesUnix(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		ours, sys uint32
	}{
		{"UP", iffUp, unix.IFF_UP}, {"BROADCAST", iffBroadcast, unix.IFF_BROADCAST}, {"DEBUG", iffDebug, unix.IFF_DEBUG},
		{"LOOPBACK", iffLoopback, unix.IFF_LOOPBACK}, {"POINTOPOINT", iffPointopoint, unix.IFF_POINTOPOINT},
		{"NOTRAILERS", iffNotrailers, unix.IFF_NOTRAILERS}, {"RUNNING", iffRunning, unix.IFF_RUNNING},
		{"NOARP", iffNoarp, unix.IFF_NOARP}, {"PROMISC", iffPromisc, unix.IFF_PROMISC}, {"ALLMULTI", iffAllmulti, unix.IFF_ALLMULTI},
		{"MASTER", iffMaster, unix.IFF_MASTER}, {"SLAVE", iffSlave, unix.IFF_SLAVE}, {"MULTICAST", iffMulticast, unix.IFF_MULTICAST},
		{"PORTSEL", iffPortsel, unix.IFF_PORTSEL}, {"AUTOMEDIA", iffAutomedia, unix.IFF_AUTOMEDIA}, {"DYNAMIC", iffDynamic, unix.IFF_DYNAMIC},
		{"LOWER_UP", iffLowerUp, unix.IFF_LOWER_UP}, {"DORMANT", iffDormant, unix.IFF_DORMANT}, {"ECHO", iffEcho, unix.IFF_ECHO},
	} {
		if tc.ours != tc.sys {
			t.Errorf("IFF_%s: iff.go says %#x, unix %#x", tc.name, tc.ours, tc.sys)
		}
	}
}
