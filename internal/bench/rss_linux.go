//go:build linux

package bench

import "syscall"

// peakRSSMB returns this process's peak resident set size in MiB (ru_maxrss, KiB on
// Linux), as the anchor reports it.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}
