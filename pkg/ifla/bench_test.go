package ifla

import (
	"testing"

	"github.com/mdlayher/netlink"
)

// benchInfo is one gateway link's IFLA_INFO_DATA as amt_fill_info writes
// it (all eight attributes).
func benchInfo(b *testing.B) []byte {
	ae := netlink.NewAttributeEncoder()
	a := goldenKernelGatewayAMT
	if err := a.Encode(ae); err != nil {
		b.Fatal(err)
	}
	buf, err := ae.Encode()
	if err != nil {
		b.Fatal(err)
	}
	return buf
}

// BenchmarkDecode measures Decode given an AttributeDecoder: the decoder is
// reset by copying a prepared one, so NewAttributeDecoder is not counted.
// mdlayher/netlink v1.7.2 copies every attribute's payload in Next, so this
// includes one allocation per attribute made by the netlink package.
func BenchmarkDecode(b *testing.B) {
	proto, err := netlink.NewAttributeDecoder(benchInfo(b))
	if err != nil {
		b.Fatal(err)
	}
	var ad netlink.AttributeDecoder
	var a AMT
	b.ReportAllocs()
	for b.Loop() {
		ad = *proto
		if err := a.Decode(&ad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWithNewDecoder includes NewAttributeDecoder, as a caller
// holding only the bytes pays it.
func BenchmarkDecodeWithNewDecoder(b *testing.B) {
	buf := benchInfo(b)
	var a AMT
	b.ReportAllocs()
	for b.Loop() {
		ad, err := netlink.NewAttributeDecoder(buf)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.Decode(ad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalBinary decodes the same bytes without the netlink
// package's copies: the only allocation is the result's pointer storage.
func BenchmarkUnmarshalBinary(b *testing.B) {
	buf := benchInfo(b)
	var a AMT
	b.ReportAllocs()
	for b.Loop() {
		if err := a.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncode encodes the same link into a fresh AttributeEncoder.
func BenchmarkEncode(b *testing.B) {
	a := goldenKernelGatewayAMT
	b.ReportAllocs()
	for b.Loop() {
		ae := netlink.NewAttributeEncoder()
		if err := a.Encode(ae); err != nil {
			b.Fatal(err)
		}
		if _, err := ae.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendBinary encodes the same link into a reused buffer, as a
// client building requests does.
func BenchmarkAppendBinary(b *testing.B) {
	a := goldenKernelGatewayAMT
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = a.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
