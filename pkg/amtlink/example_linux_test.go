//go:build linux

package amtlink_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/amtctl/amtctl/pkg/amtlink"
)

func ExampleOpenNetNS() {
	_, err := amtlink.OpenNetNS("amtctl-example-missing")
	fmt.Println(err)
	fmt.Println(errors.Is(err, os.ErrNotExist))

	_, err = amtlink.OpenNetNS("/proc/self/ns/uts")
	fmt.Println(err)
	// Output:
	// network namespace "amtctl-example-missing" not found (ip netns add amtctl-example-missing?)
	// true
	// network namespace "/proc/self/ns/uts": not a network namespace (it is another kind of namespace)
}
