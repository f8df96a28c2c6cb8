package transformer

import (
	"encoding/binary"
	"math"
	"runtime"

	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/nn"

	"github.com/llmtune/llmtune/transformer/kernels"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// QuantizeQ8Block quantizes one block of 32 values x as ggml's Q8_0 does
// (quantize_row_q8_0_ref, and gguf-py's bit-exact copy of it): d = max|x|/127, stored
// as float16 (its bits returned), and q[j] = round(x[j]/d), ties away from zero, the
// division done as a multiplication by 1/d in float32 (q all 0 when d is 0). It panics
// unless x and q hold kernels.Q8Block values.
func QuantizeQ8Block(q []int8, x []float32) (d uint16) {
	if len(x) != kernels.Q8Block || len(q) != kernels.Q8Block {
		panic("transformer: QuantizeQ8Block: a block is 32 values")
	}
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	df := amax / 127
	var id float32
	if df != 0 {
		id = 1 / df
	}
	for j, v := range x {
		q[j] = int8(math.Round(float64(v * id)))
	}
	return safetensors.Float32ToFloat16(df)
}

// quantizeQ8Row writes x (a multiple of 32 values) into dst as Q8_0 blocks
// (QuantizeQ8Block's float16 scale, then its 32 values), the layout kernels.MatVecQ8
// reads.
func quantizeQ8Row(dst []byte, x []float32) {
	var q [kernels.Q8Block]int8
	for b := range len(x) / kernels.Q8Block {
		d := QuantizeQ8Block(q[:], x[b*kernels.Q8Block:][:kernels.Q8Block])
		blk := dst[b*kernels.Q8BlockBytes:][:kernels.Q8BlockBytes]
		binary.LittleEndian.PutUint16(blk, d)
		for j, v := range q {
			blk[2+j] = byte(v)
		}
	}
}

// q8Weight is the value of a frozen weight stored in 8-bit blocks (WeightQ8). Its blocks
// run along the input dimension, as GGUF's Q8_0 tensors do: the stored matrix is (out,
// in), row o holding the in weights of output o in in/32 blocks, which is the weight
// itself for a Dense weight or an embedding ((out, in), (V, C)) and its transpose for a
// Conv1D weight ((in, out): transposed set). Shape is the weight's own.
type q8Weight struct {
	frozenWeight
	transposed bool
	data       []byte
}

func (w *q8Weight) Value() mat.Tensor { return w }

// dims returns the stored matrix's rows and columns: (out, in).
func (w *q8Weight) dims() (out, in int) {
	if w.transposed {
		return w.cols, w.rows
	}
	return w.rows, w.cols
}

// q8Fits reports whether a (rows, cols) weight can be stored in 8-bit blocks: its input
// dimension (rows when inRows, else cols) is a multiple of 32.
func q8Fits(rows, cols int, inRows bool) bool {
	in := cols
	if inRows {
		in = rows
	}
	return in > 0 && in%kernels.Q8Block == 0
}

// zeroQ8Weight returns a frozen (rows, cols) weight of zeros in 8-bit blocks (which q8Fits
// must allow), transposed when its rows run along its input dimension, its data off the
// Go heap where the OS allows (offHeap).
func zeroQ8Weight(rows, cols int, inRows bool) *q8Weight {
	w := &q8Weight{frozenWeight: frozenWeight{rows: rows, cols: cols}, transposed: inRows}
	out, in := w.dims()
	w.data = offHeap[byte](w, out*kernels.Q8RowBytes(in))
	return w
}

// setQ8 stores p frozen in 8-bit blocks (its values widened first if it is in bfloat16),
// if q8Fits allows; otherwise it stays as it is.
func setQ8(p *nn.Param, inRows bool) {
	s := p.Shape()
	if _, ok := p.Value().(*q8Weight); ok || !q8Fits(s[0], s[1], inRows) {
		return
	}
	w := zeroQ8Weight(s[0], s[1], inRows)
	w.quantize(WeightValues(p))
	p.Matrix = w
}

// quantize stores f, the weight's values (rows, cols) row-major, in w's blocks.
func (w *q8Weight) quantize(f []float32) {
	out, in := w.dims()
	rb := kernels.Q8RowBytes(in)
	if !w.transposed {
		for o := range out {
			quantizeQ8Row(w.data[o*rb:][:rb], f[o*in:][:in])
		}
	} else {
		col := make([]float32, in)
		for o := range out { // column o of f
			for i := range col {
				col[i] = f[i*out+o]
			}
			quantizeQ8Row(w.data[o*rb:][:rb], col)
		}
	}
	runtime.KeepAlive(w)
}

// values returns the weight's values (rows, cols) row-major in float32, exactly.
func (w *q8Weight) values() []float32 {
	out, in := w.dims()
	rb := kernels.Q8RowBytes(in)
	f := make([]float32, w.Size())
	if !w.transposed {
		kernels.DequantQ8(f, w.data)
	} else {
		row := make([]float32, in)
		for o := range out {
			kernels.DequantQ8(row, w.data[o*rb:][:rb])
			for i, v := range row {
				f[i*out+o] = v
			}
		}
	}
	runtime.KeepAlive(w)
	return f
}

// rowsOf sets row i of x (len(ids), C) to row ids[i] of w, an embedding (V, C), widened.
func (w *q8Weight) rowsOf(x []float32, ids []int) {
	_, C := w.dims()
	rb := kernels.Q8RowBytes(C)
	for i, id := range ids {
		kernels.DequantQ8(x[i*C:(i+1)*C], w.data[id*rb:][:rb])
	}
	runtime.KeepAlive(w)
}

// forward sets y (N, out) = x (N, in) times the weight (as its layer applies it: xᵀ·W
// for a Conv1D weight, x·Wᵀ for a Dense one) + b (out; b may be nil): one row through
// kernels.MatVecQ8, which reads the blocks as they are, more through mulW.
func (w *q8Weight) forward(y, x, b []float32, N int) {
	out, in := w.dims()
	if N == 1 {
		kernels.MatVecQ8(y, w.data, x, out, in)
		runtime.KeepAlive(w)
	} else {
		w.mulStored(true, N, out, in, x, in, y, out)
	}
	if b != nil {
		kernels.AddBias(y, b, N, out)
	}
}

// mulW is sgemmWeight's product on w: c (M×N, row stride ldc) = a (M×K, lda) · op(w),
// op(w) = wᵀ when transB, w being the weight as its Shape gives it (a kernels.MulW).
func (w *q8Weight) mulW(transB bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
	// w is the stored matrix S when not transposed, Sᵀ when it is.
	w.mulStored(transB != w.transposed, M, N, K, a, lda, c, ldc)
}

// mulStored sets c (M×N) = a (M×K) · op(S), S the stored (out, in) matrix and op(S) =
// Sᵀ when sT: kernels.SgemmQ8B, which widens S's blocks as it packs them.
func (w *q8Weight) mulStored(sT bool, M, N, K int, a []float32, lda int, c []float32, ldc int) {
	kernels.SgemmQ8B(sT, M, N, K, 1, a, lda, w.data, 0, c, ldc)
	runtime.KeepAlive(w)
}
