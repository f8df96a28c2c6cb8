package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Arch is a family of decoders, named by Hugging Face's model_type.
type Arch string

// The supported families.
const (
	// GPT2 is GPT2LMHeadModel: learned positions, LayerNorm, fused c_attn, GELU MLP,
	// Conv1D weights stored [in, out].
	GPT2 Arch = "gpt2"
	// Llama is LlamaForCausalLM (Llama 2 and 3.x, SmolLM2, TinyLlama): RoPE, RMSNorm,
	// separate q/k/v/o projections with grouped-query attention, SwiGLU MLP, nn.Linear
	// weights stored [out, in].
	Llama Arch = "llama"
	// Qwen2 is Qwen2ForCausalLM: Llama's structure with biases on q, k and v.
	Qwen2 Arch = "qwen2"
)

// architectures maps config.json's architectures[0] to the family.
var architectures = map[string]Arch{
	"GPT2LMHeadModel":  GPT2,
	"LlamaForCausalLM": Llama,
	"Qwen2ForCausalLM": Qwen2,
}

// Config is the normalised configuration of a decoder: the fields of a Hugging Face
// config.json that change the network, with one name each whatever the family calls
// them (GPT-2's n_embd and Llama's hidden_size are both EmbedDim). DefaultConfig returns
// GPT-2 small (124M); ParseConfig reads any supported family.
type Config struct {
	Arch         Arch    // the family; "" means GPT2
	NumLayers    int     // transformer blocks (n_layer, num_hidden_layers)
	NumHeads     int     // query heads per block (n_head, num_attention_heads)
	EmbedDim     int     // C, the width of the residual stream (n_embd, hidden_size)
	MaxPositions int     // the longest sequence (n_positions, max_position_embeddings)
	VocabSize    int     // V, rows of the token embedding and of the logits
	LayerNormEps float64 // the norm's epsilon (layer_norm_epsilon, rms_norm_eps)
	// Activation is the MLP's activation: GPT-2's "gelu_new" (GELU's tanh approximation;
	// "gelu_pytorch_tanh" and "gelu_fast" name the same function), the Llama family's
	// "silu" (in SwiGLU: down(silu(gate(x))·up(x))).
	Activation string
	// InnerDim is the MLP's hidden width (n_inner, intermediate_size); for GPT-2, 0 (JSON
	// null, HF's default) means 4·EmbedDim.
	InnerDim int
	// BOSTokenID and EOSTokenID are recorded as config.json has them; the tokenizer, not
	// the network, decides what ends an example, so they are not checked against
	// VocabSize. When eos_token_id is a list (Llama-3.2-Instruct), EOSTokenIDs holds it
	// and EOSTokenID is its first element.
	BOSTokenID  int
	EOSTokenID  int
	EOSTokenIDs []int
	// UntiedLMHead is true when config.json says "tie_word_embeddings": false: the LM head
	// then has its own lm_head.weight instead of reusing the token embedding. A Llama-family
	// config without the key is untied, as in Hugging Face; a GPT-2 one is tied.
	UntiedLMHead bool

	// The Llama family's attention (zero for GPT-2).

	// NumKVHeads is the number of key/value heads (num_key_value_heads), dividing NumHeads:
	// query head h attends with key/value head h/(NumHeads/NumKVHeads). 0 means NumHeads.
	NumKVHeads int
	// HeadSize is head_dim when config.json sets it; 0 means EmbedDim/NumHeads.
	HeadSize int
	// RopeTheta is RoPE's base θ (rope_theta): inv_freq[i] = θ^(−2i/HeadDim()).
	RopeTheta float64
	// RopeScaling rescales RoPE's frequencies (rope_scaling); the zero value is none.
	RopeScaling RopeScaling
	// QKVBias and OBias say whether q/k/v and o have biases: Llama's attention_bias sets
	// both; Qwen2 has q/k/v biases and no o bias. MLPBias is Llama's mlp_bias.
	QKVBias, OBias, MLPBias bool
}

// RopeScaling is a config.json's rope_scaling (or rope_parameters): how RoPE's inverse
// frequencies are changed to reach longer contexts (Hugging Face's
// modeling_rope_utils.py).
type RopeScaling struct {
	// Type is "" (none, HF's "default"), "linear" (inv_freq / Factor) or "llama3".
	Type string
	// Factor divides the frequencies (linear: all; llama3: the low ones).
	Factor float64
	// LowFreqFactor, HighFreqFactor and OriginalMaxPositions are llama3's: wavelengths
	// above OriginalMaxPositions/LowFreqFactor are divided by Factor, those below
	// OriginalMaxPositions/HighFreqFactor kept, those between interpolated.
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositions          int
}

// DefaultConfig returns the configuration of the original GPT-2 small, which is also what
// Hugging Face assumes for any key a GPT-2 config.json leaves out.
func DefaultConfig() Config {
	return Config{
		Arch:         GPT2,
		NumLayers:    12,
		NumHeads:     12,
		EmbedDim:     768,
		MaxPositions: 1024,
		VocabSize:    50257,
		LayerNormEps: 1e-5,
		Activation:   "gelu_new",
		BOSTokenID:   50256,
		EOSTokenID:   50256,
	}
}

// Family returns c.Arch, GPT2 when it is empty.
func (c Config) Family() Arch {
	if c.Arch == "" {
		return GPT2
	}
	return c.Arch
}

// IsLlama reports whether c is of the Llama family (Llama or Qwen2): RoPE, RMSNorm,
// separate projections, SwiGLU.
func (c Config) IsLlama() bool { return c.Family() == Llama || c.Family() == Qwen2 }

// Inner returns the MLP's hidden width: InnerDim, or for GPT-2 4·EmbedDim when it is 0.
func (c Config) Inner() int {
	if c.InnerDim > 0 || c.IsLlama() {
		return c.InnerDim
	}
	return 4 * c.EmbedDim
}

// HeadDim returns hs, the width of one attention head: HeadSize, or EmbedDim / NumHeads.
func (c Config) HeadDim() int {
	if c.HeadSize > 0 {
		return c.HeadSize
	}
	if c.NumHeads <= 0 {
		return 0
	}
	return c.EmbedDim / c.NumHeads
}

// KVHeads returns the number of key/value heads: NumKVHeads, or NumHeads.
func (c Config) KVHeads() int {
	if c.NumKVHeads > 0 {
		return c.NumKVHeads
	}
	return c.NumHeads
}

// QDim returns the width of the queries, NumHeads·HeadDim (EmbedDim for GPT-2).
func (c Config) QDim() int { return c.NumHeads * c.HeadDim() }

// KVDim returns the width of the keys (and of the values), KVHeads·HeadDim: what the KV
// cache holds per position and block.
func (c Config) KVDim() int { return c.KVHeads() * c.HeadDim() }

// Validate reports every problem of the configuration at once, joined, or nil. Each
// message names the config.json key of c's family.
func (c Config) Validate() error {
	var errs []error
	llama := c.IsLlama()
	key := func(gpt2, llamaKey string) string {
		if llama {
			return llamaKey
		}
		return gpt2
	}
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d, want > 0", name, v))
		}
	}
	switch c.Family() {
	case GPT2, Llama, Qwen2:
	default:
		errs = append(errs, fmt.Errorf("model_type %q is not supported (want gpt2, llama or qwen2)", c.Arch))
	}
	positive(key("n_layer", "num_hidden_layers"), c.NumLayers)
	positive(key("n_head", "num_attention_heads"), c.NumHeads)
	positive(key("n_embd", "hidden_size"), c.EmbedDim)
	positive(key("n_positions", "max_position_embeddings"), c.MaxPositions)
	positive("vocab_size", c.VocabSize)
	if !(c.LayerNormEps > 0) {
		errs = append(errs, fmt.Errorf("%s = %g, want > 0", key("layer_norm_epsilon", "rms_norm_eps"), c.LayerNormEps))
	}
	if !llama {
		if c.NumHeads > 0 && c.EmbedDim > 0 && c.EmbedDim%c.NumHeads != 0 {
			errs = append(errs, fmt.Errorf("n_embd = %d is not a multiple of n_head = %d", c.EmbedDim, c.NumHeads))
		}
		if c.InnerDim < 0 {
			errs = append(errs, fmt.Errorf("n_inner = %d, want > 0 or null", c.InnerDim))
		}
		switch c.Activation {
		case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
		default:
			errs = append(errs, fmt.Errorf("activation_function %q is not supported (want gelu_new)", c.Activation))
		}
		if c.NumKVHeads != 0 || c.HeadSize != 0 || c.RopeTheta != 0 || c.RopeScaling != (RopeScaling{}) || c.QKVBias || c.OBias || c.MLPBias {
			errs = append(errs, errors.New("a GPT-2 config has no kv heads, head_dim, rope or projection-bias settings"))
		}
		return errors.Join(errs...)
	}
	positive("intermediate_size", c.InnerDim)
	if c.NumKVHeads < 0 || c.NumHeads > 0 && c.KVHeads() > 0 && c.NumHeads%c.KVHeads() != 0 {
		errs = append(errs, fmt.Errorf("num_key_value_heads = %d does not divide num_attention_heads = %d", c.NumKVHeads, c.NumHeads))
	}
	if c.HeadSize < 0 || c.HeadSize == 0 && c.NumHeads > 0 && c.EmbedDim%c.NumHeads != 0 {
		errs = append(errs, fmt.Errorf("hidden_size = %d is not a multiple of num_attention_heads = %d and head_dim is not set", c.EmbedDim, c.NumHeads))
	}
	if hs := c.HeadDim(); hs%2 != 0 {
		errs = append(errs, fmt.Errorf("head_dim = %d, want an even number (RoPE rotates pairs)", hs))
	}
	if c.Activation != "silu" {
		errs = append(errs, fmt.Errorf("hidden_act %q is not supported (want silu)", c.Activation))
	}
	if !(c.RopeTheta > 0) {
		errs = append(errs, fmt.Errorf("rope_theta = %g, want > 0", c.RopeTheta))
	}
	errs = append(errs, c.RopeScaling.validate())
	return errors.Join(errs...)
}

// validate reports the problems of a rope_scaling.
func (r RopeScaling) validate() error {
	var errs []error
	switch r.Type {
	case "":
		return nil
	case "linear":
		if !(r.Factor >= 1) {
			errs = append(errs, fmt.Errorf("rope_scaling.factor = %g, want ≥ 1", r.Factor))
		}
	case "llama3":
		if !(r.Factor >= 1) {
			errs = append(errs, fmt.Errorf("rope_scaling.factor = %g, want ≥ 1", r.Factor))
		}
		if !(r.LowFreqFactor > 0 && r.HighFreqFactor > r.LowFreqFactor) {
			errs = append(errs, fmt.Errorf("rope_scaling low_freq_factor = %g, high_freq_factor = %g: want 0 < low < high",
				r.LowFreqFactor, r.HighFreqFactor))
		}
		if r.OriginalMaxPositions <= 0 {
			errs = append(errs, fmt.Errorf("rope_scaling.original_max_position_embeddings = %d, want > 0", r.OriginalMaxPositions))
		}
	default:
		errs = append(errs, fmt.Errorf("rope_scaling type %q is not supported (want default, linear or llama3)", r.Type))
	}
	return errors.Join(errs...)
}

// ParseConfig decodes a Hugging Face config.json. The family comes from
// architectures[0], else model_type, else it is GPT-2 (old GPT-2 configs say neither).
// Keys a config leaves out take the family's Hugging Face defaults, unknown keys are
// ignored (HF adds many that do not change the network), and a key that would change the
// network in a way this package does not implement is an error naming it. The result is
// validated.
func ParseConfig(data []byte) (Config, error) {
	var head struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return Config{}, err
	}
	arch := Arch(head.ModelType)
	if len(head.Architectures) > 0 {
		a, ok := architectures[head.Architectures[0]]
		if !ok {
			return Config{}, fmt.Errorf("architecture %q is not supported (want GPT2LMHeadModel, LlamaForCausalLM or Qwen2ForCausalLM)",
				head.Architectures[0])
		}
		arch = a
	}
	switch arch {
	case "", GPT2:
		return parseGPT2(data)
	case Llama, Qwen2:
		return parseLlama(data, arch)
	}
	return Config{}, fmt.Errorf("model_type %q is not supported (want gpt2, llama or qwen2)", head.ModelType)
}

// LoadConfig reads and parses a config.json file (see ParseConfig).
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// eosIDs is an eos_token_id: an int or a list of ints; null leaves it as it was, as
// encoding/json does for an int.
type eosIDs []int

func (e *eosIDs) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*e = eosIDs{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("eos_token_id: want an integer or a list of integers")
	}
	*e = many
	return nil
}

// setEOS sets EOSTokenID and EOSTokenIDs from the eos_token_id of config.json.
func (c *Config) setEOS(ids eosIDs) {
	c.EOSTokenIDs = nil
	if len(ids) > 1 {
		c.EOSTokenIDs = slices.Clone(ids)
	}
	if len(ids) > 0 {
		c.EOSTokenID = ids[0]
	}
}

// MarshalJSON writes the configuration as the config.json of its family, as
// save_pretrained writes it (a GPT2LMHeadModel, LlamaForCausalLM or Qwen2ForCausalLM).
func (c Config) MarshalJSON() ([]byte, error) {
	if c.IsLlama() {
		return marshalLlama(c)
	}
	return marshalGPT2(c)
}
