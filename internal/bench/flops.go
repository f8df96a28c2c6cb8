package bench

import (
	"runtime"

	"github.com/llmtune/llmtune/transformer/kernels"
)

// FLOPsPerToken is the float32 operations a train step of w does per token, from the
// shape, counting a multiply-add as 2:
//
//	forward   2·P + 4·L·T·d    P the weights of every product (the blocks' projections
//	                          and the V×C LM head), L layers, T the sequence length,
//	                          d = heads·head_dim; attention as the full T×T square
//	                          (scores and the weighted sum), as PaLM's MFU counts it
//	full      3 × forward     (backward: the inputs' and the weights' gradients)
//	LoRA      2·(2·P) + 3·(4·L·T·d)  (no gradients of the frozen weights; the
//	                          attention's backward still costs twice its forward)
//
// LoRA's own rank-r products (under 1% at r = 8) are left out. 0 for a Generate workload.
func (w Workload) FLOPsPerToken() float64 {
	if w.Generate {
		return 0
	}
	c := w.Model
	C, L := float64(c.EmbedDim), float64(c.NumLayers)
	var perLayer float64
	if c.IsLlama() {
		q, kv, I := float64(c.QDim()), float64(c.KVDim()), float64(c.Inner())
		perLayer = C*q + 2*C*kv + q*C + 3*C*I
	} else {
		perLayer = 12 * C * C
	}
	P := L*perLayer + float64(c.VocabSize)*C
	attn := 4 * L * float64(w.SeqLen) * float64(c.QDim())
	if w.LoRA {
		return 4*P + 3*attn
	}
	return 3 * (2*P + attn)
}

// peak measures this CPU's float32 peak for the kernels' path (kernels.MeasurePeak) and
// the cores a step may use (GOMAXPROCS, at most the CPUs).
func peak() (kernels.Peak, int) {
	return kernels.MeasurePeak(), min(runtime.GOMAXPROCS(0), runtime.NumCPU())
}
