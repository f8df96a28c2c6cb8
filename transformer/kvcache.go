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
	k, v   [][]float32 // per block, (Cap, C): row t is position t's key (value), heads side by side
	layers int
	C      int
	n      int // positions filled
	cap    int
	s      scratch
	pass   decodePass // NextLogits' pass through the blocks, kept here to need no allocation
}

// NewKVCache returns an empty cache for a model of configuration cfg with room for
// capacity positions (prompt and generated tokens together). Its 2·NumLayers·capacity·C
// floats are allocated at once. It is an error if capacity is not in [1, n_positions].
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
	C := cfg.EmbedDim
	c := &KVCache{layers: cfg.NumLayers, C: C, cap: capacity}
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
	x, h, y, logits, mean, rstd []float32
	proj                        [numProjKinds][]float32 // each kind's output
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
	case cache.layers != cfg.NumLayers || cache.C != cfg.EmbedDim:
		return nil, fmt.Errorf("next logits: kv cache is for %d layers of width %d, model has %d of %d",
			cache.layers, cache.C, cfg.NumLayers, cfg.EmbedDim)
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
	wte, wpe := Floats(m.WTE), Floats(m.WPE)
	for t, id := range ids {
		kernels.Add(x[t*C:(t+1)*C], wte[id*C:(id+1)*C], wpe[(P+t)*C:(P+t+1)*C], C)
	}
	cache.pass = decodePass{c: cache, T: T, P: P, C: C}
	for l, blk := range m.Blocks {
		x = blockForward(&cache.pass, l, blk, x)
	}
	h := s.layerNorm(m.LNF, x[(T-1)*C:], 1, C) // the last position only
	logits := grow(&s.logits, V)
	kernels.MatVec(logits, Floats(m.lmHead()), h, V, C)
	cache.n += T
	return logits, nil
}

// layerNorm applies ln to the N rows of x (N, C) into the scratch buffer h.
func (s *scratch) layerNorm(ln *LayerNorm, x []float32, N, C int) []float32 {
	h := grow(&s.h, N*C)
	kernels.LayerNormForward(h, grow(&s.mean, N), grow(&s.rstd, N), x, Floats(ln.Weight), Floats(ln.Bias), N, C, ln.Eps)
	return h
}

// decodePass runs T new positions, P … P+T−1, through the blocks on plain float32 rows
// (T, ·) in the cache's scratch memory, appending their keys and values to the cache; it
// keeps no graph, and the residual stream and GELU are updated in place.
type decodePass struct {
	c       *KVCache
	T, P, C int
}

func (d *decodePass) layerNorm(ln *LayerNorm, x []float32) []float32 {
	return d.c.s.layerNorm(ln, x, d.T, d.C)
}

// project computes a plain Conv1D into the scratch buffer of its kind; any other Linear
// (a LoRA layer) runs its Forward, and the result is that node's value.
func (d *decodePass) project(blk *Block, k ProjKind, x []float32) []float32 {
	l := *blk.slot(k)
	c, ok := l.(*Conv1D)
	if !ok {
		return Floats(l.Forward(fromData(x, d.T, l.InDim())))
	}
	y := grow(&d.c.s.proj[k], d.T*c.OutDim())
	conv1DForward(y, x, Floats(c.Weight), Floats(c.Bias), d.T, c.InDim(), c.OutDim())
	return y
}

// attention appends the new keys and values of block layer to the cache, then attends
// from the new queries to every cached position up to each one's own.
func (d *decodePass) attention(layer int, a *Attention, qkv []float32) []float32 {
	T, P, C := d.T, d.P, d.C
	k, v := d.c.k[layer], d.c.v[layer]
	for t := range T {
		copy(k[(P+t)*C:(P+t+1)*C], qkv[t*3*C+C:t*3*C+2*C])
		copy(v[(P+t)*C:(P+t+1)*C], qkv[t*3*C+2*C:t*3*C+3*C])
	}
	y := grow(&d.c.s.y, T*C)
	kernels.CachedAttentionForward(y, qkv, k, v, T, P, C, a.NumHeads)
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
