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

// Config says where LoRA adapters go and how they are sized. The zero value is not
// usable: Rank and Alpha must be set; DefaultTargets apply when Targets is empty.
type Config struct {
	Rank    int     // r, the inner dimension of every adapter
	Alpha   float64 // lora_alpha: the delta is scaled by Alpha/Rank (Alpha/√Rank with RSLoRA)
	Dropout float64 // dropout probability on the adapter's input path, in training only
	// Targets lists what to adapt in each chosen block: "q", "k", "v" (column blocks of
	// the fused attn.c_attn), "o" (attn.c_proj), "fc" (mlp.c_fc), "proj" (mlp.c_proj), or
	// Hugging Face module names: "c_attn" (q, k and v with one fused adapter, as PEFT
	// does), "attn.c_proj", "c_fc"/"mlp.c_fc", "mlp.c_proj", and "c_proj" (both
	// projections, as PEFT matches it). Empty means DefaultTargets.
	Targets []string
	RSLoRA  bool  // rank-stabilised scaling Alpha/√Rank (Kalajdzievski, arXiv:2312.03732)
	Layers  []int // the blocks to adapt, 0-based; empty means every block
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
func (c Config) targets() ([]target, error) {
	names := c.Targets
	if len(names) == 0 {
		names = DefaultTargets
	}
	var out []target
	var errs []error
	for _, n := range names {
		ts, ok := lookupTarget(n)
		if !ok {
			errs = append(errs, fmt.Errorf("unknown target %q (want one of %s)", n, strings.Join(TargetNames(), ", ")))
		}
		for _, t := range ts {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	if slices.Contains(out, target{transformer.AttnCAttn, ""}) && slices.ContainsFunc(out, func(t target) bool { return t.kind == transformer.AttnCAttn && t.part != "" }) {
		errs = append(errs, errors.New("targets c_attn and q/k/v overlap: c_attn already adapts q, k and v together"))
	}
	parts := []string{"", "q", "k", "v"}
	slices.SortFunc(out, func(a, b target) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(slices.Index(parts, a.part), slices.Index(parts, b.part)))
	})
	return out, errors.Join(errs...)
}

// Validate reports every problem of the configuration for a model of numLayers blocks,
// joined, or nil.
func (c Config) Validate(numLayers int) error {
	var errs []error
	if c.Rank <= 0 {
		errs = append(errs, fmt.Errorf("rank = %d, want > 0", c.Rank))
	}
	if !(c.Alpha > 0) {
		errs = append(errs, fmt.Errorf("alpha = %g, want > 0", c.Alpha))
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		errs = append(errs, fmt.Errorf("dropout = %g, want in [0, 1)", c.Dropout))
	}
	if _, err := c.targets(); err != nil {
		errs = append(errs, err)
	}
	for _, l := range c.Layers {
		if l < 0 || l >= numLayers {
			errs = append(errs, fmt.Errorf("layer %d is outside the model's %d blocks", l, numLayers))
		}
	}
	if s := slices.Clone(c.Layers); len(slices.Compact(slices.Sorted(slices.Values(s)))) != len(s) {
		errs = append(errs, fmt.Errorf("layers %v repeat a block", c.Layers))
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
