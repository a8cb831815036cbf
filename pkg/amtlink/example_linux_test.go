//go:build linux

package amtlink_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/amtctl/amtctl/pkg/amtlink"
)

func ExampleOpenNetNS() {
	_, err := amtlink.OpenNetNS("amtctl-example-missing")
	fmt.Println(err)
	fmt.Println(errors.Is(err, os.ErrNotExist))

	// A name is never a path: what ip netns refuses is refused before
	// anything is opened.
	_, err = amtlink.OpenNetNS("../../proc/1/ns/net")
	fmt.Println(err)
	fmt.Println(errors.Is(err, fs.ErrInvalid))

	_, err = amtlink.NetNSFromPath("/proc/self/ns/uts")
	fmt.Println(err)
	// Output:
	// network namespace "amtctl-example-missing" not found (ip netns add amtctl-example-missing?)
	// true
	// network namespace name "../../proc/1/ns/net" is not valid: it contains "/"; give a name from `ip netns list`, or an absolute path such as /proc/PID/ns/net
	// true
	// network namespace "/proc/self/ns/uts": not a network namespace (it is another kind of namespace)
}
