package kernels

import (
	"fmt"
	"time"
)

// Peak is this CPU's float32 peak as the kernels' path can reach it, measured.
type Peak struct {
	Path Path
	// PerCoreGFLOPS is the float32 operations per second one core does in a loop of
	// independent FMAs of the path's vector width (AVX-512: 24 zmm chains; AVX2: 12 ymm
	// chains), counting an FMA as 2 operations per lane: the vector width, the number of
	// FMA units and the clock, measured together. 0 on the pure-Go path.
	PerCoreGFLOPS float64
	// ClockGHz is the clock measured by a chain of dependent integer multiplies (3 cycles each),
	// run just before; FMAsPerCycle = PerCoreGFLOPS / (ClockGHz · 2 · lanes), which
	// comes out near 2 on a core with two FMA units.
	ClockGHz     float64
	Lanes        int
	FMAsPerCycle float64
}

// String describes the peak: "avx512: 16 lanes × 2 × 2.0 FMAs/cycle × 2.9 GHz = 186 GFLOP/s a core".
func (p Peak) String() string {
	if p.PerCoreGFLOPS == 0 {
		return p.Path.String() + ": no vector FMA loop (peak unknown)"
	}
	return fmt.Sprintf("%s: %d lanes × 2 × %.2f FMAs/cycle × %.2f GHz = %.0f GFLOP/s a core",
		p.Path, p.Lanes, p.FMAsPerCycle, p.ClockGHz, p.PerCoreGFLOPS)
}

// MeasurePeak measures the current path's per-core float32 peak (see Peak) on the calling
// goroutine, in about 0.05 s: the best of 40 short runs of each loop, so that runs the
// OS interrupted do not count. Nothing else should run meanwhile.
func MeasurePeak() Peak {
	p := Peak{Path: CurrentPath()}
	switch p.Path {
	case PathAVX512:
		p.Lanes = 16
	case PathAVX2:
		p.Lanes = 8
	default:
		return p
	}
	best := func(f func() float64) float64 {
		var b float64
		for range 40 {
			start := time.Now()
			ops := f()
			if s := time.Since(start).Seconds(); s > 0 {
				b = max(b, ops/s)
			}
		}
		return b
	}
	p.ClockGHz = best(func() float64 { return clockLoop(1 << 15) }) / 1e9 // ~0.3 ms a run
	p.PerCoreGFLOPS = best(func() float64 { return fmaLoop(p.Path, 1<<16) }) / 1e9
	if p.ClockGHz > 0 {
		p.FMAsPerCycle = p.PerCoreGFLOPS / (p.ClockGHz * 2 * float64(p.Lanes))
	}
	return p
}
