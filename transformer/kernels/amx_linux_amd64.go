//go:build linux && amd64 && !purego

package kernels

import "syscall"

// enableAMX asks Linux for the AMX tile data state (arch_prctl ARCH_REQ_XCOMP_PERM,
// XFEATURE_XTILEDATA), which a process must request before its first tile instruction
// (the kernel otherwise raises SIGILL); it reports whether Linux granted it.
func enableAMX() bool {
	const archReqXcompPerm, xfeatureXtiledata = 0x1023, 18
	_, _, errno := syscall.RawSyscall(syscall.SYS_ARCH_PRCTL, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}
