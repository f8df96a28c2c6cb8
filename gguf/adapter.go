package gguf

import (
	"fmt"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/transformer"
)

// Adapter returns the GGUF LoRA adapter of ad, whose base model is m, as llama.cpp's convert_lora_to_gguf.py
// writes one and as llama.cpp's llama-adapter.cpp checks it: general.type "adapter", adapter.type "lora",
// adapter.lora.alpha, and for each adapted projection "blk.N.<name>.weight.lora_a" (PEFT's A, [r, in]) and
// ".lora_b" (B, [out, r]), in the orientation of llama.cpp's [out, in] weight (GPT-2's Conv1D included). llama.cpp
// scales each module by alpha/r with one alpha for the file; a module whose scaling differs from
// adapter.lora.alpha/r (rsLoRA, GPT-2's fused q/v parts, PEFT's alpha_pattern) has the difference folded into
// its B. For llama, B's rows are permuted as the query and key weights are (see Model). It is an error if a
// projection has no llama.cpp tensor to adapt.
func Adapter(ad *lora.Adapter, m *transformer.Model, opts Options) (*File, error) {
	cfg := m.Config
	arch, err := archAndType(cfg, opts.Type)
	if err != nil {
		return nil, err
	}
	mods := ad.Modules()
	if len(mods) == 0 {
		return nil, fmt.Errorf("gguf: the adapter has no layers")
	}
	alpha := ad.Config.Alpha
	if !(alpha > 0) {
		alpha = float64(mods[0].Rank) * mods[0].Scaling
	}
	f := newFile(arch, "adapter", opts)
	f.Add("adapter.type", "lora")
	f.Add("adapter.lora.alpha", float32(alpha))
	f.Add("general.file_type", opts.Type.FileType())
	f.Add("general.quantization_version", uint32(QuantizationVersion))
	for _, mod := range mods {
		base, err := projName(mod.Proj)
		if err != nil {
			return nil, fmt.Errorf("gguf: adapter on %v: llama.cpp has no tensor to apply it to", mod.Proj)
		}
		a, b := mod.A, mod.B
		if k := mod.Scaling * float64(mod.Rank) / alpha; k != 1 {
			b = make([]float32, len(mod.B))
			for i, v := range mod.B {
				b[i] = float32(float64(v) * k)
			}
		}
		if cfg.Family() == transformer.Llama {
			switch mod.Proj.Kind {
			case transformer.SelfAttnQProj:
				b = permuteRows(b, cfg.NumHeads, mod.Rank)
			case transformer.SelfAttnKProj:
				b = permuteRows(b, cfg.KVHeads(), mod.Rank)
			}
		}
		for _, t := range []struct {
			suffix string
			shape  []int
			data   []float32
		}{{".weight.lora_a", []int{mod.Rank, mod.In}, a}, {".weight.lora_b", []int{mod.Out, mod.Rank}, b}} {
			name, data := base+t.suffix, t.data
			f.Tensors = append(f.Tensors, Tensor{Name: name, Shape: t.shape, Type: TensorType(name, t.shape, opts.Type),
				Data: func() ([]float32, error) { return data, nil }})
		}
	}
	return f, f.check()
}
