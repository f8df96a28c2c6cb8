//go:build !linux

package bench

// peakRSSMB is not measured outside Linux.
func peakRSSMB() float64 { return 0 }
