package mcprobe_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/amtctl/amtctl/pkg/mcprobe"
)

func ExampleHeader_AppendBinary() {
	h := mcprobe.Header{Session: 0x1122334455667788, Seq: 3, Sent: time.Unix(0, 1)}
	b, _ := h.AppendBinary(nil)
	fmt.Printf("% x\n", b)
	back, err := mcprobe.ParseHeader(b)
	fmt.Println(back.Seq, back.Session == h.Session, err)
	_, err = mcprobe.ParseHeader([]byte("hello"))
	fmt.Println(err)
	// Output:
	// 41 4d 54 70 01 00 00 00 11 22 33 44 55 66 77 88 00 00 00 03 00 00 00 00 00 00 00 01
	// 3 true <nil>
	// mcprobe: not a numbered datagram: 5 octets, shorter than the 28-octet header
}

func ExampleTracker() {
	start := time.Unix(1700000000, 0)
	tr := mcprobe.NewTracker(start)
	from := netip.MustParseAddr("192.0.2.1")
	// Sequence numbers as they arrive: 3 never came, 5 came twice, 7
	// came after 8.
	for i, seq := range []uint32{0, 1, 2, 4, 5, 5, 6, 8, 7, 9} {
		b, _ := mcprobe.Header{Session: 1, Seq: seq}.AppendBinary(nil)
		tr.Add(from, b, start.Add(time.Second+time.Duration(i)*100*time.Millisecond))
	}
	tr.Add(from, []byte("not numbered"), start.Add(2*time.Second))
	r := tr.Report()
	fmt.Printf("%d datagrams, first after %v, %.0f/s; %d unnumbered\n", r.Datagrams, r.FirstAfter, r.DatagramsPerSecond, r.Unnumbered)
	fmt.Printf("received %d, lost %d, duplicates %d, reordered %d\n", r.Received, r.Lost, r.Duplicates, r.Reordered)
	// Output:
	// 11 datagrams, first after 1s, 10/s; 1 unnumbered
	// received 9, lost 1, duplicates 1, reordered 1
}
