package transformer

import (
	"fmt"
	"math/rand/v2"
)

// The Llama family (Hugging Face's modeling_llama.py and modeling_qwen2.py): RoPE instead
// of a position embedding, RMSNorm, separate q/k/v/o projections with grouped-query
// attention, and a SwiGLU MLP; Qwen2 adds biases to q, k and v.

// llamaKinds are the projections of a Llama-family block, in checkpoint order.
var llamaKinds = []ProjKind{SelfAttnQProj, SelfAttnKProj, SelfAttnVProj, SelfAttnOProj, MLPGateProj, MLPUpProj, MLPDownProj}

// llamaBlockForward runs x (N, C) through blk, block layer of a Llama-family model:
//
//	h = input_layernorm(x);          x = x + o_proj(attn(rope(q_proj(h)), rope(k_proj(h)), v_proj(h)))
//	h = post_attention_layernorm(x); x = x + down_proj(silu(gate_proj(h)) · up_proj(h))
func llamaBlockForward[V any](p blockPass[V], layer int, blk *Block, x V) V {
	h := p.share(p.norm(blk.LN1, x), 3)      // (N, C), read by q, k and v
	q := p.project(blk, SelfAttnQProj, h[0]) // (N, NH·hs)
	k := p.project(blk, SelfAttnKProj, h[1]) // (N, KVH·hs)
	v := p.project(blk, SelfAttnVProj, h[2]) // (N, KVH·hs)
	x = p.residual(x, p.project(blk, SelfAttnOProj, p.ropeAttention(layer, blk.Attn, q, k, v)))
	h = p.share(p.norm(blk.LN2, x), 2)                                             // read by gate and up
	gate, up := p.project(blk, MLPGateProj, h[0]), p.project(blk, MLPUpProj, h[1]) // (N, Inner) ×2
	return p.residual(x, p.project(blk, MLPDownProj, p.swiglu(gate, up)))
}

// newLlama returns a Llama-family model of cfg (valid) with zero weights, norm weights 1.
func newLlama(cfg Config) *Model {
	C, I, eps := cfg.EmbedDim, cfg.InnerDim, float32(cfg.LayerNormEps)
	qd, kd := cfg.QDim(), cfg.KVDim()
	m := &Model{Config: cfg, WTE: NewParam(cfg.VocabSize, C), LNF: NewRMSNorm(C, eps), invFreq: cfg.ropeInvFreq()}
	if cfg.UntiedLMHead {
		m.LMHead = NewParam(cfg.VocabSize, C)
	}
	for range cfg.NumLayers {
		m.Blocks = append(m.Blocks, &Block{
			LN1: NewRMSNorm(C, eps),
			Attn: &Attention{
				Q: NewDense(C, qd, cfg.QKVBias), K: NewDense(C, kd, cfg.QKVBias), V: NewDense(C, kd, cfg.QKVBias),
				O: NewDense(qd, C, cfg.OBias), NumHeads: cfg.NumHeads, NumKVHeads: cfg.KVHeads(),
			},
			LN2: NewRMSNorm(C, eps),
			MLP: &MLP{Gate: NewDense(C, I, cfg.MLPBias), Up: NewDense(C, I, cfg.MLPBias), Down: NewDense(I, C, cfg.MLPBias)},
		})
	}
	return m
}

// initLlama draws the weights as Hugging Face's LlamaPreTrainedModel._init_weights does:
// every projection and embedding ~ N(0, 0.02) (initializer_range), biases 0, norm
// weights 1.
func (m *Model) initLlama(rng *rand.Rand) {
	for _, p := range m.Params() {
		if p.Param.Shape()[1] == 1 { // biases and norms
			continue
		}
		_ = fill(p.Param, func(d []float32) error {
			for i := range d {
				d[i] = float32(rng.NormFloat64() * 0.02)
			}
			return nil
		})
	}
}

// llamaParams returns a Llama-family model's parameters with their Hugging Face names
// without "model.", in checkpoint order: embed_tokens, each block's input_layernorm,
// self_attn.{q,k,v,o}_proj, post_attention_layernorm, mlp.{gate,up,down}_proj (weight,
// then bias where the family has one), norm, and lm_head when untied.
func (m *Model) llamaParams() []NamedParam {
	ps := []NamedParam{{"embed_tokens.weight", m.WTE}}
	for i, b := range m.Blocks {
		ps = append(ps, b.LN1.normParams(fmt.Sprintf("layers.%d.input_layernorm", i))...)
		for _, k := range llamaKinds[:4] {
			p := Proj{i, k}
			ps = append(ps, projParams(p, m.Linear(p))...)
		}
		ps = append(ps, b.LN2.normParams(fmt.Sprintf("layers.%d.post_attention_layernorm", i))...)
		for _, k := range llamaKinds[4:] {
			p := Proj{i, k}
			ps = append(ps, projParams(p, m.Linear(p))...)
		}
	}
	ps = append(ps, m.LNF.normParams("norm")...)
	if m.LMHead != nil {
		ps = append(ps, NamedParam{"lm_head.weight", m.LMHead})
	}
	return ps
}

// projParams returns the parameters of the projection l at p, unwrapped to its base:
// weight, then bias when it has one.
func projParams(p Proj, l Linear) []NamedParam {
	switch b := Base(l).(type) {
	case *Conv1D:
		return []NamedParam{{p.String() + ".weight", b.Weight}, {p.String() + ".bias", b.Bias}}
	case *Dense:
		ps := []NamedParam{{p.String() + ".weight", b.Weight}}
		if b.Bias != nil {
			ps = append(ps, NamedParam{p.String() + ".bias", b.Bias})
		}
		return ps
	}
	return nil
}
