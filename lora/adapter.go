package lora

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/llmtune/llmtune/transformer"
)

// ErrAlreadyAdapted is returned by Apply and Load for a model that already carries LoRA layers.
var ErrAlreadyAdapted = errors.New("lora: model already has a LoRA adapter")

// Adapter is the set of LoRA layers applied to one model. Its parameters are the only
// trainable ones: Apply and Load freeze every base parameter.
type Adapter struct {
	Config Config
	// BaseModel is recorded as base_model_name_or_path when the adapter is saved.
	BaseModel string
	Layers    []*Linear // in model order

	model  *transformer.Model
	merged bool
	src    *rand.PCG  // dropout masks' generator state
	rng    *rand.Rand // over src, shared by every layer
}

// checkUnadapted returns ErrAlreadyAdapted if a projection of m is not a plain Conv1D
// (GPT-2) or Dense (the Llama family).
func checkUnadapted(m *transformer.Model) error {
	for _, p := range m.Projections() {
		switch m.Linear(p).(type) {
		case *transformer.Conv1D, *transformer.Dense:
		default:
			return ErrAlreadyAdapted
		}
	}
	return nil
}

// Apply freezes the model and puts LoRA layers on the projections cfg targets, in the
// blocks it selects: on GPT-2's Conv1D projections or the Llama family's Dense ones
// (see Config.Targets for what each name means in each family). Each adapter's A (r, in)
// is kaiming-uniform (a=√5, as PEFT) from rng and its B (out, r) is zero, so the model's
// output is unchanged until training moves B. Dropout masks are drawn from a generator
// seeded from rng. It is an error, changing nothing, if cfg is not valid (see
// Config.Validate), names a module of the other family (e.g. `target_modules: "c_attn"
// is a GPT-2 module; this is a llama model`) or a layer the model does not have, and
// ErrAlreadyAdapted if the model already carries LoRA layers.
func Apply(m *transformer.Model, cfg Config, rng *rand.Rand) (*Adapter, error) {
	llama := m.Config.IsLlama()
	if err := errors.Join(cfg.Validate(), cfg.checkFamily(m.Config.Family(), llama), cfg.checkLayers(m.Config.NumLayers)); err != nil {
		return nil, fmt.Errorf("lora: apply: %w", err)
	}
	if err := checkUnadapted(m); err != nil {
		return nil, err
	}
	targets := cfg.targets(llama)
	C, r := m.Config.EmbedDim, cfg.Rank
	ad := &Adapter{Config: cfg, model: m}
	ad.setDropoutSource(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	for _, i := range cfg.layers(m.Config.NumLayers) {
		for _, kind := range m.ProjKinds() {
			proj := transformer.Proj{Layer: i, Kind: kind}
			base := m.Linear(proj)
			var parts []*Part
			for _, t := range targets {
				if t.kind != kind {
					continue
				}
				lo, hi := 0, base.OutDim()
				if t.part != "" {
					k := strings.Index("qkv", t.part)
					lo, hi = k*C, (k+1)*C
				}
				p := &Part{Name: t.part, Lo: lo, Hi: hi, A: transformer.NewParam(r, base.InDim()), B: transformer.NewParam(hi-lo, r), Scaling: cfg.Scaling()}
				kaimingUniform(transformer.Floats(p.A), base.InDim(), rng)
				parts = append(parts, p)
			}
			if len(parts) > 0 {
				ad.wrap(proj, parts, cfg.Dropout)
			}
		}
	}
	m.SetTrainable(false)
	return ad, nil
}

// wrap puts a Linear with parts in place of the projection p of the adapter's model.
func (ad *Adapter) wrap(p transformer.Proj, parts []*Part, dropout float64) {
	l := &Linear{Proj: p, Parts: parts, Dropout: dropout, base: ad.model.Linear(p), rng: ad.rng}
	ad.model.SetLinear(p, l)
	ad.Layers = append(ad.Layers, l)
}

// Params returns the adapter's trainable parameters with their names, in model order:
// "h.{i}.{module}[.{q|k|v}].lora_{A|B}.weight" for GPT-2 ("h.0.attn.c_attn.q.lora_A.weight"),
// "layers.{i}.{module}.lora_{A|B}.weight" for the Llama family
// ("layers.0.self_attn.q_proj.lora_A.weight"). A is (r, in), B (out, r).
func (ad *Adapter) Params() []transformer.NamedParam {
	var ps []transformer.NamedParam
	for _, l := range ad.Layers {
		for _, p := range l.Parts {
			name := l.Proj.String()
			if p.Name != "" {
				name += "." + p.Name
			}
			ps = append(ps,
				transformer.NamedParam{Name: name + ".lora_A.weight", Param: p.A},
				transformer.NamedParam{Name: name + ".lora_B.weight", Param: p.B})
		}
	}
	return ps
}

// NumTrainable returns the number of adapter parameters.
func (ad *Adapter) NumTrainable() int {
	n := 0
	for _, p := range ad.Params() {
		n += p.Param.Size()
	}
	return n
}

// Report returns PEFT's print_trainable_parameters line, e.g. "trainable params: 147,456
// || all params: 124,587,264 || trainable%: 0.1183" (all params = base + adapter).
func (ad *Adapter) Report() string {
	tr := ad.NumTrainable()
	all := ad.model.NumParams() + tr
	return fmt.Sprintf("trainable params: %s || all params: %s || trainable%%: %.4f",
		commas(tr), commas(all), 100*float64(tr)/float64(all))
}

func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// SetTraining turns the adapters' dropout on (training) or off (evaluation, the default).
func (ad *Adapter) SetTraining(on bool) {
	for _, l := range ad.Layers {
		l.training = on
	}
}

// setDropoutSource makes src the generator of every layer's dropout masks.
func (ad *Adapter) setDropoutSource(src *rand.PCG) {
	ad.src, ad.rng = src, rand.New(src)
	for _, l := range ad.Layers {
		l.rng = ad.rng
	}
}

// DropoutState returns the state of the dropout masks' generator, for a checkpoint.
func (ad *Adapter) DropoutState() ([]byte, error) { return ad.src.MarshalBinary() }

// SetDropoutState restores a state from DropoutState, so that a resumed run draws the
// masks an uninterrupted one would.
func (ad *Adapter) SetDropoutState(b []byte) error { return ad.src.UnmarshalBinary(b) }

// Merged reports whether the adapter is folded into the base weights.
func (ad *Adapter) Merged() bool { return ad.merged }

// Merge folds every adapter into its base weight, after which the LoRA layers add nothing
// (the model computes the same logits, faster): W (out, in) += s·B·A on the adapted rows
// of a Dense (the Llama family), W (in, out) += s·(B·A)ᵀ on the adapted columns of a
// Conv1D (GPT-2). It is an error, changing nothing, if a delta holds NaN or Inf, if the
// adapter is already merged, or if a base is neither a Conv1D nor a Dense.
func (ad *Adapter) Merge() error {
	if ad.merged {
		return errors.New("lora: merge: adapter is already merged")
	}
	deltas, err := ad.deltas()
	if err != nil {
		return fmt.Errorf("lora: merge: %w", err)
	}
	ad.apply(deltas, 1)
	ad.merged = true
	return nil
}

// Unmerge subtracts what Merge added, restoring the base weights (up to float32 rounding)
// and the separate adapters. It is an error if the adapter is not merged.
func (ad *Adapter) Unmerge() error {
	if !ad.merged {
		return errors.New("lora: unmerge: adapter is not merged")
	}
	deltas, err := ad.deltas()
	if err != nil {
		return fmt.Errorf("lora: unmerge: %w", err)
	}
	ad.apply(deltas, -1)
	ad.merged = false
	return nil
}

// deltas returns every part's delta in the layout of its base weight (see Part.delta),
// checking that each is finite and that every base is a Conv1D or a Dense.
func (ad *Adapter) deltas() ([][][]float32, error) {
	out := make([][][]float32, len(ad.Layers))
	for i, l := range ad.Layers {
		var dense bool
		switch l.base.(type) {
		case *transformer.Conv1D:
		case *transformer.Dense:
			dense = true
		default:
			return nil, fmt.Errorf("%v: base is %T, neither a Conv1D nor a Dense", l.Proj, l.base)
		}
		for _, p := range l.Parts {
			d := p.delta(dense)
			for _, v := range d {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return nil, fmt.Errorf("%v: the adapter's delta holds %v", l.Proj, v)
				}
			}
			out[i] = append(out[i], d)
		}
	}
	return out, nil
}

// apply adds sign·delta into the adapted rows (Dense) or columns (Conv1D) of every base
// weight and sets the layers' merged state.
func (ad *Adapter) apply(deltas [][][]float32, sign float32) {
	for i, l := range ad.Layers {
		switch b := l.base.(type) {
		case *transformer.Conv1D: // W (in, out): columns Lo…Hi of every row
			transformer.SetF32(b.Weight) // a bfloat16 base is widened to hold the sum
			w, out := transformer.Floats(b.Weight), b.OutDim()
			for k, p := range l.Parts {
				d, wd := deltas[i][k], p.Hi-p.Lo
				for row := 0; row < b.InDim(); row++ {
					dst := w[row*out+p.Lo : row*out+p.Hi]
					for j := range dst {
						dst[j] += sign * d[row*wd+j]
					}
				}
			}
		case *transformer.Dense: // W (out, in): rows Lo…Hi, contiguous
			transformer.SetF32(b.Weight)
			w, in := transformer.Floats(b.Weight), b.InDim()
			for k, p := range l.Parts {
				dst := w[p.Lo*in : p.Hi*in]
				for j, v := range deltas[i][k] {
					dst[j] += sign * v
				}
			}
		}
		l.merged = sign > 0
	}
}
