package nlwire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
)

// FuzzAttrs: the walker agrees with mdlayher/netlink's attribute decoder,
// whose framing rules the package doc promises: the same attributes, types
// (flags masked, as AttributeDecoder.Type does), payloads, and the same verdict on broken framing.
func FuzzAttrs(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{8, 0, 1, 0, 1, 2, 3, 4})
	f.Add([]byte{5, 0, 1, 0, 9, 0, 0, 0, 4, 0, 2, 0})
	f.Add([]byte{0, 0, 3, 0})
	f.Add([]byte{8, 0, 1, 0x80, 4, 0, 2, 0})
	f.Add([]byte{7, 0, 1, 0, 1, 2, 3})
	f.Add([]byte{8, 0, 1, 0, 1, 2, 3, 4, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var want []netlink.Attribute
		ad, werr := netlink.NewAttributeDecoder(b)
		if werr == nil {
			for ad.Next() {
				want = append(want, netlink.Attribute{Type: ad.Type(), Data: ad.Bytes()})
			}
			werr = ad.Err()
		}
		var got []netlink.Attribute
		it := Attrs(b)
		for it.Next() {
			got = append(got, netlink.Attribute{Type: it.Type(), Data: it.Data()})
		}
		if (werr != nil) != (it.Err() != nil) {
			t.Fatalf("% x: netlink says %v, nlwire says %v", b, werr, it.Err())
		}
		if werr != nil {
			if !errors.Is(it.Err(), ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", it.Err())
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("% x: %d attributes, netlink has %d", b, len(got), len(want))
		}
		for i := range want {
			if got[i].Type != want[i].Type || !bytes.Equal(got[i].Data, want[i].Data) {
				t.Fatalf("% x: attribute %d is %+v, netlink has %+v", b, i, got[i], want[i])
			}
		}
	})
}

// TestAppend: what the append helpers write, the walker reads back, and a
// nested attribute too long for 16 bits is refused.
func TestAppend(t *testing.T) {
	b := AppendString(nil, 3, "amt")
	b = AppendU32(b, 4, 1500)
	b, start := BeginNested(b, 18)
	b = AppendAttr(b, 1, []byte{1, 2, 3, 4, 5})
	if err := EndNested(b, start); err != nil {
		t.Fatal(err)
	}
	if len(b)%4 != 0 {
		t.Errorf("%d bytes: not aligned", len(b))
	}
	it := Attrs(b)
	var types []uint16
	for it.Next() {
		types = append(types, it.Type())
		if it.Type() == 18 && !bytes.Equal(Find(it.Data(), 1), []byte{1, 2, 3, 4, 5}) {
			t.Errorf("nested payload %x", it.Data())
		}
	}
	if it.Err() != nil || len(types) != 3 || string(Find(b, 3)) != "amt\x00" {
		t.Fatalf("walk: %v %v", types, it.Err())
	}
	big, start := BeginNested(nil, 1)
	big = append(big, make([]byte, MaxAttrLen)...)
	if err := EndNested(big, start); err == nil {
		t.Error("EndNested of a 64 KiB attribute succeeded")
	}
}
