// Command amtctl-metrics serves "amtctl metrics": the AMT links of one or
// more network namespaces as Prometheus metrics over HTTP.
//
// Usage:
//
//	amtctl-metrics metrics --listen ADDR [-n NS]... [--interval D]
//
// Users run "amtctl metrics ...", which checks the command line and then
// execs this program with the same arguments, found next to amtctl (its
// symlinks resolved), in /usr/libexec/amtctl, or in $PATH; make build puts
// it in .build/ beside amtctl. It is amtctl's command tree with the real
// server (amtmetrics.Serve) in-process, so every line and exit status is
// amtctl's. It is a binary of its own because Prometheus' client and
// net/http cost every amtctl command their init at start-up (README.md,
// "Why amtctl-metrics is a separate binary").
package main

import (
	"os"

	"github.com/amtctl/amtctl/internal/cli"
	"github.com/amtctl/amtctl/pkg/amtmetrics"
)

func main() {
	os.Exit(cli.MainWith(os.Args[1:], os.Stdout, os.Stderr, cli.WithMetricsServer(amtmetrics.Serve)))
}
