package kernels

import (
	"math"
	"runtime"
)

// The kernels of incremental decoding: a language model that generates one token at a
// time multiplies one row by every weight matrix (a GEMV, where Sgemm would pack the
// whole matrix for a single row), and attends from a few new queries to the keys and
// values it has cached for the positions before them.

// gemvMinFlops is the size (2·rows·cols) below which VecMat and MatVec stay on the
// calling goroutine; starting and joining helpers costs microseconds.
const gemvMinFlops = 1 << 18

// vecMatRows is how many rows of w one VecMat work item covers: a contiguous block of w
// (590 KiB for GPT-2 small's c_attn), read in order, summed into a partial output.
const vecMatRows = 192

// matVecBlock is how many rows of w one MatVec work item covers.
const matVecBlock = 512

// VecMat computes out (N) = x (K) · w (K, N) + bias (N), one row through GPT-2's Conv1D
// layout (w stored (in, out)). bias may be nil. It reads w once, in order, with an
// AVX2/FMA kernel where the CPU has one (see SetPureGo). Large products are split into blocks of
// vecMatRows rows over the package's goroutines, each summed into its own partial
// output, and the partial outputs are added in order: the blocks depend on K only, so
// the result does not depend on how many goroutines run. It panics if a buffer is too
// short for its shape.
func VecMat(out, x, w, bias []float32, K, N int) {
	if len(x) < K || len(w) < K*N || len(out) < N || (bias != nil && len(bias) < N) {
		panic("kernels: VecMat: buffer too short for its shape")
	}
	vecMat(out[:N], x[:K], gemvWeights{f: w[:K*N]}, bias, K, N)
}

// gemvWeights is the weight matrix of a GEMV: float32 values in f, bfloat16 ones in h
// when bf is set, or 8-bit blocks in q8 (MatVec only) when it is not nil.
type gemvWeights struct {
	f  []float32
	h  []uint16
	bf bool
	q8 []byte
}

// vecMat is VecMat and VecMatBF16 on buffers of the right lengths.
func vecMat(out, x []float32, w gemvWeights, bias []float32, K, N int) {
	if bias != nil {
		copy(out, bias[:N])
	} else {
		clear(out)
	}
	p := CurrentPath()
	items := (K + vecMatRows - 1) / vecMatRows
	if 2*K*N < gemvMinFlops || items == 1 {
		w.axpyRows(out, x, 0, N, p)
		return
	}
	buf := getScratch((items - 1) * N)
	job := &vecMatJob{out: out, part: *buf, x: x, w: w, K: K, N: N, path: p}
	tm := newTeam(runtime.GOMAXPROCS(0))
	tm.run(items, job)
	tm.done()
	for i := range items - 1 {
		AddTo(out, job.part[i*N:], N)
	}
	scratch.Put(buf)
}

// vecMatJob is a VecMat split into blocks of rows: block 0 adds into out, block i > 0
// into part[(i−1)·N:].
type vecMatJob struct {
	out, part, x []float32
	w            gemvWeights
	K, N         int
	path         Path // chosen once for the whole call
}

func (j *vecMatJob) runItem(i int) {
	k0 := i * vecMatRows
	k1 := min(k0+vecMatRows, j.K)
	y := j.out
	if i > 0 {
		y = j.part[(i-1)*j.N:][:j.N]
		clear(y)
	}
	j.w.axpyRows(y, j.x[k0:k1], k0*j.N, j.N, j.path)
}

// axpyRows adds Σ_k x[k]·w[off+k·ldw : off+k·ldw+len(y)] into y on path p: axpyRows or
// axpyRowsBF16.
func (w gemvWeights) axpyRows(y, x []float32, off, ldw int, p Path) {
	if w.bf {
		axpyRowsBF16(y, x, w.h[off:], ldw, p)
		return
	}
	axpyRows(y, x, w.f[off:], ldw, p != PathGo)
}

// axpyRows adds Σ_k x[k]·w[k·ldw : k·ldw+len(y)] into y, over the len(x) rows of w that
// start at w[0], ldw floats apart: with vecMatAVX when asm is set, else four rows at a
// time in Go.
func axpyRows(y, x, w []float32, ldw int, asm bool) {
	K := len(x)
	if K == 0 || len(y) == 0 {
		return
	}
	_ = w[(K-1)*ldw+len(y)-1] // the kernels read this far
	if asm && len(y) >= 8 {
		n8 := len(y) &^ 7
		vecMatAVX(&y[0], n8, &x[0], K, &w[0], ldw)
		for c := n8; c < len(y); c++ { // the last columns, fewer than 8
			y[c] = axpyCol(y[c], x, w[c:], ldw)
		}
		return
	}
	k := 0
	for ; k+4 <= K; k += 4 {
		axpy4(y, x[k:k+4], w[k*ldw:], w[(k+1)*ldw:], w[(k+2)*ldw:], w[(k+3)*ldw:])
	}
	for ; k < K; k++ {
		axpy(y, x[k], w[k*ldw:])
	}
}

// The Go loops of VecMat and MatVec below are kept out of line (go:noinline) so that
// VecMatBF16 and MatVecBF16, which widen their weights into a buffer and call them, run
// the same machine code: whether the compiler fuses a multiply and an add into one FMA
// (it may on arm64, and on amd64 with GOAMD64=v3) depends on the code around them.

// axpy4 adds a[0]·w0 + a[1]·w1 + a[2]·w2 + a[3]·w3 into y, element-wise, summed in that
// order.
//
//go:noinline
func axpy4(y, a, w0, w1, w2, w3 []float32) {
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	w0, w1, w2, w3 = w0[:len(y)], w1[:len(y)], w2[:len(y)], w3[:len(y)]
	for i := range y {
		y[i] += a0*w0[i] + a1*w1[i] + a2*w2[i] + a3*w3[i]
	}
}

// axpyCol returns s + Σ_k x[k]·w[k·ldw], summed in k order.
//
//go:noinline
func axpyCol(s float32, x, w []float32, ldw int) float32 {
	for k, a := range x {
		s += a * w[k*ldw]
	}
	return s
}

// vecMatRef is the plain reference of VecMat.
func vecMatRef(out, x, w, bias []float32, K, N int) {
	for j := 0; j < N; j++ {
		var s float32
		if bias != nil {
			s = bias[j]
		}
		for k := 0; k < K; k++ {
			s += x[k] * w[k*N+j]
		}
		out[j] = s
	}
}

// MatVec computes out (N) = w (N, K) · x (K): the dot product of x with every row of w.
// With w the (V, C) token embedding and x a final hidden state it gives the V logits
// of one position (GPT-2's tied LM head). It reads w once, in order, with an AVX2/FMA
// kernel where the CPU has one (see SetPureGo). Large products are split into row blocks over the
// package's goroutines; the result does not depend on how many run. It panics if a
// buffer is too short for its shape.
func MatVec(out, w, x []float32, N, K int) {
	if len(x) < K || len(w) < K*N || len(out) < N {
		panic("kernels: MatVec: buffer too short for its shape")
	}
	matVec(out[:N], gemvWeights{f: w[:K*N]}, x[:K], N, K)
}

// matVec is MatVec and MatVecBF16 on buffers of the right lengths.
func matVec(out []float32, w gemvWeights, x []float32, N, K int) {
	job := &matVecJob{out: out, w: w, x: x, K: K, N: N, path: CurrentPath()}
	n := (N + matVecBlock - 1) / matVecBlock
	if 2*K*N < gemvMinFlops || n == 1 {
		job.rows(0, N)
		return
	}
	tm := newTeam(runtime.GOMAXPROCS(0))
	defer tm.done()
	tm.run(n, job)
}

type matVecJob struct {
	out, x []float32
	w      gemvWeights
	K, N   int
	path   Path // chosen once for the whole call
}

func (j *matVecJob) runItem(i int) {
	r0 := i * matVecBlock
	j.rows(r0, min(r0+matVecBlock, j.N))
}

// rows computes the outputs [r0, r1).
func (j *matVecJob) rows(r0, r1 int) {
	if j.w.q8 != nil {
		matVecRowsQ8(j.out, j.w.q8, j.x, r0, r1, j.path)
		return
	}
	if j.w.bf {
		matVecRowsBF16(j.out, j.w.h, j.x, r0, r1, j.path)
		return
	}
	matVecRows(j.out, j.w.f, j.x, r0, r1, j.path != PathGo)
}

// matVecRows sets out[r] = Σ_k w[r·K+k]·x[k] for r0 ≤ r < r1, K = len(x): with matVecAVX
// when asm is set, else four rows of w at a time in Go.
func matVecRows(out, w, x []float32, r0, r1 int, asm bool) {
	K := len(x)
	if asm && K >= 8 && r1 > r0 {
		k8 := K &^ 7
		matVecAVX(&out[r0], r1-r0, &w[r0*K], K, &x[0], k8)
		if k8 < K { // the last columns, fewer than 8
			for r := r0; r < r1; r++ {
				out[r] += dot(x[k8:], w[r*K+k8:(r+1)*K])
			}
		}
		return
	}
	r := r0
	for ; r+4 <= r1; r += 4 {
		var s [4]float32
		dot4(&s, x, w[r*K:], w[(r+1)*K:], w[(r+2)*K:], w[(r+3)*K:])
		out[r], out[r+1], out[r+2], out[r+3] = s[0], s[1], s[2], s[3]
	}
	for ; r < r1; r++ {
		out[r] = dotSeq(0, x, w[r*K:])
	}
}

// dot4 adds Σ_k w0[k]·x[k], …, Σ_k w3[k]·x[k] into s[0], …, s[3], each summed in k
// order.
//
//go:noinline
func dot4(s *[4]float32, x, w0, w1, w2, w3 []float32) {
	w0, w1, w2, w3 = w0[:len(x)], w1[:len(x)], w2[:len(x)], w3[:len(x)]
	s0, s1, s2, s3 := s[0], s[1], s[2], s[3]
	for k, v := range x {
		s0 += w0[k] * v
		s1 += w1[k] * v
		s2 += w2[k] * v
		s3 += w3[k] * v
	}
	s[0], s[1], s[2], s[3] = s0, s1, s2, s3
}

// dotSeq returns s + Σ_k w[k]·x[k], summed in k order.
//
//go:noinline
func dotSeq(s float32, x, w []float32) float32 {
	w = w[:len(x)]
	for k, v := range x {
		s += w[k] * v
	}
	return s
}

// matVecRef is the plain reference of MatVec.
func matVecRef(out, w, x []float32, N, K int) {
	for r := 0; r < N; r++ {
		var s float32
		for k := 0; k < K; k++ {
			s += w[r*K+k] * x[k]
		}
		out[r] = s
	}
}

// CachedAttentionForward is causal multi-head attention of T new tokens against a
// key/value cache, the attention of incremental decoding.
//
// The new tokens sit at positions P … P+T−1 of their sequence. qkv (T, 3C) holds their
// queries, keys and values as c_attn produces them ([q | k | v], head h owning columns
// h·hs … (h+1)·hs−1, hs = C/NH); only the queries are read. kcache and vcache (≥ P+T, C)
// hold the keys and values of positions 0 … P+T−1, the new tokens' included (the caller
// copies them in first). Query t sees keys 0 … P+t, scaled by 1/√hs. out (T, C)
// receives softmax(q·kᵀ/√hs)·v with heads concatenated. With P = 0 and the cache holding
// the sequence's keys and values, it equals AttentionForward on that sequence (without
// segments).
//
// It is CachedAttentionForwardGQA with KVH = NH, and panics unless NH divides C.
func CachedAttentionForward(out, qkv, kcache, vcache []float32, T, P, C, NH int) {
	checkHeads("CachedAttentionForward", C, NH)
	CachedAttentionForwardGQA(out, qkv, kcache, vcache, T, P, NH, NH, C/NH)
}

// CachedAttentionForwardGQA is causal grouped-query attention of T new tokens against a
// key/value cache, the attention of incremental decoding for Llama-family models
// (Hugging Face LlamaAttention with a DynamicCache: the new keys and values are
// appended to the cache, then the new queries attend over it through repeat_kv).
//
// The new tokens sit at positions P … P+T−1 of their sequence. Each row of qkv has
// stride (NH+2·KVH)·hs, as AttentionForwardGQA reads it; only its first NH·hs floats,
// the queries (RoPE applied), are read. kcache and vcache (≥ P+T, KVH·hs) hold the keys
// (RoPE applied) and values of positions 0 … P+T−1, the new tokens' included (the
// caller copies them in first). NH is a multiple of KVH and query head h uses
// key/value head h / (NH/KVH). Query t sees keys 0 … P+t, scaled by 1/√hs. out
// (T, NH·hs) receives softmax(q·kᵀ/√hs)·v with the query heads concatenated. With P = 0
// and the cache holding the sequence's keys and values, it equals AttentionForwardGQA on
// that sequence (without segments).
//
// The dot products use the AVX2/FMA GEMV kernels where the CPU has them (see
// SetPureGo). Work is split over (token, query head) pairs when it is large enough to
// pay for helper goroutines; every output is computed by one goroutine in a fixed order,
// so the result does not depend on how many run. It panics if the head counts do not
// fit or a buffer is too short for its shape.
func CachedAttentionForwardGQA(out, qkv, kcache, vcache []float32, T, P, NH, KVH, hs int) {
	if KVH <= 0 || NH%KVH != 0 || hs <= 0 || T < 0 || P < 0 {
		panic("kernels: CachedAttentionForwardGQA: NH must be a positive multiple of KVH and hs positive")
	}
	L, KC := P+T, KVH*hs
	if len(kcache) < L*KC || len(vcache) < L*KC {
		panic("kernels: CachedAttentionForwardGQA: buffer too short for its shape")
	}
	cachedAttentionForward("CachedAttentionForwardGQA", out, qkv, kcache, vcache, T, P, NH, KVH, hs, KC, hs)
}

// CachedAttentionForwardHeads is CachedAttentionForwardGQA on a cache laid out head by
// head: kcache and vcache are (KVH, stride, hs), the key (value) of key/value head h at
// position t at (h·stride + t)·hs, with stride ≥ P+T. Each head's keys and values then
// lie in one run of memory, read in order, where the (positions, KVH·hs) layout has a
// head's hs floats every KVH·hs. The result is CachedAttentionForwardGQA's on the same
// keys and values, bit for bit (the same operations, in the same order). It panics if
// the head counts do not fit or a buffer is too short for its shape.
func CachedAttentionForwardHeads(out, qkv, kcache, vcache []float32, T, P, NH, KVH, hs, stride int) {
	if KVH <= 0 || NH%KVH != 0 || hs <= 0 || T < 0 || P < 0 || stride < P+T {
		panic("kernels: CachedAttentionForwardHeads: NH must be a positive multiple of KVH, hs positive and stride at least P+T")
	}
	if len(kcache) < KVH*stride*hs || len(vcache) < KVH*stride*hs {
		panic("kernels: CachedAttentionForwardHeads: buffer too short for its shape")
	}
	cachedAttentionForward("CachedAttentionForwardHeads", out, qkv, kcache, vcache, T, P, NH, KVH, hs, hs, stride*hs)
}

// cachedAttentionForward is the attention of the cached-attention kernels on a cache
// whose key (value) of key/value head h at position t is at h·headStride + t·rowStride.
func cachedAttentionForward(name string, out, qkv, kcache, vcache []float32, T, P, NH, KVH, hs, rowStride, headStride int) {
	C := NH * hs
	if len(qkv) < T*(NH+2*KVH)*hs || len(out) < T*C {
		panic("kernels: " + name + ": buffer too short for its shape")
	}
	job := &cachedAttention{out: out, qkv: qkv, k: kcache, v: vcache, T: T, P: P, NH: NH, KVH: KVH, hs: hs,
		rowStride: rowStride, headStride: headStride, scale: float32(1 / math.Sqrt(float64(hs))), asm: useAsm()}
	n := T * NH
	// Each (t, h) pair reads P+t+1 keys and values of hs floats: 4·hs·(P+t+1) flops.
	if 4*C*T*(P+T) < gemvMinFlops || n == 1 {
		scores := make([]float32, P+T)
		for i := range n {
			job.pair(i, scores)
		}
		return
	}
	tm := newTeam(runtime.GOMAXPROCS(0))
	defer tm.done()
	tm.run(n, job)
}

type cachedAttention struct {
	out, qkv, k, v        []float32
	T, P, NH, KVH, hs     int
	rowStride, headStride int // where position t of key/value head h is: h·headStride + t·rowStride
	scale                 float32
	asm                   bool // the AVX2/FMA kernels, chosen once for the whole call
}

func (a *cachedAttention) runItem(i int) {
	a.pair(i, make([]float32, a.P+a.T))
}

// pair computes item i: token t = i / NH, query head h = i % NH, using scores (≥ P+T)
// as scratch.
func (a *cachedAttention) pair(i int, scores []float32) {
	t, h := i/a.NH, i%a.NH
	hs := a.hs
	kv := h / (a.NH / a.KVH)
	C, rs := a.NH*hs, a.rowStride // the width of out's rows; the cache's stride between positions
	n := a.P + t + 1              // keys this query sees
	q := a.qkv[t*(a.NH+2*a.KVH)*hs+h*hs:][:hs]
	s := scores[:n]
	o := a.out[t*C+h*hs:][:hs]
	end := kv*a.headStride + (n-1)*rs + hs
	k, v := a.k[kv*a.headStride:end], a.v[kv*a.headStride:end] // position t2 of this head at t2·rs
	asm := a.asm && hs%8 == 0
	if asm { // s = K·q, a MatVec over the head's keys, rs floats apart
		matVecAVX(&s[0], n, &k[0], rs, &q[0], hs)
	} else {
		for t2 := range s {
			s[t2] = dot(q, k[t2*rs:])
		}
	}
	maxv := float32(math.Inf(-1))
	for t2, d := range s {
		s[t2] = d * a.scale
		maxv = max(maxv, s[t2])
	}
	var sum float32
	for t2, d := range s {
		e := float32(math.Exp(float64(d - maxv)))
		s[t2] = e
		sum += e
	}
	inv := 1 / sum
	for t2 := range s {
		s[t2] *= inv
	}
	clear(o)
	if asm { // o = sᵀ·V, a VecMat over the head's values, rs floats apart
		vecMatAVX(&o[0], hs, &s[0], n, &v[0], rs)
		return
	}
	for t2, p := range s {
		axpy(o, p, v[t2*rs:])
	}
}

// dot returns Σ a[i]·b[i] over the len(a) elements, in four partial sums.
//
//go:noinline
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds alpha·x[:len(y)] into y.
//
//go:noinline
func axpy(y []float32, alpha float32, x []float32) {
	x = x[:len(y)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// cachedAttentionGQARef is the plain reference of CachedAttentionForwardGQA (and, with
// KVH = NH, of CachedAttentionForward): float64 scores and sums, one (token, query
// head) pair after another.
func cachedAttentionGQARef(out, qkv, kcache, vcache []float32, T, P, NH, KVH, hs int) {
	scale := 1 / math.Sqrt(float64(hs))
	C, KC, RS := NH*hs, KVH*hs, (NH+2*KVH)*hs
	scores := make([]float64, P+T)
	for t := 0; t < T; t++ {
		for h := 0; h < NH; h++ {
			kv := h / (NH / KVH)
			q := qkv[t*RS+h*hs:][:hs]
			n := P + t + 1
			maxv := math.Inf(-1)
			for t2 := 0; t2 < n; t2++ {
				k := kcache[t2*KC+kv*hs:][:hs]
				var d float64
				for i := range q {
					d += float64(q[i]) * float64(k[i])
				}
				scores[t2] = d * scale
				maxv = math.Max(maxv, scores[t2])
			}
			var sum float64
			for t2 := 0; t2 < n; t2++ {
				scores[t2] = math.Exp(scores[t2] - maxv)
				sum += scores[t2]
			}
			o := out[t*C+h*hs:][:hs]
			for i := range o {
				var acc float64
				for t2 := 0; t2 < n; t2++ {
					acc += scores[t2] / sum * float64(vcache[t2*KC+kv*hs+i])
				}
				o[i] = float32(acc)
			}
		}
	}
}

// geluBlock is how many elements one GeluForwardParallel work item covers.
const geluBlock = 1536

// GeluForwardParallel is GeluForward split into blocks over the package's goroutines:
// out = gelu_tanh(inp) element-wise, N elements, the same values bit for bit. out and inp
// may be the same slice. Decoding calls it on short rows, where GELU's tanh is a
// noticeable share of a step.
func GeluForwardParallel(out, inp []float32, N int) {
	n := (N + geluBlock - 1) / geluBlock
	if n <= 1 {
		GeluForward(out, inp, N)
		return
	}
	tm := newTeam(runtime.GOMAXPROCS(0))
	defer tm.done()
	tm.run(n, &geluJob{out: out[:N], inp: inp[:N]})
}

type geluJob struct{ out, inp []float32 }

func (j *geluJob) runItem(i int) {
	lo := i * geluBlock
	hi := min(lo+geluBlock, len(j.out))
	GeluForward(j.out[lo:hi], j.inp[lo:hi], hi-lo)
}
