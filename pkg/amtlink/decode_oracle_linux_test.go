//go:build linux

package amtlink

import (
	"bytes"
	"testing"

	"github.com/amtctl/amtctl/internal/nlwire"

	"github.com/google/go-cmp/cmp"
	"github.com/jsimonetti/rtnetlink/v2"
	"golang.org/x/sys/unix"
)

// oracleDecode is the decoder decodeLink replaced, kept as the reference
// it must agree with: rtnetlink's LinkMessage decoder, plus the checks of
// what that decoder drops silently.
func oracleDecode(b []byte) (*rawLink, bool) {
	var m rtnetlink.LinkMessage
	if m.UnmarshalBinary(b) != nil || m.Attributes == nil {
		return nil, false
	}
	a := m.Attributes
	it := nlwire.Attrs(b[unix.SizeofIfInfomsg:])
	for it.Next() {
		t, p := it.Type(), it.Data()
		if want := fixedLinkAttrLen(t); want != 0 && len(p) != want {
			return nil, false
		}
		if t == unix.IFLA_XDP {
			// rtnetlink stops decoding, silently, after a malformed
			// IFLA_XDP; decodeLink does not read it. Not comparable.
			return nil, false
		}
		if t == unix.IFLA_LINKINFO && nlwire.Check(p) != nil {
			return nil, false
		}
	}
	if it.Err() != nil {
		return nil, false
	}
	r := &rawLink{index: m.Index, flags: m.Flags, name: a.Name, mtu: a.MTU, operState: a.OperationalState, stats: a.Stats64}
	if a.Master != nil {
		r.master, r.hasMaster = *a.Master, true
	}
	info := nlwire.Find(b[unix.SizeofIfInfomsg:], unix.IFLA_LINKINFO)
	r.linkKind = string(bytes.TrimRight(nlwire.Find(info, unix.IFLA_INFO_KIND), "\x00"))
	if a.Info == nil || a.Info.Kind != r.linkKind {
		if a.Info != nil || r.linkKind != "" {
			return nil, false
		}
	}
	if r.linkKind == Kind {
		r.isAMT = true
		if r.amt.UnmarshalBinary(nlwire.Find(info, unix.IFLA_INFO_DATA)) != nil {
			return nil, false
		}
	}
	return r, true
}

// checkAgainstOracle: whatever the reference decoder accepts, decodeLink
// accepts with the same result.
func checkAgainstOracle(t *testing.T, b []byte) {
	t.Helper()
	want, ok := oracleDecode(b)
	if !ok {
		return
	}
	got, err := decodeLink(b)
	if err != nil {
		t.Fatalf("decodeLink failed where rtnetlink's decoder succeeded: %v\ninput %x", err, b)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(rawLink{}), cmp.Comparer(func(a, b interface{ String() string }) bool { return a.String() == b.String() })); diff != "" {
		t.Fatalf("decodeLink differs from rtnetlink's decoder (-want +got):\n%s\ninput %x", diff, b)
	}
}

// FuzzDecodeLinkOracle compares decodeLink with rtnetlink's decoder on
// arbitrary input.
func FuzzDecodeLinkOracle(f *testing.F) {
	addLinkSeeds(f)
	f.Fuzz(checkAgainstOracle)
}

// TestDecodeLinkFixturesOracle: links as the kernel encodes them decode
// the same both ways.
func TestDecodeLinkFixturesOracle(t *testing.T) {
	l := amtLink(7, "amtr", 2)
	l.master = 3
	for _, fl := range []fakeLink{l, amtLink(9, "amtg", 2), {index: 2, name: "eth0", kind: "veth", mtu: 1500}} {
		b := encodeKernelLink(t, &fl)
		if _, ok := oracleDecode(b); !ok {
			t.Fatalf("oracle rejects fixture %s", fl.name)
		}
		checkAgainstOracle(t, b)
	}
}
