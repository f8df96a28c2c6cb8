package kernels

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/llmtune/llmtune/internal/half"
)

// SgemmAMX is Sgemm in mixed precision on Intel AMX tiles, as torch.autocast runs a
// float32 matmul on such a CPU: op(A) and op(B) are rounded to bfloat16 (to nearest, ties
// to even), their products summed in float32 by TDPBF16PS, and C = alpha·Σ + beta·C in
// float32. Each element of C sums its k in the same order whatever the number of
// goroutines, so results are deterministic; they differ from Sgemm's by the rounding of
// the operands (about 2⁻⁹ relative each). Shapes, strides and beta as in Sgemm. It panics
// unless HaveAMX().
//
// How: op(A) is packed in 32-row blocks and op(B) in 32-column panels, 32 k a step, as
// the tiles want them (A: 16 rows × 32 k, twice; B: 16 k-pairs × 16 columns, twice, each
// pair of k adjacent, the "VNNI" layout); the panels are spread over the goroutines, each
// running amxTiles on its panel against every block of A, up to 512 k at a time (its 32
// KiB of B stay in L1), into C (alpha 1, beta 0, whole blocks, rows close enough) or a
// float32 scratch that is then scaled into C.
func SgemmAMX(transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if M == 0 || N == 0 {
		return
	}
	checkGemm("SgemmAMX", transA, transB, M, N, K, len(a), lda, len(b), ldb, len(c), ldc)
	if K == 0 || alpha == 0 {
		scaleC(M, N, beta, c, ldc)
		return
	}
	mustAMX("SgemmAMX")
	nb, ks := ceilDiv(N, 32), ceilDiv(K, 32)
	buf := getPack(nb * ks * amxStep / 2)
	defer putPack(buf)
	p := &AMXPanels{K: K, N: N, data: asBF16(buf)}
	packPanels(p, transB, b, ldb, half.BFloat16)
	sgemmAMXPacked(transA, M, alpha, a, lda, p, beta, c, ldc)
}

// AMXPanels is a K×N matrix op(B), rounded to bfloat16 and packed as SgemmAMXPacked reads
// it, for a weight that many products read: packing once saves repacking it per product.
// It takes K·N·2 bytes (rounded up to 32 in both dimensions).
type AMXPanels struct {
	K, N int
	data []uint16 // panel j's steps at (j·ceil(K/32) + s)·amxStep; see packPanels
}

// PackAMX returns op(b) (K×N; b is K×N, row stride ldb, or N×K when transB) rounded to
// bfloat16 and packed for SgemmAMXPacked.
func PackAMX(transB bool, K, N int, b []float32, ldb int) *AMXPanels {
	checkGemm("PackAMX", false, transB, 0, N, K, 0, 1, len(b), ldb, 0, 1)
	p := newAMXPanels(K, N)
	packPanels(p, transB, b, ldb, half.BFloat16)
	return p
}

// PackAMXBF16 is PackAMX for a b already in bfloat16, which it packs as it is.
func PackAMXBF16(transB bool, K, N int, b []uint16, ldb int) *AMXPanels {
	return PackAMXBF16Into(make([]uint16, AMXPanelsLen(K, N)), transB, K, N, b, ldb)
}

// PackAMXBF16Into is PackAMXBF16 into dst, of AMXPanelsLen(K, N) elements (any contents),
// which the panels keep: memory the caller manages (off the Go heap, say).
func PackAMXBF16Into(dst []uint16, transB bool, K, N int, b []uint16, ldb int) *AMXPanels {
	checkGemm("PackAMXBF16", false, transB, 0, N, K, 0, 1, len(b), ldb, 0, 1)
	if len(dst) != AMXPanelsLen(K, N) {
		panic("kernels: PackAMXBF16Into: dst is not AMXPanelsLen(K, N) long")
	}
	p := &AMXPanels{K: K, N: N, data: dst}
	packPanels(p, transB, b, ldb, func(v uint16) uint16 { return v })
	return p
}

// AMXPanelsLen is the bfloat16 values of a K×N matrix packed for SgemmAMXPacked.
func AMXPanelsLen(K, N int) int { return ceilDiv(N, 32) * ceilDiv(K, 32) * amxStep }

func newAMXPanels(K, N int) *AMXPanels {
	return &AMXPanels{K: K, N: N, data: make([]uint16, AMXPanelsLen(K, N))}
}

// packPanels fills p with op(b) converted by bf, zero past K and N: in panel j's step s,
// op(B)[32s+2kk+q][32j+16t+n] is at t·512 + kk·32 + n·2 + q (tile t, row kk, column n,
// pair element q), the tiles' VNNI layout. b is read along its rows (K×N, or N×K when
// transB); the panels are spread over the cores.
func packPanels[T float32 | uint16](p *AMXPanels, transB bool, b []T, ldb int, bf func(T) uint16) {
	K, N, ks := p.K, p.N, ceilDiv(p.K, 32)
	parallelFor(ceilDiv(N, 32), 1, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			panel := p.data[j*ks*amxStep : (j+1)*ks*amxStep]
			clear(panel)
			w := min(32, N-32*j)
			if transB { // row n of b is column n of op(B): its k run along the pairs
				for col := range w {
					row := b[(32*j+col)*ldb:][:K]
					base := (col/16)*512 + (col%16)*2
					for k, v := range row {
						panel[(k/32)*amxStep+base+(k%32/2)*32+k%2] = bf(v)
					}
				}
				continue
			}
			for k := range K { // row k of b: columns 32j.. of op(B)
				row := b[k*ldb+32*j:][:w]
				d := panel[(k/32)*amxStep+(k%32/2)*32+k%2:]
				for col, v := range row {
					d[(col/16)*512+(col%16)*2] = bf(v)
				}
			}
		}
	})
}

// SgemmAMXPacked is SgemmAMX with op(B) packed beforehand (b.K×b.N; M×b.N C).
func SgemmAMXPacked(transA bool, M int, alpha float32, a []float32, lda int, b *AMXPanels, beta float32, c []float32, ldc int) {
	if M == 0 || b.N == 0 {
		return
	}
	checkGemm("SgemmAMXPacked", transA, false, M, b.N, b.K, len(a), lda, b.K*b.N, b.N, len(c), ldc)
	if b.K == 0 || alpha == 0 {
		scaleC(M, b.N, beta, c, ldc)
		return
	}
	mustAMX("SgemmAMXPacked")
	sgemmAMXPacked(transA, M, alpha, a, lda, b, beta, c, ldc)
}

func mustAMX(fn string) {
	if !HaveAMX() {
		panic("kernels: " + fn + ": this CPU or OS has no AMX bfloat16 tiles")
	}
}

func sgemmAMXPacked(transA bool, M int, alpha float32, a []float32, lda int, b *AMXPanels, beta float32, c []float32, ldc int) {
	N, K := b.N, b.K
	mb, nb, ks := ceilDiv(M, 32), ceilDiv(N, 32), ceilDiv(K, 32)
	aBuf := getPack(mb * ks * amxStep / 2)
	defer putPack(aBuf)
	pa, pb := asBF16(aBuf), b.data
	seg := ceilDiv(ks, ceilDiv(ks, amxKSeg)) // steps a pass: ks cut evenly, ≤ amxKSeg each
	parallelFor(mb, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			packAAMX(pa, transA, a, lda, M, K, i, mb, ks, seg)
		}
	})
	// C is written by the tiles when they may overwrite it, it holds every row and
	// column of a panel's blocks and its rows are at most amxDirectLdc floats apart;
	// otherwise a scratch panel takes the sums. Each item is
	// a run of panels, which goes through k one segment at a time, so that the segment of
	// packed A (mb·32 KiB) stays in L2 for all of them when K is long (the LM head's dh).
	direct := alpha == 1 && beta == 0 && M%32 == 0 && ldc <= amxDirectLdc
	items := 4 * runtime.GOMAXPROCS(0)
	if ks > seg {
		items /= 2 // longer runs of panels share each segment of A
	}
	grain := max(1, ceilDiv(nb, items))
	parallelFor(nb, grain, func(lo, hi int) {
		var s []float32
		if !direct || 32*hi > N {
			s = getPack((hi - lo) * mb * 32 * 32)
			defer putPack(s)
		}
		tilesWrite := func(j int) bool { return direct && 32*(j+1) <= N } // panel j's C by the tiles
		dst := func(j int) (*float32, int) {
			if tilesWrite(j) {
				return &c[32*j], ldc
			}
			return &s[(j-lo)*mb*32*32], 32
		}
		for s0 := 0; s0 < ks; s0 += seg {
			s1 := min(s0+seg, ks)
			for j := lo; j < hi; j++ {
				cj, ld := dst(j)
				amxTiles(&amxConfig[0], &pa[mb*s0*amxStep], &pb[(j*ks+s0)*amxStep], cj, ld, mb, s1-s0, s0 > 0)
			}
		}
		for j := lo; j < hi; j++ {
			if tilesWrite(j) {
				continue
			}
			n0 := 32 * j
			w := min(32, N-n0)
			sj := s[(j-lo)*mb*32*32:]
			for i := range M {
				row, ci := sj[i*32:i*32+w], c[i*ldc+n0:i*ldc+n0+w]
				switch {
				case beta == 0 && alpha == 1:
					copy(ci, row)
				case beta == 0:
					for x, v := range row {
						ci[x] = alpha * v
					}
				default:
					for x, v := range row {
						ci[x] = alpha*v + beta*ci[x]
					}
				}
			}
		}
	})
}

// amxStep is the bfloat16 values of one 32-k step of a packed block or panel: two tiles
// of 16 rows × 64 bytes.
const amxStep = 1024

// amxKSeg is the most steps of one amxTiles pass: 512 k, 32 KiB of a B panel, which
// stays in L1 while the pass runs through every block of A. K is cut into passes of
// equal steps (SmolLM2's 576 = 18 steps into 9 + 9, not 16 + 2, whose second pass would
// load and store C for two steps of work).
const amxKSeg = 16

// amxDirectLdc is the widest C (row stride, in floats) that the tiles write directly:
// rows further apart (the LM head's logits, V floats a row) each fall on their own page,
// and the tiles' 64-byte row stores to them measured slower than storing to a scratch
// panel and copying (tiny_lmhead_fwd in BenchmarkSgemmAMX: 158–164 against 197–204
// GFLOP/s).
const amxDirectLdc = 4096

// amxConfig is amxTiles' tile configuration (LDTILECFG's 64 bytes): palette 1, and all
// eight tiles 16 rows of 64 bytes (16 float32 sums, 32 bfloat16 of A, 16 pairs of B).
var amxConfig = func() (cfg [64]byte) {
	cfg[0] = 1
	for t := range 8 {
		cfg[16+2*t] = 64 // bytes a row, little-endian uint16
		cfg[48+t] = 16   // rows
	}
	return cfg
}()

// amxReady asks, once, whether this CPU has the tiles and Linux grants their state.
var amxReady = sync.OnceValue(func() bool { return cpuHasAMX && enableAMX() })

// HaveAMX reports whether SgemmAMX can run: the CPU has AMX-TILE and AMX-BF16 and the OS
// granted the process the tile state (asked on the first call).
func HaveAMX() bool { return amxReady() }

// asBF16 views a float32 pack buffer as twice as many bfloat16 slots.
func asBF16(buf []float32) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(&buf[0])), 2*len(buf))
}

// packAAMX packs rows [32i, 32i+32) of op(A) (zero past M and K), rounded to bfloat16:
// step s of the block is in k segment [s0, s1) (seg steps, the last maybe fewer) at
// (mb·s0 + i·(s1-s0) + s-s0)·amxStep, so that one amxTiles pass reads every block's steps
// of a segment in a row; within a step, row r's 32 k are at r·32 (rows 16-31 are the
// second tile).
func packAAMX(dst []uint16, transA bool, a []float32, lda, M, K, i, mb, ks, seg int) {
	full := K / 32 // steps with 32 k; the one after, if any, is partial
	for s0 := 0; s0 < ks; s0 += seg {
		s1 := min(s0+seg, ks)
		for r := range 32 {
			row := 32*i + r
			d := dst[(mb*s0+i*(s1-s0))*amxStep+r*32:]
			if row >= M {
				for s := s0; s < s1; s++ {
					clear(d[(s-s0)*amxStep:][:32])
				}
				continue
			}
			s := s0
			if !transA && haveAVX512 && min(s1, full) > s0 {
				packRowAMX(&d[0], &a[row*lda+32*s0], min(s1, full)-s0)
				s = min(s1, full)
			}
			for ; s < s1; s++ {
				dr := d[(s-s0)*amxStep:][:32]
				for x := range dr {
					k := 32*s + x
					switch {
					case k >= K:
						dr[x] = 0
					case transA:
						dr[x] = half.BFloat16(a[k*lda+row])
					default:
						dr[x] = half.BFloat16(a[row*lda+k])
					}
				}
			}
		}
	}
}
