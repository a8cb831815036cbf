package amtrelay_test

import (
	"fmt"

	"github.com/amtctl/amtctl/pkg/amtrelay"
)

func ExampleParse() {
	r, err := amtrelay.Parse("128 1 3 amtrelays.example.com.")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := r.MarshalBinary()
	fmt.Printf("precedence %d, discovery optional %v, %v relay %s\n", r.Precedence, r.DiscoveryOptional, r.Type, r.Name)
	fmt.Printf("rdata %x\n", b)
	// Output:
	// precedence 128, discovery optional true, name relay amtrelays.example.com.
	// rdata 808309616d7472656c617973076578616d706c6503636f6d00
}

func ExampleDecode() {
	r, err := amtrelay.Decode([]byte{0x0a, 0x01, 203, 0, 113, 15})
	fmt.Println(r, err)
	_, err = amtrelay.Decode([]byte{0x0a, 0x01, 203, 0, 113})
	fmt.Println(err)
	// Output:
	// 10 0 1 203.0.113.15 <nil>
	// relay: 3 bytes, but a type 1 relay (ipv4) is 4
}

func ExampleRecord_Validate() {
	r, err := amtrelay.Parse("10 0 1 2001:db8::15")
	fmt.Println(r.Type, err)
	// Output:
	// none relay "2001:db8::15": an IPv6 address, but relay type 1 is IPv4; use an IPv4 address such as 203.0.113.15, or type 2 for an IPv6 relay
}
