package transformer

import (
	"encoding/json"
	"errors"
)

// gpt2JSON is a GPT2LMHeadModel config.json, in the order save_pretrained writes the keys
// this package reads, plus the keys whose non-default values it must refuse.
type gpt2JSON struct {
	NumLayers    int     `json:"n_layer"`
	NumHeads     int     `json:"n_head"`
	EmbedDim     int     `json:"n_embd"`
	MaxPositions int     `json:"n_positions"`
	VocabSize    int     `json:"vocab_size"`
	LayerNormEps float64 `json:"layer_norm_epsilon"`
	Activation   string  `json:"activation_function"`
	BOSTokenID   int     `json:"bos_token_id"`
	EOSTokenID   eosIDs  `json:"eos_token_id"`

	NInner                     *int  `json:"n_inner"`
	TieWordEmbeddings          *bool `json:"tie_word_embeddings,omitempty"`
	ScaleAttnWeights           *bool `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayerIdx *bool `json:"scale_attn_by_inverse_layer_idx,omitempty"`
	AddCrossAttention          *bool `json:"add_cross_attention,omitempty"`
}

// parseGPT2 decodes a GPT-2 config.json over DefaultConfig.
func parseGPT2(data []byte) (Config, error) {
	d := DefaultConfig()
	j := gpt2JSON{NumLayers: d.NumLayers, NumHeads: d.NumHeads, EmbedDim: d.EmbedDim, MaxPositions: d.MaxPositions,
		VocabSize: d.VocabSize, LayerNormEps: d.LayerNormEps, Activation: d.Activation, BOSTokenID: d.BOSTokenID,
		EOSTokenID: eosIDs{d.EOSTokenID}}
	if err := json.Unmarshal(data, &j); err != nil {
		return Config{}, err
	}
	c := Config{Arch: GPT2, NumLayers: j.NumLayers, NumHeads: j.NumHeads, EmbedDim: j.EmbedDim,
		MaxPositions: j.MaxPositions, VocabSize: j.VocabSize, LayerNormEps: j.LayerNormEps,
		Activation: j.Activation, BOSTokenID: j.BOSTokenID}
	c.setEOS(j.EOSTokenID)
	var errs []error
	if j.NInner != nil {
		c.InnerDim = *j.NInner
	}
	if j.TieWordEmbeddings != nil {
		c.UntiedLMHead = !*j.TieWordEmbeddings
	}
	if j.ScaleAttnWeights != nil && !*j.ScaleAttnWeights {
		errs = append(errs, errors.New("scale_attn_weights = false is not supported"))
	}
	if j.ScaleAttnByInverseLayerIdx != nil && *j.ScaleAttnByInverseLayerIdx {
		errs = append(errs, errors.New("scale_attn_by_inverse_layer_idx = true is not supported"))
	}
	if j.AddCrossAttention != nil && *j.AddCrossAttention {
		errs = append(errs, errors.New("add_cross_attention = true is not supported"))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// marshalGPT2 writes c as a GPT2LMHeadModel config.json.
func marshalGPT2(c Config) ([]byte, error) {
	var inner *int
	if c.InnerDim > 0 {
		inner = &c.InnerDim
	}
	return json.Marshal(struct {
		NumLayers         int      `json:"n_layer"`
		NumHeads          int      `json:"n_head"`
		EmbedDim          int      `json:"n_embd"`
		MaxPositions      int      `json:"n_positions"`
		VocabSize         int      `json:"vocab_size"`
		LayerNormEps      float64  `json:"layer_norm_epsilon"`
		Activation        string   `json:"activation_function"`
		BOSTokenID        int      `json:"bos_token_id"`
		EOSTokenID        any      `json:"eos_token_id"`
		ModelType         string   `json:"model_type"`
		Architectures     []string `json:"architectures"`
		NInner            *int     `json:"n_inner"`
		NCtx              int      `json:"n_ctx"`
		TieWordEmbeddings bool     `json:"tie_word_embeddings"`
	}{c.NumLayers, c.NumHeads, c.EmbedDim, c.MaxPositions, c.VocabSize, c.LayerNormEps, c.Activation,
		c.BOSTokenID, c.eosJSON(), "gpt2", []string{"GPT2LMHeadModel"}, inner, c.MaxPositions, !c.UntiedLMHead})
}

// eosJSON is eos_token_id as config.json had it: the list, or the one id.
func (c Config) eosJSON() any {
	if len(c.EOSTokenIDs) > 1 {
		return c.EOSTokenIDs
	}
	return c.EOSTokenID
}
