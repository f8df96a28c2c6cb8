package optim

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScheduleMatchesHF compares Schedule.Factor for step = 0…total+1 with the lr_lambda
// values of HF transformers' schedules written by testdata/trainer/gen_schedules.py.
func TestScheduleMatchesHF(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "trainer", "schedules.json"))
	require.NoError(t, err)
	var cases []struct {
		Total    int       `json:"total"`
		Warmup   int       `json:"warmup"`
		Constant []float64 `json:"constant"`
		Linear   []float64 `json:"linear"`
		Cosine   []float64 `json:"cosine"`
	}
	require.NoError(t, json.Unmarshal(raw, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		for kind, want := range map[Scheduler][]float64{
			SchedulerConstant: c.Constant, SchedulerLinear: c.Linear, SchedulerCosine: c.Cosine,
		} {
			s := Schedule{Scheduler: kind, PeakLR: 2e-3, WarmupSteps: c.Warmup, TotalSteps: c.Total}
			require.Len(t, want, c.Total+2)
			for step, w := range want {
				got := s.Factor(step)
				assert.InDelta(t, w, got, 1e-12, "%+v.Factor(%d) = %v, want %v", s, step, got, w)
				assert.InDelta(t, 2e-3*w, s.LR(step), 1e-15, "%+v.LR(%d)", s, step)
			}
		}
	}
}

// TestScheduleShape pins a few values that need no reference: warmup from 0, the peak
// after warmup, the end of the decay.
func TestScheduleShape(t *testing.T) {
	tests := []struct {
		s    Schedule
		step int
		want float64
	}{
		{Schedule{SchedulerCosine, 1, 10, 110}, 0, 0},
		{Schedule{SchedulerCosine, 1, 10, 110}, 5, 0.5},
		{Schedule{SchedulerCosine, 1, 10, 110}, 10, 1},
		{Schedule{SchedulerCosine, 1, 10, 110}, 60, 0.5},
		{Schedule{SchedulerCosine, 1, 10, 110}, 110, 0},
		{Schedule{SchedulerLinear, 1, 0, 4}, 1, 0.75},
		{Schedule{SchedulerLinear, 1, 0, 4}, 9, 0},
		{Schedule{SchedulerConstant, 3, 4, 100}, 2, 1.5},
		{Schedule{SchedulerConstant, 3, 4, 100}, 1000, 3},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, tt.s.LR(tt.step), 1e-12, "%+v.LR(%d)", tt.s, tt.step)
	}
}

func TestWarmup(t *testing.T) {
	tests := []struct {
		cfg   Config
		total int
		want  int
	}{
		{Config{WarmupSteps: 20}, 1000, 20},
		{Config{WarmupRatio: 0.1}, 1000, 100},
		{Config{WarmupRatio: 0.1}, 95, 10}, // ceil(9.5), as HF
		{Config{}, 1000, 0},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.cfg.Warmup(tt.total), "%+v.Warmup(%d)", tt.cfg, tt.total)
	}
	c := DefaultConfig()
	c.WarmupSteps, c.LRScheduler, c.LearningRate = 3, SchedulerCosine, 0.5
	assert.Equal(t, Schedule{SchedulerCosine, 0.5, 3, 30}, c.Schedule(30))
	assert.False(t, math.IsNaN(Schedule{SchedulerCosine, 1, 0, 0}.LR(0)), "a zero-step schedule is finite")
}
