// Package cli holds the command logic of amtctl: the cobra command tree, the
// iproute2-compatible keyword grammar of "add", and the table and JSON views
// of "show".
//
// The commands talk to the kernel only through the small [Backend]
// interface, which *amtlink.Client satisfies; tests drive the real command
// tree against a fake Backend.
//
// # Exit status
//
//   - 0: success.
//   - 1: the request was well formed but failed: the kernel refused it, the
//     link or namespace does not exist, permission was denied, the AMT driver
//     is missing.
//   - 2: usage error: unknown command, keyword or flag, missing or invalid
//     value. Nothing was sent to the kernel.
//
// Every error is one line on stderr, prefixed "amtctl: ", that names the
// field at fault and how to fix it. Warnings ("amtctl: warning: ...") go to
// stderr too and do not change the exit status.
package cli
