package amtlink

import (
	"fmt"

	"github.com/amtctl/amtctl/pkg/ifla"
	"github.com/jsimonetti/rtnetlink/v2"
)

// Kind is the kernel's link kind (IFLA_INFO_KIND) for AMT interfaces.
const Kind = "amt"

// Driver is the rtnetlink/v2 LinkDriver for kind "amt". It is registered in
// init, so any rtnetlink.Conn in a program that imports this package decodes
// the IFLA_INFO_DATA of an amt link into a *Driver:
//
//	links, _ := conn.Link.List()
//	for _, l := range links {
//		if d, ok := l.Attributes.Info.Data.(*amtlink.Driver); ok {
//			fmt.Println(l.Attributes.Name, *d.Mode)
//		}
//	}
//
// Encode and Decode are ifla.AMT's. The lower device goes in AMT.Link
// (IFLA_AMT_LINK inside the info data), not in LinkAttributes.Type, which is
// IFLA_LINK and means something else.
type Driver struct {
	ifla.AMT
}

var (
	_ rtnetlink.LinkDriver         = &Driver{}
	_ rtnetlink.LinkDriverVerifier = &Driver{}
)

func init() {
	if err := rtnetlink.RegisterDriver(&Driver{}); err != nil {
		panic(fmt.Sprintf("amtlink: cannot register the rtnetlink driver for link kind %q: %v "+
			"(another package already registered one; import only one of them)", Kind, err))
	}
}

// New returns a fresh, empty Driver; rtnetlink calls it for every amt link it
// decodes.
func (d *Driver) New() rtnetlink.LinkDriver { return &Driver{} }

// Kind returns "amt".
func (d *Driver) Kind() string { return Kind }

// Verify runs before the message is encoded. It mirrors the kernel's
// amt_validate (lower link and mode required, local required, discovery
// required in gateway mode) by calling ifla's stricter Validate, so a request
// the kernel would refuse with EINVAL is caught with a field error naming the
// fix. It also refuses a lower device put in LinkAttributes.Type (IFLA_LINK),
// a common mistake: the AMT driver reads IFLA_AMT_LINK only.
func (d *Driver) Verify(msg *rtnetlink.LinkMessage) error {
	if msg != nil && msg.Attributes != nil && msg.Attributes.Type != 0 {
		return fmt.Errorf("amtlink: LinkAttributes.Type (IFLA_LINK) is %d, but the AMT driver ignores it; "+
			"put the lower device's index in Driver.AMT.Link (IFLA_AMT_LINK) and leave Type 0", msg.Attributes.Type)
	}
	if err := d.AMT.Validate(); err != nil {
		return err
	}
	return nil
}
