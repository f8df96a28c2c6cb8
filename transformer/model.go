package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"
)

// IgnoreIndex is the target that marks a position excluded from the loss (PyTorch's
// default ignore_index).
const IgnoreIndex = -100

// Model is a decoder-only language model of one of the supported families (Config.Arch):
// a token embedding (plus GPT-2's position embedding), NumLayers pre-norm blocks, a final
// norm and an LM head, tied to the token embedding unless Config.UntiedLMHead. GPT-2's
// blocks are in this file; the Llama family's in llama.go. There is no dropout in the
// base model.
type Model struct {
	nn.Module
	Config Config
	WTE    *nn.Param // (V, C) token embedding (wte, embed_tokens), also the LM head when tied
	WPE    *nn.Param // (P, C) GPT-2's position embedding; nil for the Llama family (RoPE)
	Blocks []*Block
	LNF    Norm      // the final norm (ln_f, norm)
	LMHead *nn.Param // (V, C) when Config.UntiedLMHead, else nil

	invFreq []float32 // (HeadDim/2) RoPE's inverse frequencies, for the Llama family
	arena   *Arena    // lends the buffers of Forward and Loss, or nil (see SetArena)
}

// Block is one transformer block: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)), with the
// norms and projections of the model's family; the fields of the other family are nil.
type Block struct {
	nn.Module
	LN1  Norm // ln_1 (LayerNorm), input_layernorm (RMSNorm)
	Attn *Attention
	LN2  Norm // ln_2 (LayerNorm), post_attention_layernorm (RMSNorm)
	MLP  *MLP
}

// Attention is causal multi-head self-attention. GPT-2: CAttn (C → 3C) yields [q | k | v]
// with the heads as contiguous column blocks; CProj (C → C) mixes the concatenated heads.
// Llama family: Q (C → NH·hs), K and V (C → KVH·hs) and O (NH·hs → C), with grouped-query
// attention when NumKVHeads < NumHeads.
type Attention struct {
	nn.Module
	CAttn, CProj Linear // GPT-2
	Q, K, V, O   Linear // Llama family
	NumHeads     int
	NumKVHeads   int
}

// MLP is GPT-2's c_proj(gelu_tanh(c_fc(x))), C → Inner → C, or the Llama family's
// down(silu(gate(x)) · up(x)).
type MLP struct {
	nn.Module
	CFc, CProj     Linear // GPT-2
	Gate, Up, Down Linear // Llama family
}

// New returns a model of the given configuration with GPT-2's initialisation (as HF's
// GPT2PreTrainedModel._init_weights): every weight matrix and embedding ~ N(0, 0.02),
// except the residual projections (attn.c_proj, mlp.c_proj) ~ N(0, 0.02/√(2·n_layer));
// biases 0; LayerNorm weights 1. All parameters are trainable. A nil rng leaves every
// weight 0 (LayerNorm weights 1), for callers that fill the weights themselves.
func New(cfg Config, rng *rand.Rand) (*Model, error) { return NewAs(cfg, rng, WeightF32) }

// NewAs is New with the projection weights stored in dt (WeightBF16: drawn in float32 a
// tensor at a time, then rounded), so that a bfloat16 model is never held in float32.
func NewAs(cfg Config, rng *rand.Rand, dt WeightDType) (*Model, error) {
	if err := dt.CheckSupported(); err != nil {
		return nil, err
	}
	m, err := newZero(cfg)
	if err != nil {
		return m, err
	}
	m.zeroAs(dt)
	if rng == nil {
		return m, nil
	}
	if cfg.IsLlama() {
		m.initLlama(rng)
		return m, nil
	}
	residStd := 0.02 / math.Sqrt(2*float64(cfg.NumLayers))
	for _, p := range m.Params() {
		std := 0.02
		switch {
		case p.Param.Dims() == 2 && p.Param.Shape()[1] == 1: // biases and LayerNorm
			continue
		case strings.HasSuffix(p.Name, "c_proj.weight"): // attn.c_proj and mlp.c_proj
			std = residStd
		}
		_ = fill(p.Param, func(d []float32) error {
			for i := range d {
				d[i] = float32(rng.NormFloat64() * std)
			}
			return nil
		})
	}
	return m, nil
}

// newZero returns a model with zero weights, norm weights 1.
func newZero(cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transformer config: %w", err)
	}
	if cfg.IsLlama() {
		return newLlama(cfg), nil
	}
	C, eps := cfg.EmbedDim, float32(cfg.LayerNormEps)
	m := &Model{
		Config: cfg,
		WTE:    NewParam(cfg.VocabSize, C),
		WPE:    NewParam(cfg.MaxPositions, C),
		LNF:    NewLayerNorm(C, eps),
	}
	if cfg.UntiedLMHead {
		m.LMHead = NewParam(cfg.VocabSize, C)
	}
	for range cfg.NumLayers {
		m.Blocks = append(m.Blocks, &Block{
			LN1:  NewLayerNorm(C, eps),
			Attn: &Attention{CAttn: NewConv1D(C, 3*C), CProj: NewConv1D(C, C), NumHeads: cfg.NumHeads},
			LN2:  NewLayerNorm(C, eps),
			MLP:  &MLP{CFc: NewConv1D(C, cfg.Inner()), CProj: NewConv1D(cfg.Inner(), C)},
		})
	}
	return m, nil
}

// NamedParam is a parameter with its Hugging Face name (without the "transformer." prefix).
type NamedParam struct {
	Name  string
	Param *nn.Param
}

// Params returns the base model's parameters with their Hugging Face names, without the
// base model's prefix ("transformer.", "model."), in checkpoint order. GPT-2: wte, wpe,
// each block's ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj (weight then
// bias), ln_f, and lm_head when untied; the Llama family: see llamaParams. Projections
// wrapped by another Linear (LoRA) contribute their base's parameters.
func (m *Model) Params() []NamedParam {
	if m.Config.IsLlama() {
		return m.llamaParams()
	}
	ps := []NamedParam{{"wte.weight", m.WTE}, {"wpe.weight", m.WPE}}
	ln := func(name string, n Norm) { ps = append(ps, n.normParams(name)...) }
	lin := func(p Proj) { ps = append(ps, projParams(p, m.Linear(p))...) }
	for i, b := range m.Blocks {
		ln(fmt.Sprintf("h.%d.ln_1", i), b.LN1)
		lin(Proj{i, AttnCAttn})
		lin(Proj{i, AttnCProj})
		ln(fmt.Sprintf("h.%d.ln_2", i), b.LN2)
		lin(Proj{i, MLPCFc})
		lin(Proj{i, MLPCProj})
	}
	ln("ln_f", m.LNF)
	if m.LMHead != nil {
		ps = append(ps, NamedParam{"lm_head.weight", m.LMHead})
	}
	return ps
}

// SetTrainable marks every base parameter trainable or frozen; projection weights
// stored in bfloat16 or 8-bit blocks (WeightBF16, WeightQ8) stay frozen.
func (m *Model) SetTrainable(on bool) {
	for _, p := range m.Params() {
		if !IsLowPrecision(p.Param) {
			p.Param.SetRequiresGrad(on)
		}
	}
}

// NumParams returns the number of base parameters (a tied LM head counted once).
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += p.Param.Size()
	}
	return n
}

// lmHead returns the (V, C) output embedding: LMHead when untied, else WTE.
func (m *Model) lmHead() *nn.Param {
	if m.LMHead != nil {
		return m.LMHead
	}
	return m.WTE
}

// SetArena makes Forward and Loss draw the buffers of the graphs they build from a (nil:
// fresh memory, the default), and EvalLoss draw its own from a's idle buffers; see
// Arena. The caller then calls ReleaseStep once it is done with each graph.
func (m *Model) SetArena(a *Arena) { m.arena = a }

// Arena returns the arena set by SetArena, or nil.
func (m *Model) Arena() *Arena { return m.arena }

// ReleaseStep gives back to the model's arena every buffer that Forward and Loss have
// drawn from it since the last release (nothing without an arena). Call it when nothing
// will read the graphs they built: after ag.Backward has returned, their values and the
// loss read. The gradients of parameters are not the arena's and stay as they are.
func (m *Model) ReleaseStep() { m.arena.Release() }

// Forward returns the graph node of the final hidden states (B·T, C), after ln_f, for a
// batch; row b·T+t belongs to token t of sequence b. With an arena (SetArena), the
// values of the graph are valid until the next ReleaseStep.
func (m *Model) Forward(b Batch) (mat.Tensor, error) {
	if err := b.validate(m.Config, false); err != nil {
		return nil, err
	}
	h := m.forward(b, m.arena)
	m.arena.pin(h) // read by the caller's nodes, which the arena knows nothing of
	return h, nil
}

// forward builds the graph of b's final hidden states with buffers from a (nil: fresh).
func (m *Model) forward(b Batch, a *Arena) mat.Tensor {
	B, T := len(b.IDs), len(b.IDs[0])
	ids, pos, seg := b.flat()
	g := &graphPass{m: m, a: a, pos: pos, seg: seg, B: B, T: T, C: m.Config.EmbedDim}
	if m.Config.IsLlama() {
		x := run(a, &tokenEmbeddingOp{wte: m.WTE, ids: ids}) // (B·T, C)
		for l, blk := range m.Blocks {
			x = llamaBlockForward(g, l, blk, x)
		}
		return g.norm(m.LNF, x)
	}
	x := run(a, &embeddingOp{wte: m.WTE, wpe: m.WPE, ids: ids, pos: pos}) // (B·T, C)
	for l, blk := range m.Blocks {
		x = blockForward(g, l, blk, x)
	}
	return g.norm(m.LNF, x)
}

// blockPass is what a pass through the blocks does at each step of a block, on values
// of type V: graphPass builds graph nodes (mat.Tensor) for Forward and Loss; decodePass
// computes float32 rows in place, with a KV cache, for NextLogits. blockForward (GPT-2)
// and llamaBlockForward are the structure of a block, written once for both.
type blockPass[V any] interface {
	norm(n Norm, x V) V
	project(blk *Block, k ProjKind, x V) V      // the block's projection of kind k
	attention(layer int, a *Attention, qkv V) V // GPT-2: causal attention over c_attn's [q | k | v]
	gelu(x V) V
	// ropeAttention is the Llama family's: causal grouped-query attention of RoPE(q)
	// over RoPE(k) and v.
	ropeAttention(layer int, a *Attention, q, k, v V) V
	swiglu(gate, up V) V // silu(gate) · up
	residual(x, y V) V   // x + y
	// share returns n handles on x for n readers (see graphPass.share).
	share(x V, n int) []V
}

// blockForward runs x (N, C) through blk, block layer of a GPT-2:
// x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)).
func blockForward[V any](p blockPass[V], layer int, blk *Block, x V) V {
	qkv := p.project(blk, AttnCAttn, p.norm(blk.LN1, x)) // (N, 3C)
	x = p.residual(x, p.project(blk, AttnCProj, p.attention(layer, blk.Attn, qkv)))
	h := p.gelu(p.project(blk, MLPCFc, p.norm(blk.LN2, x))) // (N, Inner)
	return p.residual(x, p.project(blk, MLPCProj, h))
}

// graphPass runs B sequences of T tokens through the blocks as graph nodes, one per
// sub-layer, for ag.Backward to differentiate.
type graphPass struct {
	m        *Model
	a        *Arena // the buffers of the nodes, or nil
	pos, seg []int  // (B·T) positions, and segment ids or nil
	B, T, C  int
}

func (g *graphPass) norm(n Norm, x mat.Tensor) mat.Tensor { return n.forwardIn(x, g.a) }

func (g *graphPass) project(blk *Block, k ProjKind, x mat.Tensor) mat.Tensor {
	return ForwardIn(*blk.slot(k), x, g.a)
}

func (g *graphPass) attention(_ int, a *Attention, qkv mat.Tensor) mat.Tensor {
	return run(g.a, &attentionOp{qkv: qkv, seg: g.seg, B: g.B, T: g.T, C: g.C, NH: a.NumHeads})
}

func (g *graphPass) gelu(x mat.Tensor) mat.Tensor { return run(g.a, &geluOp{x: x}) }

func (g *graphPass) residual(x, y mat.Tensor) mat.Tensor {
	return run(g.a, &addOp{a: x, b: y})
}

func (g *graphPass) ropeAttention(_ int, a *Attention, q, k, v mat.Tensor) mat.Tensor {
	return run(g.a, &ropeAttentionOp{q: q, k: k, v: v, pos: g.pos, seg: g.seg, invFreq: g.m.invFreq,
		B: g.B, T: g.T, NH: a.NumHeads, KVH: a.NumKVHeads, hs: g.m.Config.HeadDim()})
}

func (g *graphPass) swiglu(gate, up mat.Tensor) mat.Tensor {
	return run(g.a, &swigluOp{gate: gate, up: up})
}

// share returns n handles on x such that no node has more than two readers: x itself for
// one, else a copy node and the handles of a second copy node. ag.Backward adds the
// gradients of a node's readers in the order their backward steps finish, which varies
// from run to run; a sum of two is the same in either order, a sum of three is not, so a
// node read by q, k and v (and each LoRA layer reads its input twice) would make training
// depend on scheduling, and resume inexact.
func (g *graphPass) share(x mat.Tensor, n int) []mat.Tensor {
	if n <= 1 {
		return []mat.Tensor{x}
	}
	a, b := run(g.a, &copyOp{x: x}), run(g.a, &copyOp{x: x})
	return append([]mat.Tensor{a}, g.share(b, n-1)...)
}

// Loss returns the graph node of the mean cross-entropy of the batch's next-token
// predictions: Σ CE(logits_i, Targets_i) / n over the n positions whose target is not
// IgnoreIndex. ag.Backward on it gives every trainable parameter its gradient. It is an
// error if the batch is malformed or no position counts.
func (m *Model) Loss(b Batch) (mat.Tensor, error) {
	return m.loss(b, true, m.arena)
}

// EvalLoss returns the summed cross-entropy and the number of positions counted, without
// building gradients: for evaluation and perplexity. With an arena (SetArena) it borrows
// the arena's idle buffers and gives them back before it returns.
func (m *Model) EvalLoss(b Batch) (sum float64, n int, err error) {
	a := m.arena.scope()
	defer a.Release()
	l, err := m.loss(b, false, a)
	if err != nil {
		return 0, 0, err
	}
	n = b.countTargets()
	return float64(mat.Data[float32](l.Value())[0]) * float64(n), n, nil
}

func (m *Model) loss(b Batch, grads bool, a *Arena) (mat.Tensor, error) {
	if err := b.validate(m.Config, true); err != nil {
		return nil, err
	}
	n := b.countTargets()
	if n == 0 {
		return nil, ErrNoTargets
	}
	var targets []int
	for _, row := range b.Targets {
		targets = append(targets, row...)
	}
	h := m.forward(b, a)
	return run(a, &lossOp{h: h, w: m.lmHead(), targets: targets, count: n, grads: grads}), nil
}

// Logits returns the next-token logits, one row of V per position, for a single
// sequence. It panics if ids is empty, longer than MaxPositions or holds an id outside
// the vocabulary; use Forward for an error instead.
func (m *Model) Logits(ids []int) [][]float32 {
	b := Batch{IDs: [][]int{ids}}
	if err := b.validate(m.Config, false); err != nil {
		panic(fmt.Sprintf("transformer: Logits: %v", err))
	}
	h := m.forward(b, nil) // never the arena's: nothing releases it
	T, C, V := len(ids), m.Config.EmbedDim, m.Config.VocabSize
	flat := make([]float32, T*V)
	sgemmWeight(true, T, V, C, Floats(h), C, m.lmHead(), C, flat, V) // h · wᵀ
	out := make([][]float32, T)
	for t := range out {
		out[t] = flat[t*V : (t+1)*V : (t+1)*V]
	}
	return out
}
