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
// checks a Config on its own, for any model; Apply also checks Targets against the
// model's family and Layers against its blocks.
type Config struct {
	// Rank is r, the inner dimension of every adapter, ≥ 1. Default 8.
	Rank int `yaml:"r"`
	// Alpha (PEFT's lora_alpha) scales the delta by Alpha/Rank (Alpha/√Rank with RSLoRA);
	// finite and > 0. Default 8.
	Alpha float64 `yaml:"alpha"`
	// Dropout is the dropout probability on the adapter's input path, in training only,
	// in [0, 1). Default 0.
	Dropout float64 `yaml:"dropout"`
	// Targets lists what to adapt in each chosen block, each name once. In either family:
	// "q", "k", "v", "o", the attention's query, key, value and output projections, and
	// "all-linear", every projection of the block (PEFT's shorthand: every linear layer
	// but the output head). In GPT-2: q, k and v are column blocks of the fused
	// attn.c_attn and o is attn.c_proj; "fc" (mlp.c_fc), "proj" (mlp.c_proj), and the
	// Hugging Face module names "c_attn"/"attn.c_attn" (q, k and v with one fused adapter,
	// as PEFT does; not together with q, k or v), "attn.c_proj", "c_fc"/"mlp.c_fc",
	// "mlp.c_proj", and "c_proj" (both projections, as PEFT matches it). In the Llama
	// family (Llama, Qwen2): q, k, v, o are q_proj, k_proj, v_proj, o_proj, and the Hugging
	// Face module names "q_proj", "k_proj", "v_proj", "o_proj" (or "self_attn.q_proj" …),
	// "gate_proj", "up_proj", "down_proj" (or "mlp.gate_proj" …). all-linear stands alone.
	// A name of one family only is an error of Apply on a model of the other. TargetNames
	// lists them all. Default [q, v]; empty means DefaultTargets.
	Targets []string `yaml:"target_modules"`
	// RSLoRA scales the delta by Alpha/√Rank instead of Alpha/Rank (rank-stabilised LoRA,
	// Kalajdzievski, arXiv:2312.03732; PEFT's use_rslora). Default false.
	RSLoRA bool `yaml:"rslora"`
	// Layers lists the blocks to adapt, 0-based, each once (PEFT's layers_to_transform);
	// empty, the default, means every block.
	Layers []int `yaml:"layers_to_transform,omitempty"`
}

// DefaultConfig returns PEFT's LoraConfig defaults: r 8, alpha 8, dropout 0, targets
// [q, v] (the query and value projections, as in the LoRA paper: c_attn's q and v
// blocks in GPT-2, q_proj and v_proj in the Llama family), every block.
func DefaultConfig() Config {
	return Config{Rank: 8, Alpha: 8, Targets: slices.Clone(DefaultTargets)}
}

// DefaultTargets are the projections adapted when Config.Targets is empty: the query and
// value projections, as in the LoRA paper; in the Llama family they are q_proj and v_proj,
// PEFT's default there.
var DefaultTargets = []string{"q", "v"}

// target is one adapted column block of one kind of projection.
type target struct {
	kind transformer.ProjKind
	part string // "q", "k", "v" for a column block of c_attn; "" for the whole output
}

// allLinear is PEFT's shorthand for every linear layer but the output head.
const allLinear = "all-linear"

// The kinds of projection of each family, in checkpoint order.
var (
	gpt2Kinds  = []transformer.ProjKind{transformer.AttnCAttn, transformer.AttnCProj, transformer.MLPCFc, transformer.MLPCProj}
	llamaKinds = []transformer.ProjKind{
		transformer.SelfAttnQProj, transformer.SelfAttnKProj, transformer.SelfAttnVProj, transformer.SelfAttnOProj,
		transformer.MLPGateProj, transformer.MLPUpProj, transformer.MLPDownProj,
	}
)

// whole returns a target of the whole output of each kind.
func whole(kinds ...transformer.ProjKind) []target {
	ts := make([]target, len(kinds))
	for i, k := range kinds {
		ts[i] = target{kind: k}
	}
	return ts
}

// targetTable lists each accepted target name, in documentation order, with what it adapts
// in a GPT-2 model and in a Llama-family model; nil means the name is not one of that
// family's modules.
var targetTable = []struct {
	name        string
	gpt2, llama []target
}{
	{"q", []target{{transformer.AttnCAttn, "q"}}, whole(transformer.SelfAttnQProj)},
	{"k", []target{{transformer.AttnCAttn, "k"}}, whole(transformer.SelfAttnKProj)},
	{"v", []target{{transformer.AttnCAttn, "v"}}, whole(transformer.SelfAttnVProj)},
	{"o", whole(transformer.AttnCProj), whole(transformer.SelfAttnOProj)},
	{"fc", whole(transformer.MLPCFc), nil},
	{"proj", whole(transformer.MLPCProj), nil},
	{"c_attn", whole(transformer.AttnCAttn), nil},
	{"attn.c_attn", whole(transformer.AttnCAttn), nil},
	{"c_proj", whole(transformer.AttnCProj, transformer.MLPCProj), nil},
	{"attn.c_proj", whole(transformer.AttnCProj), nil},
	{"c_fc", whole(transformer.MLPCFc), nil},
	{"mlp.c_fc", whole(transformer.MLPCFc), nil},
	{"mlp.c_proj", whole(transformer.MLPCProj), nil},
	{"q_proj", nil, whole(transformer.SelfAttnQProj)},
	{"self_attn.q_proj", nil, whole(transformer.SelfAttnQProj)},
	{"k_proj", nil, whole(transformer.SelfAttnKProj)},
	{"self_attn.k_proj", nil, whole(transformer.SelfAttnKProj)},
	{"v_proj", nil, whole(transformer.SelfAttnVProj)},
	{"self_attn.v_proj", nil, whole(transformer.SelfAttnVProj)},
	{"o_proj", nil, whole(transformer.SelfAttnOProj)},
	{"self_attn.o_proj", nil, whole(transformer.SelfAttnOProj)},
	{"gate_proj", nil, whole(transformer.MLPGateProj)},
	{"mlp.gate_proj", nil, whole(transformer.MLPGateProj)},
	{"up_proj", nil, whole(transformer.MLPUpProj)},
	{"mlp.up_proj", nil, whole(transformer.MLPUpProj)},
	{"down_proj", nil, whole(transformer.MLPDownProj)},
	{"mlp.down_proj", nil, whole(transformer.MLPDownProj)},
	{allLinear, whole(gpt2Kinds...), whole(llamaKinds...)},
}

// TargetNames returns every name Config.Targets accepts, in documentation order: GPT-2's
// short and Hugging Face names, then the Llama family's Hugging Face names, then
// "all-linear".
func TargetNames() []string {
	names := make([]string, len(targetTable))
	for i, t := range targetTable {
		names[i] = t.name
	}
	return names
}

// lookupTarget returns what the target name adapts in a GPT-2 model and in a Llama-family
// model (nil where it is not a module of that family), or ok false for an unknown name.
func lookupTarget(name string) (gpt2, llama []target, ok bool) {
	for _, t := range targetTable {
		if t.name == name {
			return t.gpt2, t.llama, true
		}
	}
	return nil, nil, false
}

// Scaling returns the factor of the low-rank delta: Alpha/Rank, or Alpha/√Rank with RSLoRA.
func (c Config) Scaling() float64 { return scaling(c.Alpha, c.Rank, c.RSLoRA) }

func scaling(alpha float64, rank int, rslora bool) float64 {
	if rslora {
		return alpha / math.Sqrt(float64(rank))
	}
	return alpha / float64(rank)
}

// targetNames returns Targets, or DefaultTargets when it is empty.
func (c Config) targetNames() []string {
	if len(c.Targets) == 0 {
		return DefaultTargets
	}
	return c.Targets
}

// targets resolves Targets (or DefaultTargets) into the adapted kinds and column blocks of
// a GPT-2 model, or of a Llama-family model when llama is true, in the order of the kinds
// (checkpoint order), a whole projection before its q, k, v. Unknown names and names of
// the other family are skipped (Validate and checkFamily report them).
func (c Config) targets(llama bool) []target {
	var out []target
	for _, n := range c.targetNames() {
		gpt2, ll, _ := lookupTarget(n)
		ts := gpt2
		if llama {
			ts = ll
		}
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
// 0". Whether Targets and Layers fit a model (its family, its blocks) is checked by Apply.
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
		if _, _, ok := lookupTarget(n); !ok {
			bad("target_modules", "unknown module %q (allowed: %s)", n, strings.Join(TargetNames(), ", "))
		} else if slices.Index(c.Targets, n) < i {
			bad("target_modules", "module %q listed twice", n)
		}
	}
	if slices.Contains(c.Targets, allLinear) {
		if slices.ContainsFunc(c.Targets, func(n string) bool { return n != allLinear }) {
			bad("target_modules", "all-linear already adapts every linear layer; list it alone")
		}
	} else if ts := c.targets(false); slices.Contains(ts, target{transformer.AttnCAttn, ""}) &&
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

// checkFamily reports each of Targets that is not a module of a model of family arch (a
// GPT-2 name on a Llama-family model, or the other way round).
func (c Config) checkFamily(arch transformer.Arch, llama bool) error {
	var errs []error
	for _, n := range c.targetNames() {
		gpt2, ll, ok := lookupTarget(n)
		switch {
		case !ok: // Validate reports it
		case llama && ll == nil:
			errs = append(errs, fmt.Errorf("target_modules: %q is a GPT-2 module; this is a %s model", n, arch))
		case !llama && gpt2 == nil:
			errs = append(errs, fmt.Errorf("target_modules: %q is a Llama-family module; this is a %s model", n, arch))
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
