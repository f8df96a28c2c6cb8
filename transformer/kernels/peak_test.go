package kernels

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestMeasurePeak: on each vector path the measured peak is positive and its parts fit
// together; no bound on the figures themselves (the machine may be busy).
func TestMeasurePeak(t *testing.T) {
	for _, path := range Paths() {
		prev := SetPath(path)
		p := MeasurePeak()
		SetPath(prev)
		assert.Equal(t, path, p.Path)
		if path == PathGo {
			assert.Zero(t, p.PerCoreGFLOPS)
			continue
		}
		assert.Positive(t, p.PerCoreGFLOPS, path)
		assert.Positive(t, p.ClockGHz, path)
		assert.InDelta(t, p.PerCoreGFLOPS, p.FMAsPerCycle*p.ClockGHz*2*float64(p.Lanes), 1e-6*p.PerCoreGFLOPS)
		t.Log(p)
	}
}
