// Command amtctl creates, shows and deletes Linux AMT (RFC 7450) tunnel
// links, with iproute2's grammar and JSON. Run "amtctl --help".
package main

import (
	"os"

	"github.com/amtctl/amtctl/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
