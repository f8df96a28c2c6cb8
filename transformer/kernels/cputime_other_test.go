//go:build !unix

package kernels

import "time"

// processCPUTime is unknown here: benchmarks report no CPU figures.
func processCPUTime() time.Duration { return 0 }
