package gguf

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

// Options are what an export can choose.
type Options struct {
	// Type is the type of the weight matrices: F32, F16, BF16 or Q8_0. Norms, biases, other 1-D tensors and
	// GPT-2's position embedding stay F32, and a Q8_0 matrix whose rows are not a multiple of 32 is F16, as
	// llama.cpp's convert_hf_to_gguf.py writes them (see TensorType).
	Type Type
	// Name is general.name (llama.cpp's converter uses the model directory's name).
	Name string
}

// archName returns llama.cpp's name of the family, which prefixes its keys ("gpt2.block_count").
func archName(a transformer.Arch) (string, error) {
	switch a {
	case transformer.GPT2, transformer.Llama, transformer.Qwen2:
		return string(a), nil
	}
	return "", fmt.Errorf("gguf: model family %q is not supported (want gpt2, llama or qwen2)", a)
}

// TensorType returns the type convert_hf_to_gguf.py gives the tensor called name (llama.cpp's name) of the given
// shape when the file's type is ft: F32 for 1-D tensors, norms ("…_norm.weight"), GPT-2's position_embd and any
// tensor whose name ends in neither ".weight" nor ".lora_a"/".lora_b" (biases); otherwise ft, except that Q8_0
// falls back to F16 when the rows (the last dimension) are not a multiple of 32, as gguf-py's quantize raises and
// the converter catches.
func TensorType(name string, shape []int, ft Type) Type {
	if len(shape) <= 1 || strings.HasSuffix(name, "_norm.weight") || name == "position_embd.weight" ||
		!(strings.HasSuffix(name, ".weight") || strings.HasSuffix(name, ".lora_a") || strings.HasSuffix(name, ".lora_b")) {
		return F32
	}
	if ft == Q8_0 && shape[len(shape)-1]%q8Block != 0 {
		return F16
	}
	return ft
}

// archAndType returns llama.cpp's name of cfg's family, refusing a family or a file type (t) this package does
// not write.
func archAndType(cfg transformer.Config, t Type) (string, error) {
	arch, err := archName(cfg.Family())
	if err != nil {
		return "", err
	}
	switch t {
	case F32, F16, BF16, Q8_0:
		return arch, nil
	}
	return "", fmt.Errorf("gguf: type %v is not supported (want f32, f16, bf16 or q8_0)", t)
}

// projNames gives each projection kind llama.cpp's name of its weight inside a block ("blk.N." + name).
var projNames = map[transformer.ProjKind]string{
	transformer.AttnCAttn:     "attn_qkv",
	transformer.AttnCProj:     "attn_output",
	transformer.MLPCFc:        "ffn_up",
	transformer.MLPCProj:      "ffn_down",
	transformer.SelfAttnQProj: "attn_q",
	transformer.SelfAttnKProj: "attn_k",
	transformer.SelfAttnVProj: "attn_v",
	transformer.SelfAttnOProj: "attn_output",
	transformer.MLPGateProj:   "ffn_gate",
	transformer.MLPUpProj:     "ffn_up",
	transformer.MLPDownProj:   "ffn_down",
}

// projName returns llama.cpp's name of the weight of projection p, without ".weight" ("blk.3.attn_qkv").
func projName(p transformer.Proj) (string, error) {
	n, ok := projNames[p.Kind]
	if !ok {
		return "", fmt.Errorf("gguf: projection %v has no llama.cpp tensor", p)
	}
	return fmt.Sprintf("blk.%d.%s", p.Layer, n), nil
}

// normNames maps the Hugging Face names of the norms inside a block to llama.cpp's.
var normNames = map[string]string{
	"ln_1": "attn_norm", "ln_2": "ffn_norm", // GPT-2
	"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", // Llama family
}

// tensorName returns llama.cpp's name of the Hugging Face parameter name (without the base model's prefix).
func tensorName(hf string) (string, error) {
	switch hf {
	case "wte.weight", "embed_tokens.weight":
		return "token_embd.weight", nil
	case "wpe.weight":
		return "position_embd.weight", nil
	case "ln_f.weight", "norm.weight":
		return "output_norm.weight", nil
	case "ln_f.bias":
		return "output_norm.bias", nil
	case "lm_head.weight":
		return "output.weight", nil
	}
	base, suffix, ok := cutLast(hf, ".")
	if ok {
		if p, err := transformer.ParseProj(base); err == nil {
			name, err := projName(p)
			return name + "." + suffix, err
		}
		if blocks, rest, ok := strings.Cut(base, "."); ok && (blocks == "h" || blocks == "layers") {
			if layer, norm, ok := strings.Cut(rest, "."); ok {
				if n, ok := normNames[norm]; ok {
					return "blk." + layer + "." + n + "." + suffix, nil
				}
			}
		}
	}
	return "", fmt.Errorf("gguf: parameter %s has no llama.cpp name", hf)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// Model returns the GGUF file of m with tok's vocabulary (the base weights of m.Params: merge an adapter first to
// export it folded in), as
// llama.cpp's convert_hf_to_gguf.py would write it for the same Hugging Face checkpoint: llama.cpp's architecture
// (gpt2, llama, qwen2), tensor names and metadata keys; GPT-2's Conv1D weights transposed to [out, in]; the
// Llama family's query and key rows permuted for llama.cpp's RoPE (llama only: qwen2 rotates halves as Hugging
// Face does); Llama 3's rope scaling as a rope_freqs tensor; no output tensor when the LM head is tied to the
// token embedding (llama.cpp then reuses token_embd). It is an error, naming what, if the model's family, rope
// scaling or tokenizer cannot be said in GGUF, or if the tokenizer has more ids than the model.
func Model(m *transformer.Model, tok *tokenizer.BPE, opts Options) (*File, error) {
	cfg := m.Config
	arch, err := archAndType(cfg, opts.Type)
	if err != nil {
		return nil, err
	}
	f := newFile(arch, "model", opts)
	key := func(k string) string { return arch + "." + k }
	f.Add(key("vocab_size"), uint32(cfg.VocabSize))
	f.Add(key("context_length"), uint32(cfg.MaxPositions))
	f.Add(key("embedding_length"), uint32(cfg.EmbedDim))
	f.Add(key("block_count"), uint32(cfg.NumLayers))
	f.Add(key("feed_forward_length"), uint32(cfg.Inner()))
	f.Add(key("attention.head_count"), uint32(cfg.NumHeads))
	if cfg.IsLlama() {
		f.Add(key("attention.head_count_kv"), uint32(cfg.KVHeads()))
		f.Add(key("rope.freq_base"), float32(cfg.RopeTheta))
		f.Add(key("attention.layer_norm_rms_epsilon"), float32(cfg.LayerNormEps))
		if cfg.HeadSize > 0 {
			f.Add(key("attention.key_length"), uint32(cfg.HeadSize))
			f.Add(key("attention.value_length"), uint32(cfg.HeadSize))
		}
		f.Add(key("rope.dimension_count"), uint32(cfg.HeadDim()))
		switch r := cfg.RopeScaling; r.Type {
		case "":
		case "linear":
			f.Add(key("rope.scaling.type"), "linear")
			f.Add(key("rope.scaling.factor"), float32(r.Factor))
		case "llama3":
			if cfg.Family() != transformer.Llama {
				return nil, fmt.Errorf("gguf: rope_scaling llama3 on a %s model: llama.cpp reads rope_freqs only for llama", cfg.Family())
			}
		default:
			return nil, fmt.Errorf("gguf: rope_scaling type %q is not supported", r.Type)
		}
	} else {
		f.Add(key("attention.layer_norm_epsilon"), float32(cfg.LayerNormEps))
	}
	f.Add("general.file_type", opts.Type.FileType())
	f.Add("general.quantization_version", uint32(QuantizationVersion))
	vocab, err := vocabKV(tok, cfg)
	if err != nil {
		return nil, err
	}
	f.KV = append(f.KV, vocab...)

	var errs []error
	for _, p := range m.Params() {
		name, err := tensorName(p.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		shape := p.Param.Shape()
		if len(shape) == 2 && shape[1] == 1 {
			shape = shape[:1]
		}
		data := transformer.WeightValues(p.Param)
		get := func() ([]float32, error) { return data, nil }
		switch {
		case cfg.Family() == transformer.GPT2 && len(shape) == 2 && strings.HasPrefix(name, "blk."):
			// Conv1D (in, out) → (out, in)
			in, out := shape[0], shape[1]
			shape = []int{out, in}
			get = func() ([]float32, error) { return transpose(data, in, out), nil }
		case cfg.Family() == transformer.Llama && (strings.HasSuffix(name, ".attn_q.weight") || strings.HasSuffix(name, ".attn_q.bias")):
			get = func() ([]float32, error) { return permuteRows(data, cfg.NumHeads, len(data)/shape[0]), nil }
		case cfg.Family() == transformer.Llama && (strings.HasSuffix(name, ".attn_k.weight") || strings.HasSuffix(name, ".attn_k.bias")):
			get = func() ([]float32, error) { return permuteRows(data, cfg.KVHeads(), len(data)/shape[0]), nil }
		}
		f.Tensors = append(f.Tensors, Tensor{Name: name, Shape: shape, Type: TensorType(name, shape, opts.Type), Data: get})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.RopeScaling.Type == "llama3" {
		factors := ropeFactors(cfg)
		f.Tensors = append(f.Tensors, Tensor{Name: "rope_freqs.weight", Shape: []int{len(factors)}, Type: F32,
			Data: func() ([]float32, error) { return factors, nil }})
	}
	return f, f.check()
}

// newFile returns a file with the general keys every GGUF file starts with: architecture, type ("model" or
// "adapter"), name, alignment.
func newFile(arch, typ string, opts Options) *File {
	f := &File{}
	f.Add("general.architecture", arch)
	f.Add("general.type", typ)
	if opts.Name != "" {
		f.Add("general.name", opts.Name)
	}
	f.Add("general.alignment", uint32(Alignment))
	return f
}

// transpose returns the (cols, rows) transpose of a row-major (rows, cols) matrix.
func transpose(a []float32, rows, cols int) []float32 {
	out := make([]float32, len(a))
	for i := range rows {
		for j := range cols {
			out[j*rows+i] = a[i*cols+j]
		}
	}
	return out
}

// permuteRows reorders the rows of a query or key projection (weight or bias; cols values a row) for llama.cpp's
// RoPE, which rotates adjacent pairs where Hugging Face rotates the two halves of each head: within each of the
// heads, row 2b+a takes row a·hd/2+b (a ∈ {0, 1}), as convert_hf_to_gguf.py's LlamaModel.permute
// (reshape(heads, 2, hd/2, …).swapaxes(1, 2)) does.
func permuteRows(w []float32, heads, cols int) []float32 {
	rows := len(w) / cols
	hd := rows / heads
	out := make([]float32, len(w))
	for h := range heads {
		for a := range 2 {
			for b := range hd / 2 {
				src := h*hd + a*hd/2 + b
				dst := h*hd + 2*b + a
				copy(out[dst*cols:(dst+1)*cols], w[src*cols:(src+1)*cols])
			}
		}
	}
	return out
}

// ropeFactors returns the rope_freqs tensor of Llama 3's rope scaling, as convert_hf_to_gguf.py's LlamaModel
// computes it: for each frequency f = θ^(−2i/d), 1 when its wavelength 2π/f is below
// original_max_position_embeddings/high_freq_factor, factor when above original/low_freq_factor, and
// 1/((1−s)/factor + s) between, s = (original/wavelength − low)/(high − low). llama.cpp divides each frequency by
// it, which gives the frequencies Hugging Face's llama3 rope computes.
func ropeFactors(cfg transformer.Config) []float32 {
	r := cfg.RopeScaling
	d := cfg.HeadDim()
	L := float64(r.OriginalMaxPositions)
	lowWave, highWave := L/r.LowFreqFactor, L/r.HighFreqFactor
	out := make([]float32, d/2)
	for i := range out {
		f := 1 / math.Pow(cfg.RopeTheta, float64(2*i)/float64(d))
		wave := 2 * math.Pi / f
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = float32(r.Factor)
		default:
			s := (L/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
			out[i] = float32(1 / ((1-s)/r.Factor + s))
		}
	}
	return out
}
