package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// llamaJSON is a LlamaForCausalLM or Qwen2ForCausalLM config.json: the keys this package
// reads and those whose values it must check.
type llamaJSON struct {
	VocabSize         int       `json:"vocab_size"`
	HiddenSize        int       `json:"hidden_size"`
	IntermediateSize  int       `json:"intermediate_size"`
	NumHiddenLayers   int       `json:"num_hidden_layers"`
	NumAttentionHeads int       `json:"num_attention_heads"`
	NumKeyValueHeads  *int      `json:"num_key_value_heads"`
	HeadDim           *int      `json:"head_dim"`
	HiddenAct         string    `json:"hidden_act"`
	MaxPositions      int       `json:"max_position_embeddings"`
	RMSNormEps        float64   `json:"rms_norm_eps"`
	RopeTheta         float64   `json:"rope_theta"`
	RopeScaling       *ropeJSON `json:"rope_scaling"`
	RopeParameters    *ropeJSON `json:"rope_parameters"`
	AttentionBias     bool      `json:"attention_bias"`
	MLPBias           bool      `json:"mlp_bias"`
	TieWordEmbeddings bool      `json:"tie_word_embeddings"`
	BOSTokenID        *int      `json:"bos_token_id"`
	EOSTokenID        eosIDs    `json:"eos_token_id"`
	UseSlidingWindow  bool      `json:"use_sliding_window"`
	PretrainingTP     *int      `json:"pretraining_tp"`
}

// ropeJSON is rope_scaling, or Transformers v5's rope_parameters (which may carry
// rope_theta too); old files name the type "type".
type ropeJSON struct {
	RopeType             string   `json:"rope_type"`
	Type                 string   `json:"type"`
	Factor               float64  `json:"factor"`
	LowFreqFactor        float64  `json:"low_freq_factor"`
	HighFreqFactor       float64  `json:"high_freq_factor"`
	OriginalMaxPositions int      `json:"original_max_position_embeddings"`
	RopeTheta            *float64 `json:"rope_theta"`
}

// llamaDefaults returns Hugging Face's LlamaConfig or Qwen2Config defaults for the keys a
// config.json leaves out.
func llamaDefaults(arch Arch) llamaJSON {
	j := llamaJSON{VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 11008, NumHiddenLayers: 32,
		NumAttentionHeads: 32, HiddenAct: "silu", MaxPositions: 2048, RMSNormEps: 1e-6, RopeTheta: 10000,
		EOSTokenID: eosIDs{2}}
	one := 1
	j.BOSTokenID = &one
	if arch == Qwen2 {
		j.VocabSize, j.IntermediateSize, j.MaxPositions = 151936, 22016, 32768
		j.BOSTokenID = nil
		j.EOSTokenID = nil
	}
	return j
}

// parseLlama decodes a config.json of the Llama family.
func parseLlama(data []byte, arch Arch) (Config, error) {
	j := llamaDefaults(arch)
	if err := json.Unmarshal(data, &j); err != nil {
		return Config{}, err
	}
	c := Config{Arch: arch, NumLayers: j.NumHiddenLayers, NumHeads: j.NumAttentionHeads, EmbedDim: j.HiddenSize,
		MaxPositions: j.MaxPositions, VocabSize: j.VocabSize, LayerNormEps: j.RMSNormEps, Activation: j.HiddenAct,
		InnerDim: j.IntermediateSize, UntiedLMHead: !j.TieWordEmbeddings, RopeTheta: j.RopeTheta,
		QKVBias: j.AttentionBias, OBias: j.AttentionBias, MLPBias: j.MLPBias}
	if arch == Qwen2 {
		c.QKVBias, c.OBias, c.MLPBias = true, false, false
	}
	if j.BOSTokenID != nil {
		c.BOSTokenID = *j.BOSTokenID
	}
	c.setEOS(j.EOSTokenID)
	if j.NumKeyValueHeads != nil {
		c.NumKVHeads = *j.NumKeyValueHeads
	}
	if j.HeadDim != nil {
		c.HeadSize = *j.HeadDim
	}
	var errs []error
	rope := j.RopeScaling
	if j.RopeParameters != nil {
		rope = j.RopeParameters
		if rope.RopeTheta != nil {
			c.RopeTheta = *rope.RopeTheta
		}
	}
	if rope != nil {
		typ := rope.RopeType
		if typ == "" {
			typ = rope.Type
		}
		// Only the keys of the type are kept, so that the Config is the zero RopeScaling
		// for none and MarshalJSON's rope_scaling parses back to the same one.
		switch typ {
		case "", "default":
		case "linear":
			c.RopeScaling = RopeScaling{Type: typ, Factor: rope.Factor}
		default:
			c.RopeScaling = RopeScaling{Type: typ, Factor: rope.Factor, LowFreqFactor: rope.LowFreqFactor,
				HighFreqFactor: rope.HighFreqFactor, OriginalMaxPositions: rope.OriginalMaxPositions}
		}
	}
	if j.UseSlidingWindow {
		errs = append(errs, errors.New("use_sliding_window = true is not supported"))
	}
	if j.PretrainingTP != nil && *j.PretrainingTP != 1 {
		// HF's own forward no longer slices by it; only 1 is certain to mean what it says.
		errs = append(errs, fmt.Errorf("pretraining_tp = %d is not supported (want 1)", *j.PretrainingTP))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// marshalLlama writes c as save_pretrained writes a LlamaForCausalLM or Qwen2ForCausalLM
// config.json.
func marshalLlama(c Config) ([]byte, error) {
	arch := map[Arch]string{Llama: "LlamaForCausalLM", Qwen2: "Qwen2ForCausalLM"}[c.Family()]
	var rope any
	if c.RopeScaling.Type != "" {
		r := c.RopeScaling
		m := map[string]any{"rope_type": r.Type, "factor": r.Factor}
		if r.Type == "llama3" {
			m["low_freq_factor"], m["high_freq_factor"] = r.LowFreqFactor, r.HighFreqFactor
			m["original_max_position_embeddings"] = r.OriginalMaxPositions
		}
		rope = m
	}
	out := map[string]any{
		"architectures":           []string{arch},
		"model_type":              string(c.Family()),
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.EmbedDim,
		"intermediate_size":       c.InnerDim,
		"num_hidden_layers":       c.NumLayers,
		"num_attention_heads":     c.NumHeads,
		"num_key_value_heads":     c.KVHeads(),
		"head_dim":                c.HeadDim(),
		"hidden_act":              c.Activation,
		"max_position_embeddings": c.MaxPositions,
		"rms_norm_eps":            c.LayerNormEps,
		"rope_theta":              c.RopeTheta,
		"rope_scaling":            rope,
		"tie_word_embeddings":     !c.UntiedLMHead,
		"bos_token_id":            c.BOSTokenID,
		"eos_token_id":            c.eosJSON(),
		"torch_dtype":             "float32",
	}
	if c.Family() == Llama {
		out["attention_bias"], out["mlp_bias"] = c.QKVBias, c.MLPBias
	} else {
		out["use_sliding_window"] = false
	}
	return json.Marshal(out)
}

// ropeInvFreq returns RoPE's inverse frequencies (HeadDim/2) for c, as Hugging Face's
// modeling_rope_utils computes them: θ^(−2i/d) over d = HeadDim, then rope_scaling's
// rescaling — linear divides every frequency by the factor; llama3 divides those whose
// wavelength 2π/f exceeds original_max_position_embeddings/low_freq_factor, keeps those
// below original_max_position_embeddings/high_freq_factor and interpolates between:
// s = (L/λ − low)/(high − low), f' = (1−s)·f/factor + s·f. Computed in float64, rounded
// to float32 (HF computes in float32; the two differ by at most an ulp).
func (c Config) ropeInvFreq() []float32 {
	d := c.HeadDim()
	out := make([]float32, d/2)
	r := c.RopeScaling
	for i := range out {
		f := 1 / math.Pow(c.RopeTheta, float64(2*i)/float64(d))
		switch r.Type {
		case "linear":
			f /= r.Factor
		case "llama3":
			L := float64(r.OriginalMaxPositions)
			lowWave, highWave := L/r.LowFreqFactor, L/r.HighFreqFactor
			wave := 2 * math.Pi / f
			switch {
			case wave > lowWave:
				f /= r.Factor
			case wave >= highWave:
				s := (L/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				f = (1-s)*f/r.Factor + s*f
			}
		}
		out[i] = float32(f)
	}
	return out
}
