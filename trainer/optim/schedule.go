package optim

import (
	"fmt"
	"math"
)

// Schedule is a learning-rate schedule: a linear warmup from 0 to PeakLR over
// WarmupSteps, then constant, linear decay to 0 at TotalSteps, or half a cosine to 0 at
// TotalSteps. LR(step) is exactly PeakLR times the lr_lambda of HF transformers'
// get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
// get_cosine_schedule_with_warmup (num_cycles 0.5), where step counts the optimizer steps
// already taken: the first step uses LR(0), which is 0 with a warmup, as in HF.
type Schedule struct {
	Scheduler   Scheduler // constant, linear or cosine
	PeakLR      float64   // the learning rate after warmup
	WarmupSteps int       // steps of linear warmup from 0
	TotalSteps  int       // optimizer steps of the whole run
}

// Schedule returns c's schedule for a run of total optimizer steps, with the warmup of
// Warmup.
func (c Config) Schedule(total int) Schedule {
	return Schedule{Scheduler: c.LRScheduler, PeakLR: c.LearningRate,
		WarmupSteps: c.Warmup(total), TotalSteps: total}
}

// Warmup returns the warmup steps for a run of total optimizer steps: WarmupSteps if set,
// else ceil(WarmupRatio · total), as HF's TrainingArguments.get_warmup_steps.
func (c Config) Warmup(total int) int {
	if c.WarmupSteps > 0 {
		return c.WarmupSteps
	}
	return int(math.Ceil(float64(total) * c.WarmupRatio))
}

// LR returns the learning rate for the optimizer step that follows step steps (0 for the
// first). It panics on an unknown Scheduler, which Config.Validate rejects.
func (s Schedule) LR(step int) float64 {
	return s.PeakLR * s.Factor(step)
}

// Factor returns LR(step)/PeakLR, HF's lr_lambda(step).
func (s Schedule) Factor(step int) float64 {
	w, n := float64(s.WarmupSteps), float64(s.TotalSteps)
	x := float64(step)
	if step < s.WarmupSteps {
		return x / math.Max(1, w)
	}
	switch s.Scheduler {
	case SchedulerConstant:
		return 1
	case SchedulerLinear:
		return math.Max(0, (n-x)/math.Max(1, n-w))
	case SchedulerCosine:
		progress := (x - w) / math.Max(1, n-w)
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*0.5*2*progress)))
	}
	panic(fmt.Sprintf("optim: unknown lr scheduler %q", s.Scheduler))
}
