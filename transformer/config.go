package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Config mirrors the fields of a Hugging Face GPT-2 config.json that change the network.
// DefaultConfig returns GPT-2 small (124M); the JSON names are HF's.
type Config struct {
	NumLayers    int     `json:"n_layer"`            // transformer blocks
	NumHeads     int     `json:"n_head"`             // attention heads per block; must divide EmbedDim
	EmbedDim     int     `json:"n_embd"`             // C, the width of the residual stream
	MaxPositions int     `json:"n_positions"`        // rows of the position embedding: the longest sequence
	VocabSize    int     `json:"vocab_size"`         // V, rows of the token embedding and of the logits
	LayerNormEps float64 `json:"layer_norm_epsilon"` // added to the variance inside the square root
	// Activation is the MLP's activation; GPT-2's is "gelu_new", GELU's tanh approximation
	// ("gelu_pytorch_tanh" and "gelu_fast" name the same function and are accepted).
	Activation string `json:"activation_function"`
	// InnerDim is the MLP's hidden width; 0 (JSON null, HF's default) means 4·EmbedDim.
	InnerDim int `json:"-"`
	// BOSTokenID and EOSTokenID are recorded as config.json has them; the tokenizer, not
	// the network, decides what ends an example, so they are not checked against VocabSize.
	BOSTokenID int `json:"bos_token_id"`
	EOSTokenID int `json:"eos_token_id"`
	// UntiedLMHead is true when config.json says "tie_word_embeddings": false: the LM head
	// then has its own lm_head.weight instead of reusing wte.
	UntiedLMHead bool `json:"-"`
}

// DefaultConfig returns the configuration of the original GPT-2 small, which is also what
// Hugging Face assumes for any key a config.json leaves out.
func DefaultConfig() Config {
	return Config{
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

// Inner returns the MLP's hidden width: InnerDim, or 4·EmbedDim when it is 0.
func (c Config) Inner() int {
	if c.InnerDim > 0 {
		return c.InnerDim
	}
	return 4 * c.EmbedDim
}

// HeadDim returns the width of one attention head, EmbedDim / NumHeads.
func (c Config) HeadDim() int { return c.EmbedDim / c.NumHeads }

// Validate reports every problem of the configuration at once, joined, or nil.
func (c Config) Validate() error {
	var errs []error
	positive := func(name string, v int) {
		if v <= 0 {
			errs = append(errs, fmt.Errorf("%s = %d, want > 0", name, v))
		}
	}
	positive("n_layer", c.NumLayers)
	positive("n_head", c.NumHeads)
	positive("n_embd", c.EmbedDim)
	positive("n_positions", c.MaxPositions)
	positive("vocab_size", c.VocabSize)
	if c.NumHeads > 0 && c.EmbedDim > 0 && c.EmbedDim%c.NumHeads != 0 {
		errs = append(errs, fmt.Errorf("n_embd = %d is not a multiple of n_head = %d", c.EmbedDim, c.NumHeads))
	}
	if c.InnerDim < 0 {
		errs = append(errs, fmt.Errorf("n_inner = %d, want > 0 or null", c.InnerDim))
	}
	if !(c.LayerNormEps > 0) {
		errs = append(errs, fmt.Errorf("layer_norm_epsilon = %g, want > 0", c.LayerNormEps))
	}
	switch c.Activation {
	case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
	default:
		errs = append(errs, fmt.Errorf("activation_function %q is not supported (want gelu_new)", c.Activation))
	}
	return errors.Join(errs...)
}

// hfConfig is config.json as Hugging Face writes it: Config's fields plus the keys whose
// non-default values this implementation does not support and must refuse.
type hfConfig struct {
	Config
	ModelType                  string   `json:"model_type,omitempty"`
	Architectures              []string `json:"architectures,omitempty"`
	NInner                     *int     `json:"n_inner"`
	TieWordEmbeddings          *bool    `json:"tie_word_embeddings,omitempty"`
	ScaleAttnWeights           *bool    `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayerIdx *bool    `json:"scale_attn_by_inverse_layer_idx,omitempty"`
	AddCrossAttention          *bool    `json:"add_cross_attention,omitempty"`
}

// ParseConfig decodes a Hugging Face GPT-2 config.json. Keys it leaves out take GPT-2's
// defaults, unknown keys are ignored (HF adds many that do not change the network), and a
// key that would change the network in a way this package does not implement is an error.
// The result is validated.
func ParseConfig(data []byte) (Config, error) {
	hc := hfConfig{Config: DefaultConfig()}
	if err := json.Unmarshal(data, &hc); err != nil {
		return Config{}, err
	}
	c := hc.Config
	var errs []error
	if hc.ModelType != "" && hc.ModelType != "gpt2" {
		errs = append(errs, fmt.Errorf("model_type %q is not supported (want gpt2)", hc.ModelType))
	}
	if hc.NInner != nil {
		c.InnerDim = *hc.NInner
	}
	if hc.TieWordEmbeddings != nil {
		c.UntiedLMHead = !*hc.TieWordEmbeddings
	}
	if hc.ScaleAttnWeights != nil && !*hc.ScaleAttnWeights {
		errs = append(errs, errors.New("scale_attn_weights = false is not supported"))
	}
	if hc.ScaleAttnByInverseLayerIdx != nil && *hc.ScaleAttnByInverseLayerIdx {
		errs = append(errs, errors.New("scale_attn_by_inverse_layer_idx = true is not supported"))
	}
	if hc.AddCrossAttention != nil && *hc.AddCrossAttention {
		errs = append(errs, errors.New("add_cross_attention = true is not supported"))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
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

// MarshalJSON writes the configuration as a Hugging Face GPT2LMHeadModel config.json.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // without this method
	var inner *int
	if c.InnerDim > 0 {
		inner = &c.InnerDim
	}
	tie := !c.UntiedLMHead
	return json.Marshal(struct {
		plain
		ModelType         string   `json:"model_type"`
		Architectures     []string `json:"architectures"`
		NInner            *int     `json:"n_inner"`
		NCtx              int      `json:"n_ctx"`
		TieWordEmbeddings bool     `json:"tie_word_embeddings"`
	}{plain(c), "gpt2", []string{"GPT2LMHeadModel"}, inner, c.MaxPositions, tie})
}
