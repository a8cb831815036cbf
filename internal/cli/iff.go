package cli

// Linux's IFF_* interface flags (<linux/if.h>), the bits of amtlink.Link's
// Flags. They are spelled out, not taken from golang.org/x/sys/unix, so that
// the package builds and vets on every OS (unix lacks some of them outside
// Linux, and has none on Windows); iff_linux_test.go checks them against
// unix.
const (
	iffUp          = 0x1
	iffBroadcast   = 0x2
	iffDebug       = 0x4
	iffLoopback    = 0x8
	iffPointopoint = 0x10
	iffNotrailers  = 0x20
	iffRunning     = 0x40
	iffNoarp       = 0x80
	iffPromisc     = 0x100
	iffAllmulti    = 0x200
	iffMaster      = 0x400
	iffSlave       = 0x800
	iffMulticast   = 0x1000
	iffPortsel     = 0x2000
	iffAutomedia   = 0x4000
	iffDynamic     = 0x8000
	iffLowerUp     = 0x10000
	iffDormant     = 0x20000
	iffEcho        = 0x40000
)
