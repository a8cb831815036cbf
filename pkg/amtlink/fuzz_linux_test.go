//go:build linux

package amtlink

import (
	"testing"

	"github.com/amtctl/amtctl/pkg/ifla"
)

// FuzzDecodeLink feeds arbitrary RTM_NEWLINK payloads to the decoders used
// on kernel replies. Neither may panic; isAMTMessage (the cheap pre-check of
// List) must agree with decodeLink whenever decodeLink succeeds; and a
// decoded AMT must encode again.
func FuzzDecodeLink(f *testing.F) {
	addLinkSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		pre := isAMTMessage(b)
		r, err := decodeLink(b)
		if err != nil {
			return
		}
		if pre != r.isAMT {
			t.Fatalf("isAMTMessage = %v, decodeLink kind %q", pre, r.kind())
		}
		if r.isAMT {
			a := r.amt
			if _, err := a.MarshalBinary(); err != nil {
				// Only addresses that are not IPv4 can fail, and
				// the decoder makes only IPv4 ones.
				t.Fatalf("re-encoding decoded %s: %v", ifla.AMT(a), err)
			}
		}
	})
}

// addLinkSeeds seeds a link decoder fuzz test with an amt link, a veth and
// lo, as the kernel encodes them.
func addLinkSeeds(f *testing.F) {
	for _, l := range []fakeLink{
		amtLink(7, "amtr", 2),
		{index: 2, name: "eth0", kind: "veth", mtu: 1500},
		{index: 1, name: "lo", mtu: 65536},
	} {
		f.Add(encodeKernelLink(f, &l))
	}
}
