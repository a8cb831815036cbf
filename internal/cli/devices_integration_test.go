//go:build linux

package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/amtctl/amtctl/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// TestIntegrationDevicesInNetNS: with -n, the completion of dev and master
// and add's warnings read the devices of that namespace (through amtlink's
// Devices), not of the caller's.
func TestIntegrationDevicesInNetNS(t *testing.T) {
	testenv.RequireAMT(t)
	nsA, nsB := testenv.NewNetNS(t), testenv.NewNetNS(t)
	vethPair(t, nsA, "eth-a", "10.0.0.1", nsB, "eth-b", "10.0.0.2")
	addBridge(t, nsB, "br-b")
	pathB := testenv.NetNSPath(nsB)
	amtctl := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Execute(NewRootCommand(OpenAMTLink), append([]string{"-n", pathB}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	complete := func(args ...string) []string {
		t.Helper()
		code, out, errOut := amtctl(append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("complete %q: exit %d, %q", args, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[:len(lines)-1] // the last line is the directive
	}
	if diff := cmp.Diff([]string{"br-b", "eth-b", "lo"}, complete("add", "amtx", "mode", "relay", "dev", "")); diff != "" {
		t.Errorf("dev completion in namespace B (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"br-b"}, complete("add", "amtx", "master", "br")); diff != "" {
		t.Errorf("master completion in namespace B (-want +got):\n%s", diff)
	}

	// eth-b is up and holds 10.0.0.2: no warning; 10.0.0.1 is A's.
	if code, _, errOut := amtctl("add", "amt1", "mode", "relay", "local", "10.0.0.2", "dev", "eth-b"); code != 0 || errOut != "" {
		t.Errorf("add with local on dev: exit %d, stderr %q; want no warning", code, errOut)
	}
	code, _, errOut := amtctl("add", "amt2", "mode", "relay", "local", "10.0.0.1", "dev", "eth-b", "relay_port", "2300")
	if code != 0 || errOut != "amtctl: warning: local 10.0.0.1 is not an address of dev eth-b; the tunnel will not pass traffic until it is (ip addr add 10.0.0.1/24 dev eth-b)\n" {
		t.Errorf("add with local not on dev: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := amtctl("set", "amt1", "master", "br-b", "up"); code != 0 || errOut != "" {
		t.Logf("set amt1 master br-b: exit %d, stderr %q (the kernel may refuse an amt bridge port)", code, errOut)
	}
	if diff := cmp.Diff([]string{"amt1", "amt2"}, complete("set", "")); diff != "" {
		t.Errorf("set completes the amt links of namespace B (-want +got):\n%s", diff)
	}
}
