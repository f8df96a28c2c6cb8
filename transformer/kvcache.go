package transformer

import (
	"errors"
	"fmt"

	"github.com/llmtune/llmtune/transformer/kernels"
)

// ErrContextLength is returned (wrapped) when a sequence would outgrow the room it has:
// more positions than the model's n_positions, or than a KVCache holds.
var ErrContextLength = errors.New("transformer: sequence longer than the context")

// KVCache holds, for every block of a model, the keys and values its attention computed
// for the positions fed so far, so that each new token costs the work of one position
// instead of a forward pass over the whole sequence. A cache belongs to one sequence of
// one model at a time: Model.NextLogits appends to it, Reset empties it for reuse. It
// stays valid only while the model's weights stay as they were (apply, merge or train an
// adapter and the cached keys and values are stale: Reset). A KVCache is not safe for
// concurrent use; separate caches may feed one model from several goroutines as long as
// its weights do not change.
type KVCache struct {
	// k and v hold, per block, the keys (values) head by head, (KVH, Cap, hs): key/value
	// head h's key of position t at (h·Cap + t)·hs, so that attending from one query
	// head reads one run of memory (kernels.CachedAttentionForwardHeads).
	k, v   [][]float32
	layers int
	kvDim  int // KVH·hs: C for GPT-2; less with grouped-query attention
	heads  int // KVH
	hs     int
	n      int // positions filled
	cap    int
	s      scratch
	pass   decodePass // NextLogits' pass through the blocks, kept here to need no allocation
}

// NewKVCache returns an empty cache for a model of configuration cfg with room for
// capacity positions (prompt and generated tokens together). Its 2·NumLayers·capacity·KVDim
// floats are allocated at once: with grouped-query attention only the key/value heads are
// kept. It is an error if capacity is not in [1, n_positions].
func NewKVCache(cfg Config, capacity int) (*KVCache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kv cache: %w", err)
	}
	if capacity < 1 {
		return nil, fmt.Errorf("kv cache: capacity %d, want ≥ 1", capacity)
	}
	if capacity > cfg.MaxPositions {
		return nil, fmt.Errorf("kv cache: capacity %d exceeds n_positions %d: %w", capacity, cfg.MaxPositions, ErrContextLength)
	}
	C := cfg.KVDim()
	c := &KVCache{layers: cfg.NumLayers, kvDim: C, heads: cfg.KVHeads(), hs: cfg.HeadDim(), cap: capacity}
	buf := make([]float32, 2*cfg.NumLayers*capacity*C)
	for l := range cfg.NumLayers {
		kv := buf[2*l*capacity*C:]
		c.k = append(c.k, kv[:capacity*C:capacity*C])
		c.v = append(c.v, kv[capacity*C:2*capacity*C:2*capacity*C])
	}
	return c, nil
}

// Len returns the number of positions cached: the length of the sequence fed so far.
func (c *KVCache) Len() int { return c.n }

// Cap returns the number of positions the cache has room for.
func (c *KVCache) Cap() int { return c.cap }

// Reset empties the cache, keeping its memory, for a new sequence.
func (c *KVCache) Reset() { c.n = 0 }

// scratch is the working memory of NextLogits, grown on demand and reused.
type scratch struct {
	x, h, y, act, qkv, logits, mean, rstd []float32
	pos                                   []int
	proj                                  [numProjKinds][]float32 // each kind's output
}

// grow returns (*b)[:n], reallocating *b when it is too short.
func grow(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// NextLogits feeds ids to the model as the next positions of the cached sequence,
// Len() … Len()+len(ids)−1, appends their keys and values to the cache, and returns the
// logits (V) of the token that follows the last of them. The first call, on an empty
// cache, is the prefill of a whole prompt in one pass; each later call typically feeds
// the one token just chosen. The logits are the cache's memory: they are valid until the
// next call with the same cache.
//
// The projections run through the Linear seam, so an applied LoRA adapter takes part
// (put it in evaluation mode first: dropout in training mode would apply). Plain Conv1D
// projections of a single row use kernels.VecMat; no autograd graph is kept. It is an
// error if ids is empty or holds an id outside the vocabulary, if the cache does not
// have room for them (wrapping ErrContextLength), or if it was made for another shape of
// model; the cache is then unchanged.
func (m *Model) NextLogits(cache *KVCache, ids []int) ([]float32, error) {
	cfg := m.Config
	switch {
	case len(ids) == 0:
		return nil, errors.New("next logits: no ids")
	case cache.layers != cfg.NumLayers || cache.kvDim != cfg.KVDim():
		return nil, fmt.Errorf("next logits: kv cache is for %d layers of width %d, model has %d of %d",
			cache.layers, cache.kvDim, cfg.NumLayers, cfg.KVDim())
	case cache.n+len(ids) > cache.cap:
		return nil, fmt.Errorf("next logits: kv cache holds %d of %d positions, %d more do not fit: %w",
			cache.n, cache.cap, len(ids), ErrContextLength)
	}
	for i, id := range ids {
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("next logits: ids[%d] = %d is outside [0, %d)", i, id, cfg.VocabSize)
		}
	}
	T, P, C, V := len(ids), cache.n, cfg.EmbedDim, cfg.VocabSize
	s := &cache.s
	x := grow(&s.x, T*C) // (T, C), the residual stream
	embedRows(x, m.WTE, ids, C)
	cache.pass = decodePass{c: cache, m: m, T: T, P: P, C: C}
	if cfg.IsLlama() {
		for l, blk := range m.Blocks {
			x = llamaBlockForward(&cache.pass, l, blk, x)
		}
	} else {
		wpe := Floats(m.WPE)
		for t := range ids {
			kernels.AddTo(x[t*C:(t+1)*C], wpe[(P+t)*C:(P+t+1)*C], C)
		}
		for l, blk := range m.Blocks {
			x = blockForward(&cache.pass, l, blk, x)
		}
	}
	h := s.norm(m.LNF, x[(T-1)*C:], 1, C) // the last position only
	logits := grow(&s.logits, V)
	lmHeadVec(logits, m.lmHead(), h, V, C)
	cache.n += T
	return logits, nil
}

// norm applies n to the N rows of x (N, C) into the scratch buffer h.
func (s *scratch) norm(n Norm, x []float32, N, C int) []float32 {
	h := grow(&s.h, N*C)
	switch n := n.(type) {
	case *LayerNorm:
		kernels.LayerNormForward(h, grow(&s.mean, N), grow(&s.rstd, N), x, Floats(n.Weight), Floats(n.Bias), N, C, n.Eps)
	case *RMSNorm:
		kernels.RMSNormForward(h, grow(&s.rstd, N), x, Floats(n.Weight), N, C, n.Eps)
	default:
		panic(fmt.Sprintf("transformer: no decode path for norm %T", n))
	}
	return h
}

// decodePass runs T new positions, P … P+T−1, through the blocks on plain float32 rows
// (T, ·) in the cache's scratch memory, appending their keys and values to the cache; it
// keeps no graph, and the residual stream and GELU are updated in place.
type decodePass struct {
	c       *KVCache
	m       *Model
	T, P, C int
}

func (d *decodePass) norm(n Norm, x []float32) []float32 {
	return d.c.s.norm(n, x, d.T, d.C)
}

// project computes a plain Conv1D or Dense into the scratch buffer of its kind; any other
// Linear (a LoRA layer) runs its Forward, and the result is that node's value.
func (d *decodePass) project(blk *Block, k ProjKind, x []float32) []float32 {
	l := *blk.slot(k)
	switch p := l.(type) {
	case *Conv1D:
		y := grow(&d.c.s.proj[k], d.T*p.OutDim())
		conv1DWith(y, x, p.Weight, Floats(p.Bias), d.T, p.InDim(), p.OutDim())
		return y
	case *Dense:
		y := grow(&d.c.s.proj[k], d.T*p.OutDim())
		var b []float32
		if p.Bias != nil {
			b = Floats(p.Bias)
		}
		denseWith(y, x, p.Weight, b, d.T, p.InDim(), p.OutDim())
		return y
	}
	return Floats(l.Forward(fromData(x, d.T, l.InDim())))
}

// store appends the keys k and values v (T rows of KVH·hs, row t's stride ld) of the new
// positions P … P+T−1 to block layer's cache, head by head.
func (c *KVCache) store(layer int, k, v []float32, ld, T, P int) {
	hs := c.hs
	kc, vc := c.k[layer], c.v[layer]
	for t := range T {
		for h := range c.heads {
			at := (h*c.cap + P + t) * hs
			copy(kc[at:at+hs], k[t*ld+h*hs:])
			copy(vc[at:at+hs], v[t*ld+h*hs:])
		}
	}
}

// attention appends the new keys and values of block layer to the cache, then attends
// from the new queries to every cached position up to each one's own.
func (d *decodePass) attention(layer int, a *Attention, qkv []float32) []float32 {
	T, P, C := d.T, d.P, d.C
	d.c.store(layer, qkv[C:], qkv[2*C:], 3*C, T, P) // GPT-2's qkv rows: [q | k | v]
	y := grow(&d.c.s.y, T*C)
	kernels.CachedAttentionForwardHeads(y, qkv, d.c.k[layer], d.c.v[layer], T, P, a.NumHeads, a.NumHeads, d.c.hs, d.c.cap)
	return y
}

func (d *decodePass) gelu(x []float32) []float32 {
	kernels.GeluForwardParallel(x, x, len(x))
	return x
}

func (d *decodePass) residual(x, y []float32) []float32 {
	kernels.AddTo(x, y, len(x))
	return x
}

// ropeAttention rotates the new queries and keys by their positions P … P+T−1, appends
// the keys and values of block layer to the cache, then attends from the new queries to
// every cached position up to each one's own, query head h with key/value head
// h/(NH/KVH).
func (d *decodePass) ropeAttention(layer int, a *Attention, q, k, v []float32) []float32 {
	T, P := d.T, d.P
	cfg := d.m.Config
	hs, NH, KVH := cfg.HeadDim(), a.NumHeads, a.NumKVHeads
	qd, kd := NH*hs, KVH*hs
	pos := d.c.s.pos[:0]
	for t := range T {
		pos = append(pos, P+t)
	}
	d.c.s.pos = pos
	kernels.RoPEForward(q, pos, d.m.invFreq, T, NH, hs)
	kernels.RoPEForward(k, pos, d.m.invFreq, T, KVH, hs)
	d.c.store(layer, k, v, kd, T, P)
	w := qd + 2*kd
	qkv := grow(&d.c.s.qkv, T*w)
	for t := range T {
		copy(qkv[t*w:], q[t*qd:(t+1)*qd])
		copy(qkv[t*w+qd:], k[t*kd:(t+1)*kd])
		copy(qkv[t*w+qd+kd:], v[t*kd:(t+1)*kd])
	}
	y := grow(&d.c.s.y, T*qd)
	kernels.CachedAttentionForwardHeads(y, qkv, d.c.k[layer], d.c.v[layer], T, P, NH, KVH, hs, d.c.cap)
	return y
}

func (d *decodePass) swiglu(gate, up []float32) []float32 {
	y := grow(&d.c.s.act, len(gate))
	kernels.SwiGLUForward(y, gate, up, len(gate))
	return y
}

// share returns x n times: decoding keeps no graph, and the readers do not write to it.
func (d *decodePass) share(x []float32, n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = x
	}
	return out
}
