//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package sweep

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS returns the peak resident set size in bytes of the process that ps describes
// (getrusage's ru_maxrss, as wait4 reports it for that child alone), or 0 if unknown.
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss) // bytes on macOS
	}
	return int64(ru.Maxrss) * 1024 // KiB elsewhere
}
