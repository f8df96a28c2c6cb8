package lora

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/transformer"
)

// Config is a LoRA adapter's configuration (PEFT's LoraConfig): where the adapters go
// and how they are sized. It is the adapter mapping of a recipe, with PEFT's key names
// where PEFT has one. DefaultConfig returns PEFT's defaults; the zero value is not valid
// (Rank and Alpha must be set), and an empty Targets means DefaultTargets. Validate
// checks a Config on its own; Apply also checks Layers against the model.
type Config struct {
	// Rank is r, the inner dimension of every adapter, ≥ 1. Default 8.
	Rank int `yaml:"r"`
	// Alpha (PEFT's lora_alpha) scales the delta by Alpha/Rank (Alpha/√Rank with RSLoRA);
	// finite and > 0. Default 8.
	Alpha float64 `yaml:"alpha"`
	// Dropout is the dropout probability on the adapter's input path, in training only,
	// in [0, 1). Default 0.
	Dropout float64 `yaml:"dropout"`
	// Targets lists what to adapt in each chosen block, each name once: "q", "k", "v"
	// (column blocks of the fused attn.c_attn), "o" (attn.c_proj), "fc" (mlp.c_fc), "proj"
	// (mlp.c_proj), or Hugging Face module names: "c_attn" (q, k and v with one fused
	// adapter, as PEFT does; not together with q, k or v), "attn.c_proj",
	// "c_fc"/"mlp.c_fc", "mlp.c_proj", and "c_proj" (both projections, as PEFT matches it).
	// TargetNames lists them. Default [q, v]; empty means DefaultTargets.
	Targets []string `yaml:"target_modules"`
	// RSLoRA scales the delta by Alpha/√Rank instead of Alpha/Rank (rank-stabilised LoRA,
	// Kalajdzievski, arXiv:2312.03732; PEFT's use_rslora). Default false.
	RSLoRA bool `yaml:"rslora"`
	// Layers lists the blocks to adapt, 0-based, each once (PEFT's layers_to_transform);
	// empty, the default, means every block.
	Layers []int `yaml:"layers_to_transform,omitempty"`
}

// DefaultConfig returns PEFT's LoraConfig defaults: r 8, alpha 8, dropout 0, targets
// [q, v] (the query and value projections, as in the LoRA paper), every block.
func DefaultConfig() Config {
	return Config{Rank: 8, Alpha: 8, Targets: slices.Clone(DefaultTargets)}
}

// DefaultTargets are the projections adapted when Config.Targets is empty: the query and
// value projections, as in the LoRA paper.
var DefaultTargets = []string{"q", "v"}

// target is one adapted column block of one kind of projection.
type target struct {
	kind transformer.ProjKind
	part string // "q", "k", "v" for a column block of c_attn; "" for the whole output
}

// targetTable lists each accepted target name, in documentation order, with what it adapts.
var targetTable = []struct {
	name    string
	targets []target
}{
	{"q", []target{{transformer.AttnCAttn, "q"}}},
	{"k", []target{{transformer.AttnCAttn, "k"}}},
	{"v", []target{{transformer.AttnCAttn, "v"}}},
	{"o", []target{{transformer.AttnCProj, ""}}},
	{"fc", []target{{transformer.MLPCFc, ""}}},
	{"proj", []target{{transformer.MLPCProj, ""}}},
	{"c_attn", []target{{transformer.AttnCAttn, ""}}},
	{"attn.c_attn", []target{{transformer.AttnCAttn, ""}}},
	{"c_proj", []target{{transformer.AttnCProj, ""}, {transformer.MLPCProj, ""}}},
	{"attn.c_proj", []target{{transformer.AttnCProj, ""}}},
	{"c_fc", []target{{transformer.MLPCFc, ""}}},
	{"mlp.c_fc", []target{{transformer.MLPCFc, ""}}},
	{"mlp.c_proj", []target{{transformer.MLPCProj, ""}}},
}

// TargetNames returns every name Config.Targets accepts, in documentation order.
func TargetNames() []string {
	names := make([]string, len(targetTable))
	for i, t := range targetTable {
		names[i] = t.name
	}
	return names
}

// lookupTarget returns what the target name adapts, or false.
func lookupTarget(name string) ([]target, bool) {
	for _, t := range targetTable {
		if t.name == name {
			return t.targets, true
		}
	}
	return nil, false
}

// Scaling returns the factor of the low-rank delta: Alpha/Rank, or Alpha/√Rank with RSLoRA.
func (c Config) Scaling() float64 { return scaling(c.Alpha, c.Rank, c.RSLoRA) }

func scaling(alpha float64, rank int, rslora bool) float64 {
	if rslora {
		return alpha / math.Sqrt(float64(rank))
	}
	return alpha / float64(rank)
}

// targets resolves Targets (or DefaultTargets) into the adapted kinds and column blocks,
// in the order of the kinds (checkpoint order), a whole projection before its q, k, v.
// Unknown names are skipped (Validate reports them).
func (c Config) targets() []target {
	names := c.Targets
	if len(names) == 0 {
		names = DefaultTargets
	}
	var out []target
	for _, n := range names {
		ts, _ := lookupTarget(n)
		for _, t := range ts {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	parts := []string{"", "q", "k", "v"}
	slices.SortFunc(out, func(a, b target) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(slices.Index(parts, a.part), slices.Index(parts, b.part)))
	})
	return out
}

// Validate reports every problem of the configuration on its own, joined with
// errors.Join, or nil; each problem starts with its yaml key, e.g. "r: must be ≥ 1, got
// 0". Whether Layers fit a model is checked by Apply.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Rank < 1 {
		bad("r", "must be ≥ 1, got %d", c.Rank)
	}
	if !(c.Alpha > 0) || math.IsInf(c.Alpha, 0) {
		bad("alpha", "must be > 0, got %g", c.Alpha)
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		bad("dropout", "must be in [0, 1), got %g", c.Dropout)
	}
	for i, n := range c.Targets {
		if _, ok := lookupTarget(n); !ok {
			bad("target_modules", "unknown module %q (allowed: %s)", n, strings.Join(TargetNames(), ", "))
		} else if slices.Index(c.Targets, n) < i {
			bad("target_modules", "module %q listed twice", n)
		}
	}
	ts := c.targets()
	if slices.Contains(ts, target{transformer.AttnCAttn, ""}) &&
		slices.ContainsFunc(ts, func(t target) bool { return t.kind == transformer.AttnCAttn && t.part != "" }) {
		bad("target_modules", "c_attn and q/k/v overlap: c_attn already adapts q, k and v together")
	}
	for i, l := range c.Layers {
		if l < 0 {
			bad("layers_to_transform", "layer %d: must be ≥ 0", l)
		} else if slices.Index(c.Layers, l) < i {
			bad("layers_to_transform", "layer %d listed twice", l)
		}
	}
	return errors.Join(errs...)
}

// checkLayers reports each of Layers that is not a block of a model of numLayers blocks.
func (c Config) checkLayers(numLayers int) error {
	var errs []error
	for _, l := range c.Layers {
		if l >= numLayers {
			errs = append(errs, fmt.Errorf("layers_to_transform: layer %d is outside the model's %d blocks", l, numLayers))
		}
	}
	return errors.Join(errs...)
}

// layers returns the adapted block indices in increasing order.
func (c Config) layers(numLayers int) []int {
	if len(c.Layers) == 0 {
		out := make([]int, numLayers)
		for i := range out {
			out[i] = i
		}
		return out
	}
	return slices.Sorted(slices.Values(c.Layers))
}
