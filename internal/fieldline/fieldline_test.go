package fieldline_test

import (
	"fmt"

	"github.com/amtctl/amtctl/internal/fieldline"
)

func ExampleFormat() {
	fmt.Println(fieldline.Format("local", "ff02::1", "IPv6 address, but the AMT tunnel runs over IPv4", "use an IPv4 unicast address such as 192.0.2.1"))
	fmt.Println(fieldline.Format("mode", "", "missing", ""))
	// Output:
	// local "ff02::1": IPv6 address, but the AMT tunnel runs over IPv4; use an IPv4 unicast address such as 192.0.2.1
	// mode: missing
}
