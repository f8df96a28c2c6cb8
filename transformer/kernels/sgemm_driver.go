package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The Sgemm driver follows BLIS/GotoBLAS: op(A) is packed into mr-row panels and op(B)
// into nr-column panels, kc deep (zero-padded at the matrix edges), and a micro-kernel
// computes one mr×nr tile of C from one A panel and one B panel. Around it:
//
//	for each superblock of C (≤ ms rows × ns columns) and of K (a multiple of kc deep):
//	    phase 1: pack the superblock's rows of A and columns of B (A is kept for the
//	             next column superblock when K fits in one);
//	    phase 2: for each C tile (about mc×nc):
//	        for each kc slice p:          // order of k fixed: deterministic sums
//	            for each B panel j:       // kc×nr, stays in L1
//	                for each A panel i:   // the tile's mc×kc A block stays in L2
//	                    micro-kernel(C[i, j] += A[i, p]·B[p, j])
//
// When M fits in one tile row (M ≤ mc), no two tiles read the same B panel; then each
// tile packs its own B panels in phase 2 (fuseB), into a region of the buffer it holds
// while it runs (one per goroutine), right before the micro-kernels read them, instead
// of phase 1 packing a superblock of B (megabytes, out of L2) that phase 2 reads back;
// all columns then form one phase. This is the LM head's case: a chunk of at most mc
// rows (lmHeadRows) against the whole (V, C) embedding.
//
// The items of each phase (panel groups, C tiles) are spread over a team of goroutines
// (see team in parallel.go); the team waits for all items of a phase before the next.
// Splitting C, not K, means no two goroutines pack the same panel or write the same
// element of C. Results are bit-identical for any number of goroutines, and for any
// tiling of C: panels start at multiples of mr and nr of the whole matrix (so partial
// micro-tiles occur at its last rows and columns only), k slices start at multiples of
// kc, and each element of C is summed over its slices in order, by the same kernel.

// blocking describes one micro-kernel and the cache blocking around it.
type blocking struct {
	kernel     microKernel
	mr, nr     int // micro-tile: mr rows of op(A) × nr columns of op(B)
	kc         int // panel depth: an mr×kc A panel and a kc×nr B panel fit in L1 together
	mc, nc     int // target C tile, rows × columns (evened out per shape)
	ms, ns     int // superblock caps, rows × columns, bounding the packed buffers
	packBudget int // floats of packed A+B per superblock; fixes its depth (a multiple of kc)
}

// microKernel names the micro-kernel of a blocking.
type microKernel int

const (
	kernelGo2x4        microKernel = iota // goKernel2x4 (mr=2, nr=4)
	kernelAVX2x6x16                       // sgemmKernel6x16 (6, 16)
	kernelAVX512x12x32                    // sgemmKernel12x32 (12, 32)
)

// maxTile is the largest mr·nr of any blocking: the scratch tile of microEdge.
const maxTile = 12 * 32

var (
	// avx2Blocking: 6×16 AVX2/FMA kernel; 256-deep panels are 22 KiB of L1, a 96×256
	// A block is 96 KiB of L2; packed superblocks take at most 8 MiB. Tuned on GPT-2
	// shapes (kc 384, mc 192 or nc 1024 were no faster).
	avx2Blocking = blocking{kernel: kernelAVX2x6x16, mr: 6, nr: 16, kc: 256, mc: 96, nc: 512, ms: 1536, ns: 3072, packBudget: 2 << 20}
	// avx512Blocking: 12×32 AVX-512F kernel; 256-deep panels are 12 KiB (A) + 32 KiB (B)
	// of the 48 KiB L1.
	avx512Blocking = blocking{kernel: kernelAVX512x12x32, mr: 12, nr: 32, kc: 256, mc: 192, nc: 512, ms: 1536, ns: 3072, packBudget: 2 << 20}
	// goBlocking: the pure-Go 2×4 kernel.
	goBlocking = blocking{kernel: kernelGo2x4, mr: 2, nr: 4, kc: 256, mc: 64, nc: 512, ms: 1536, ns: 3072, packBudget: 2 << 20}
)

// blockingFor returns the blocking of path p's micro-kernel.
func blockingFor(p Path) *blocking {
	switch p {
	case PathAVX512:
		return &avx512Blocking
	case PathAVX2:
		return &avx2Blocking
	}
	return &goBlocking
}

// parallelMinFlops is the size (2·M·N·K) below which Sgemm stays on the calling
// goroutine: waking helpers and waiting for them costs tens of microseconds, and two
// cores measured no faster than one up to about 8 MFLOP (256×256×64). A variable so
// that tests can move it.
var parallelMinFlops = float64(1 << 23)

// gemm is one Sgemm call in progress.
type gemm struct {
	*blocking
	transA, transB bool
	M, N, K        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	b16            []uint16 // B in bfloat16 (SgemmBF16B), widened as it is packed; b is nil then
	q8             []byte   // B (or Bᵀ) in Q8_0 rows of ldb bytes (SgemmQ8B), widened as it is packed; b is nil then
	ldb            int
	c              []float32
	ldc            int

	mt, nt int // C tile size (multiples of mr, nr)

	// The current superblock: rows [i0, i1), columns [j0, j1), k in [p0, p1).
	i0, i1, j0, j1, p0, p1 int
	mPad, nPad             int // i1-i0 and j1-j0 rounded up to mr, nr
	tilesM, tilesN         int // C tiles in the superblock
	packAItems             int // phase-1 items that pack A (0 when the packed A is reused)
	packA, packB           []float32

	packing bool // the phase: packing panels (runItem packs) or computing tiles
	fuseB   bool // tiles pack their own B panels (one tile row: M ≤ mc); see tileFusedB

	// With fuseB: packB holds one region of nt·kc floats per goroutine that may run
	// tiles (the product is worth at most len(regionBusy) of them), each claimed by a
	// tile for as long as it runs; see claimRegion.
	regionBusy []atomic.Bool
}

// gemmPool recycles gemm structs, so that a call allocates nothing.
var gemmPool = sync.Pool{New: func() any { return new(gemm) }}

// bOperand is B as one of the forms the driver's B packers read: float32 (f), bfloat16
// (h) or Q8_0 rows (q); exactly one is set.
type bOperand struct {
	f []float32
	h []uint16
	q []byte
}

// runGemm runs C = alpha·op(A)·op(B) + beta·C with the given blocking; the shapes are
// checked, M, N, K > 0 and alpha != 0.
func runGemm(bl *blocking, transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b bOperand, ldb int, beta float32, c []float32, ldc int) {
	g := gemmPool.Get().(*gemm)
	g.blocking = bl
	g.transA, g.transB = transA, transB
	g.M, g.N, g.K = M, N, K
	g.alpha, g.beta = alpha, beta
	g.a, g.lda, g.c, g.ldc = a, lda, c, ldc
	g.b, g.b16, g.q8, g.ldb = b.f, b.h, b.q, ldb
	g.run()
	g.a, g.b, g.b16, g.q8, g.c, g.packA, g.packB = nil, nil, nil, nil, nil, nil, nil // keep no caller memory alive
	gemmPool.Put(g)
}

// sgemm is runGemm with B in float32.
func sgemm(bl *blocking, transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	runGemm(bl, transA, transB, M, N, K, alpha, a, lda, bOperand{f: b}, ldb, beta, c, ldc)
}

// sgemmBF16B is sgemm with B in bfloat16: the same driver, whose B packers widen b (see
// packBCols), so the panels, and thus C, are those of sgemm on the widened B.
func sgemmBF16B(bl *blocking, transA, transB bool, M, N, K int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	runGemm(bl, transA, transB, M, N, K, alpha, a, lda, bOperand{h: b}, ldb, beta, c, ldc)
}

func (g *gemm) run() {
	var tm team
	want := 1 // goroutines the product is worth
	if 2*float64(g.M)*float64(g.N)*float64(g.K) >= parallelMinFlops {
		want = runtime.GOMAXPROCS(0)
		tm = newTeam(want)
		defer func() { tm.done() }() // tm grows between phases
	}
	// Tiles for every goroutine the product is worth, not only those granted now: the
	// team may grow between phases. With fuseB a tile spans all rows.
	g.fuseB = roundUp(g.M, g.mr) <= g.mc
	if g.fuseB {
		g.mt, g.nt = tileSize(g.M, g.N, roundUp(g.M, g.mr), g.nc, g.mr, g.nr, want, false)
	} else {
		g.mt, g.nt = tileSize(g.M, g.N, g.mc, g.nc, g.mr, g.nr, want, true)
	}
	msb := max(1, g.ms/g.mt) * g.mt // superblock rows, a whole number of tiles
	nsb := max(1, g.ns/g.nt) * g.nt
	if g.fuseB {
		// No column superblocks: B's buffer is one region per goroutine, not per tile,
		// so all tiles form one phase, taken first come first served (a superblock of
		// 3072 columns made 6 tiles a phase, and a barrier after each at which a
		// goroutine the host slowed kept the other waiting).
		nsb = roundUp(g.N, g.nt)
		regions := min(want, ceilDiv(g.N, g.nt)) // no more tiles run at once
		if cap(g.regionBusy) < regions {
			g.regionBusy = make([]atomic.Bool, regions)
		}
		g.regionBusy = g.regionBusy[:regions]
	}
	mPadMax := roundUp(min(g.M, msb), g.mr)
	nPadMax := roundUp(min(g.N, nsb), g.nr)
	var ksb, bLen int
	if g.fuseB { // B: one region of nt·kc floats per goroutine; A gets half the budget or more
		bLen = len(g.regionBusy) * g.nt * g.kc
		ksb = max(1, (g.packBudget-min(bLen, g.packBudget/2))/(mPadMax*g.kc)) * g.kc
	} else {
		ksb = max(1, g.packBudget/((mPadMax+nPadMax)*g.kc)) * g.kc
		bLen = nPadMax * min(ksb, g.K)
	}
	ksb = min(ksb, g.K)

	buf := getPack(mPadMax*ksb + bLen)
	defer putPack(buf)

	for i0 := 0; i0 < g.M; i0 += msb {
		g.i0, g.i1 = i0, min(i0+msb, g.M)
		g.mPad = roundUp(g.i1-g.i0, g.mr)
		g.tilesM = ceilDiv(g.i1-g.i0, g.mt)
		g.packA = buf[:g.mPad*ksb]
		packedP0 := -1 // k offset of the A superblock in packA
		for j0 := 0; j0 < g.N; j0 += nsb {
			g.j0, g.j1 = j0, min(j0+nsb, g.N)
			g.nPad = roundUp(g.j1-g.j0, g.nr)
			g.tilesN = ceilDiv(g.j1-g.j0, g.nt)
			g.packB = buf[mPadMax*ksb:][:bLen]
			for p0 := 0; p0 < g.K; p0 += ksb {
				g.p0, g.p1 = p0, min(p0+ksb, g.K)
				slices := ceilDiv(g.p1-g.p0, g.kc)
				g.packAItems = 0
				if packedP0 != p0 {
					g.packAItems = slices * g.tilesM
					packedP0 = p0
				}
				if want > 1 {
					tm.grow(want)
				}
				packBItems := slices * g.tilesN
				if g.fuseB {
					packBItems = 0 // the tiles pack B
				}
				g.packing = true
				tm.run(g.packAItems+packBItems, g)
				g.packing = false
				if want > 1 {
					tm.grow(want)
				}
				tm.run(g.tilesM*g.tilesN, g)
			}
		}
	}
}

// tileSize returns the C tile (rows, columns; multiples of mr, nr) for an M×N product on
// workers goroutines, from the target mc×nc. With helpers it tries halving and quartering
// nc, and mc too when splitRows, and keeps the tiling with the shortest phase, counted
// as rounds of tiles (ceil(tiles/workers)) times the tile's area, among those with at
// least 4 tiles per goroutine where the shape allows (the last tiles of a phase then keep everyone busy,
// and a goroutine that the OS deschedules holds up less): the largest tile whose phase
// is within 3% of the shortest. The old rule (halve until 4 tiles per goroutine) left
// odd counts, 9 tiles on 2 goroutines at 512×768, idling one goroutine for a tenth of
// each phase. Results do not depend on the tiles: panels start at multiples of mr and
// nr, k slices at multiples of kc.
func tileSize(M, N, mc, nc, mr, nr, workers int, splitRows bool) (mt, nt int) {
	mt, nt = evenSplit(M, mc, mr), evenSplit(N, nc, nr)
	if workers <= 1 {
		return mt, nt
	}
	type tiling struct{ mt, nt, span int }
	var buf [9]tiling // no allocation per call
	cands := buf[:0]
	minSpan, anyEnough := -1, false
	maxDM := 1
	if splitRows {
		maxDM = 4
	}
	for dm := 1; dm <= maxDM; dm *= 2 {
		for dn := 1; dn <= 4; dn *= 2 {
			tm, tn := evenSplit(M, max(mc/dm, mr), mr), evenSplit(N, max(nc/dn, nr), nr)
			tiles := ceilDiv(M, tm) * ceilDiv(N, tn)
			if tiles >= 4*workers && !anyEnough {
				cands, minSpan, anyEnough = cands[:0], -1, true
			}
			if anyEnough && tiles < 4*workers {
				continue
			}
			span := ceilDiv(tiles, workers) * tm * tn
			cands = append(cands, tiling{tm, tn, span})
			if minSpan < 0 || span < minSpan {
				minSpan = span
			}
		}
	}
	mt, nt = 0, 0
	for _, c := range cands {
		if c.span*32 <= minSpan*33 && c.mt*c.nt > mt*nt { // within 3% of the shortest
			mt, nt = c.mt, c.nt
		}
	}
	return mt, nt
}

// runItem runs item i of the current phase: packItem, or tile or tileFusedB.
func (g *gemm) runItem(i int) {
	switch {
	case g.packing:
		g.packItem(i)
	case g.fuseB:
		g.tileFusedB(i)
	default:
		g.tile(i)
	}
}

// packItem packs one kc slice of one tile's rows of A (items below packAItems) or
// of one tile's columns of B into the superblock's buffers.
func (g *gemm) packItem(item int) {
	if item < g.packAItems {
		s, t := item/g.tilesM, item%g.tilesM
		p := g.p0 + s*g.kc
		kc := min(g.kc, g.p1-p)
		r0 := g.i0 + t*g.mt
		r1 := min(r0+g.mt, g.i1)
		dst := g.packA[(p-g.p0)*g.mPad+(r0-g.i0)*kc:]
		g.packARows(dst, r0, r1, p, kc)
		return
	}
	item -= g.packAItems
	s, t := item/g.tilesN, item%g.tilesN
	p := g.p0 + s*g.kc
	kc := min(g.kc, g.p1-p)
	c0 := g.j0 + t*g.nt
	c1 := min(c0+g.nt, g.j1)
	dst := g.packB[(p-g.p0)*g.nPad+(c0-g.j0)*kc:]
	g.packBCols(dst, c0, c1, p, kc)
}

// tile computes one C tile of the superblock over its k range.
func (g *gemm) tile(t int) {
	tm, tn := t%g.tilesM, t/g.tilesM
	r0 := g.i0 + tm*g.mt
	r1 := min(r0+g.mt, g.i1)
	c0 := g.j0 + tn*g.nt
	c1 := min(c0+g.nt, g.j1)
	for p := g.p0; p < g.p1; p += g.kc {
		kc := min(g.kc, g.p1-p)
		bBlock := g.packB[(p-g.p0)*g.nPad:]
		for j := c0; j < c1; j += g.nr {
			g.panelRows(p, kc, bBlock[(j-g.j0)*kc:][:g.nr*kc], j, r0, r1)
		}
	}
}

// claimRegion returns the index of a region of packB (nt·kc floats) that no other tile
// is using, marked busy until the tile clears regionBusy[index]. No more tiles run at
// once than there are regions (see run), so one is always free.
func (g *gemm) claimRegion() int {
	for i := range g.regionBusy {
		if g.regionBusy[i].CompareAndSwap(false, true) {
			return i
		}
	}
	panic("kernels: more goroutines run SGEMM tiles than the product has regions for")
}

// tileFusedB computes C tile t of the superblock (all its rows: fuseB) over its k
// range, packing the tile's B panels into a region of packB (nt·kc floats) that it
// holds while it runs, just before the micro-kernels read them. With rows of b along j
// (!transB) it packs all the tile's columns of one kc slice at a time, reading each row
// of b in one piece; with rows along k it packs one panel over up to nt/nr slices at a
// time, reading its nr rows of b from start to end. Either way each micro-tile of C sees the kc slices in order, so the
// sums are those of tile.
func (g *gemm) tileFusedB(t int) {
	c0 := g.j0 + t*g.nt
	c1 := min(c0+g.nt, g.j1)
	kc, nr := g.kc, g.nr
	slot := g.claimRegion()
	defer g.regionBusy[slot].Store(false)
	region := g.packB[slot*g.nt*kc:][:g.nt*kc]
	if !g.transB {
		for p := g.p0; p < g.p1; p += kc {
			kcs := min(kc, g.p1-p)
			g.packBCols(region, c0, c1, p, kcs)
			for j := c0; j < c1; j += nr {
				g.panelRows(p, kcs, region[(j-c0)*kcs:][:nr*kcs], j, g.i0, g.i1)
			}
		}
		return
	}
	group := max(1, g.nt/nr) * kc // k per panel packing: fills the region
	for pg := g.p0; pg < g.p1; pg += group {
		pe := min(pg+group, g.p1)
		for j := c0; j < c1; j += nr {
			je := min(j+nr, c1)
			for p := pg; p < pe; p += kc {
				g.packBCols(region[(p-pg)*nr:], j, je, p, min(kc, pe-p))
			}
			for p := pg; p < pe; p += kc {
				kcs := min(kc, pe-p)
				g.panelRows(p, kcs, region[(p-pg)*nr:][:nr*kcs], j, g.i0, g.i1)
			}
		}
	}
}

// panelRows runs the micro-kernel over rows [r0, r1) of the superblock (whole panels of
// packA) against one packed B panel bp: columns j … j+nr−1, the kc slice at p.
func (g *gemm) panelRows(p, kc int, bp []float32, j, r0, r1 int) {
	mr, nr, ldc := g.mr, g.nr, g.ldc
	beta := float32(1)
	if p == 0 {
		beta = g.beta
	}
	aBlock := g.packA[(p-g.p0)*g.mPad:]
	cols := min(nr, g.N-j)
	for i := r0; i < r1; i += mr {
		ap := aBlock[(i-g.i0)*kc:][:mr*kc]
		rows := min(mr, g.M-i)
		if rows == mr && cols == nr {
			g.micro(kc, ap, bp, g.c[i*ldc+j:], ldc, beta)
		} else {
			g.microEdge(kc, ap, bp, i, j, rows, cols, beta)
		}
	}
}

// micro computes a full mr×nr tile of C at c (row stride ldc).
func (g *gemm) micro(kc int, ap, bp, c []float32, ldc int, beta float32) {
	switch g.kernel {
	case kernelAVX512x12x32:
		_ = ap[12*kc-1]
		_ = bp[32*kc-1]
		_ = c[11*ldc+31] // the kernel writes this far
		sgemmKernel12x32(kc, &ap[0], &bp[0], &c[0], ldc, g.alpha, beta)
	case kernelAVX2x6x16:
		_ = ap[6*kc-1]
		_ = bp[16*kc-1]
		_ = c[5*ldc+15]
		sgemmKernel6x16(kc, &ap[0], &bp[0], &c[0], ldc, g.alpha, beta)
	default:
		goKernel2x4(kc, ap, bp, c, ldc, g.alpha, beta)
	}
}

// microEdge computes a partial tile (rows×cols at C[i, j]) through a full-size scratch tile.
func (g *gemm) microEdge(kc int, ap, bp []float32, i, j, rows, cols int, beta float32) {
	var tmp [maxTile]float32
	nr := g.nr
	g.micro(kc, ap, bp, tmp[:], nr, 0)
	for r := 0; r < rows; r++ {
		ci := g.c[(i+r)*g.ldc+j:][:cols]
		tr := tmp[r*nr:][:cols]
		if beta == 0 {
			copy(ci, tr)
			continue
		}
		for x, v := range tr {
			ci[x] = beta*ci[x] + v
		}
	}
}

// packARows packs rows [r0, r1) of op(A), k in [p, p+kc), into mr-row panels at dst:
// panel q holds dst[q·mr·kc + k·mr + ii] = op(A)[r0+q·mr+ii, p+k], zero past r1.
func (g *gemm) packARows(dst []float32, r0, r1, p, kc int) {
	mr := g.mr
	if g.transA { // op(A)[i, k] = a[k·lda + i]: rows of a run along i
		packAlong(dst, mr, g.a[p*g.lda+r0:], g.lda, r1-r0, kc, g.kernel != kernelGo2x4)
		return
	}
	for r := r0; r < r1; r += mr { // op(A)[i, k] = a[i·lda + k]: rows of a run along k
		packStrided(dst[(r-r0)*kc:][:mr*kc], mr, g.a[r*g.lda+p:], g.lda, min(mr, r1-r), kc, g.kernel != kernelGo2x4)
	}
}

// packBCols packs columns [c0, c1) of op(B), k in [p, p+kc), into nr-column panels at
// dst: panel q holds dst[q·nr·kc + k·nr + jj] = op(B)[p+k, c0+q·nr+jj], zero past c1.
// A bfloat16 B (b16) is widened on the way, into the same panels.
func (g *gemm) packBCols(dst []float32, c0, c1, p, kc int) {
	nr := g.nr
	if g.q8 != nil {
		if !g.transB { // rows of S run along j
			packAlongQ8(dst, nr, g.q8, g.ldb, p, c0, c1, kc, g.kernel != kernelGo2x4)
			return
		}
		for c := c0; c < c1; c += nr { // row j of S is column j of op(B)
			packStridedQ8(dst[(c-c0)*kc:][:nr*kc], nr, g.q8, g.ldb, c, min(nr, c1-c), p, kc, g.kernel != kernelGo2x4)
		}
		return
	}
	if g.b16 != nil {
		if !g.transB {
			packAlongBF16(dst, nr, g.b16[p*g.ldb+c0:], g.ldb, c1-c0, kc, g.kernel != kernelGo2x4)
			return
		}
		for c := c0; c < c1; c += nr {
			packStridedBF16(dst[(c-c0)*kc:][:nr*kc], nr, g.b16[c*g.ldb+p:], g.ldb, min(nr, c1-c), kc, g.kernel != kernelGo2x4)
		}
		return
	}
	if !g.transB { // op(B)[k, j] = b[k·ldb + j]: rows of b run along j
		packAlong(dst, nr, g.b[p*g.ldb+c0:], g.ldb, c1-c0, kc, g.kernel != kernelGo2x4)
		return
	}
	for c := c0; c < c1; c += nr { // op(B)[k, j] = b[j·ldb + k]: rows of b run along k
		packStrided(dst[(c-c0)*kc:][:nr*kc], nr, g.b[c*g.ldb+p:], g.ldb, min(nr, c1-c), kc, g.kernel != kernelGo2x4)
	}
}

// packAlong fills the panels (width floats per k, kc deep) of w consecutive indices
// from kc rows of src, ld apart, that run along those indices:
// dst[q·width·kc + k·width + x] = src[k·ld + q·width + x], zero past w. With asm (the
// assembly paths) packAlongAVX copies the whole panels, in the same order (blocks of 8
// rows).
//
// It goes through src in blocks of packAlongRows rows, filling every panel's part of a
// block before the next block: src is read in order, a block at a time (which the
// hardware prefetchers follow, and which stays in L1 while its panels are filled), and
// each panel is written in order, in runs of packAlongRows·width floats. Filling every
// panel row by row instead writes to w/width places width·kc floats apart at each row,
// a power of two times 4 KiB for 32-wide panels (and 3·4 KiB for 12-wide ones): all in
// one set of L1, which then holds few of them and writes each line back many times.
func packAlong(dst []float32, width int, src []float32, ld, w, kc int, asm bool) {
	full := w / width
	panel := width * kc
	q0 := 0 // the first panel left to Go
	if asm && full > 0 && (width == 32 || width == 16 || width == 12 || width == 6) {
		_ = dst[(full-1)*panel+kc*width-1] // packAlongAVX writes this far
		_ = src[(kc-1)*ld+full*width-1]    // and reads this far
		packAlongAVX(&dst[0], panel, &src[0], ld, kc, full, width)
		q0 = full
	}
	for k0 := 0; k0 < kc; k0 += packAlongRows {
		k1 := min(k0+packAlongRows, kc)
		for q := q0; q < full; q++ {
			d, s := dst[q*panel:], src[q*width:]
			// Whole-array copies of up to 16 bytes compile to one SSE move.
			switch width {
			case 32:
				for k := k0; k < k1; k++ {
					sk, dk := s[k*ld:][:32], d[k*32:][:32]
					for x := 0; x < 32; x += 8 {
						*(*[4]float32)(dk[x:]) = [4]float32(sk[x:])
						*(*[4]float32)(dk[x+4:]) = [4]float32(sk[x+4:])
					}
				}
			case 12:
				for k := k0; k < k1; k++ {
					sk, dk := s[k*ld:][:12], d[k*12:][:12]
					*(*[4]float32)(dk[0:]) = [4]float32(sk[0:])
					*(*[4]float32)(dk[4:]) = [4]float32(sk[4:])
					*(*[4]float32)(dk[8:]) = [4]float32(sk[8:])
				}
			case 16:
				for k := k0; k < k1; k++ {
					sk, dk := s[k*ld:][:16], d[k*16:][:16]
					*(*[4]float32)(dk[0:]) = [4]float32(sk[0:])
					*(*[4]float32)(dk[4:]) = [4]float32(sk[4:])
					*(*[4]float32)(dk[8:]) = [4]float32(sk[8:])
					*(*[4]float32)(dk[12:]) = [4]float32(sk[12:])
				}
			case 6:
				for k := k0; k < k1; k++ {
					sk, dk := s[k*ld:][:6], d[k*6:][:6]
					*(*[4]float32)(dk) = [4]float32(sk)
					dk[4], dk[5] = sk[4], sk[5]
				}
			case 4:
				for k := k0; k < k1; k++ {
					*(*[4]float32)(d[k*4:]) = [4]float32(s[k*ld:])
				}
			case 2:
				for k := k0; k < k1; k++ {
					*(*[2]float32)(d[k*2:]) = [2]float32(s[k*ld:])
				}
			default:
				for k := k0; k < k1; k++ {
					copy(d[k*width:][:width], s[k*ld:][:width])
				}
			}
		}
		if rest := w - full*width; rest > 0 {
			d, s := dst[full*panel:], src[full*width:]
			for k := k0; k < k1; k++ {
				dk := d[k*width:][:width]
				copy(dk, s[k*ld:][:rest])
				clear(dk[rest:])
			}
		}
	}
}

// packAlongRows is the block of rows packAlong reads before moving on.
const packAlongRows = 8

// packStrided fills one panel, width floats per k, from w rows of src that are ld
// apart, each read along k: panel[k·width + x] = src[x·ld + k] for x < w, zero for
// w <= x < width. Full panels gather several rows at once, so that the panel is
// written in order; with asm (the assembly paths), eight rows at a time are transposed
// in 8×8 blocks with AVX, the last four of a 12-wide panel in 4×8 blocks, and 32-wide
// panels (AVX-512) sixteen rows at a time in 16×16 blocks.
func packStrided(panel []float32, width int, src []float32, ld, w, kc int, asm bool) {
	switch {
	case width == 32 && w == 32: // the AVX-512 path's panels: 16×16 blocks
		gather16(panel, 32, 0, src, ld, kc, asm)
		gather16(panel, 32, 16, src[16*ld:], ld, kc, asm)
	case width == 12 && w == 12:
		gather8(panel, 12, 0, src, ld, kc, asm)
		gather4(panel, 12, 8, src[8*ld:], ld, kc, asm)
	case width == 16 && w == 16:
		gather8(panel, 16, 0, src, ld, kc, asm)
		gather8(panel, 16, 8, src[8*ld:], ld, kc, asm)
	case width == 6 && w == 6:
		gather6(panel, src, ld, kc)
	case width == 4 && w == 4:
		gather4(panel, 4, 0, src, ld, kc, asm)
	case width == 2 && w == 2:
		s0, s1 := src[:kc], src[ld:][:kc]
		for k := 0; k < kc; k++ {
			d := (*[2]float32)(panel[k*2:])
			d[0], d[1] = s0[k], s1[k]
		}
	default:
		for x := 0; x < w; x++ {
			row := src[x*ld:][:kc]
			for k, v := range row {
				panel[k*width+x] = v
			}
		}
		for x := w; x < width; x++ {
			for k := 0; k < kc; k++ {
				panel[k*width+x] = 0
			}
		}
	}
}

// gather8 sets panel[k·width + off + x] = src[x·ld + k] for x < 8, k < kc; with asm,
// whole 8×8 blocks go through transpose8.
func gather8(panel []float32, width, off int, src []float32, ld, kc int, asm bool) {
	s0, s1, s2, s3 := src[:kc], src[ld:][:kc], src[2*ld:][:kc], src[3*ld:][:kc]
	s4, s5, s6, s7 := src[4*ld:][:kc], src[5*ld:][:kc], src[6*ld:][:kc], src[7*ld:][:kc]
	k := 0
	if asm && kc >= 8 {
		k = kc &^ 7
		_ = panel[(k-1)*width+off+7] // transpose8 writes this far
		_ = s7[k-1]                  // and reads this far
		transpose8(&panel[off], width, &src[0], ld, k)
	}
	for ; k < kc; k++ {
		d := (*[8]float32)(panel[k*width+off:])
		d[0], d[1], d[2], d[3] = s0[k], s1[k], s2[k], s3[k]
		d[4], d[5], d[6], d[7] = s4[k], s5[k], s6[k], s7[k]
	}
}

// gather16 sets panel[k·width + off + x] = src[x·ld + k] for x < 16, k < kc; with asm
// (only on the AVX-512 path, whose panels are the only ones 32 wide), whole 16×16 blocks
// go through transpose16, and the last kc mod 16 through gather8.
func gather16(panel []float32, width, off int, src []float32, ld, kc int, asm bool) {
	k := 0
	if asm && kc >= 16 {
		k = kc &^ 15
		_ = panel[(k-1)*width+off+15] // transpose16 writes this far
		_ = src[15*ld+k-1]            // and reads this far
		transpose16(&panel[off], width, &src[0], ld, k)
	}
	if k < kc {
		gather8(panel[k*width:], width, off, src[k:], ld, kc-k, asm)
		gather8(panel[k*width:], width, off+8, src[8*ld+k:], ld, kc-k, asm)
	}
}

// gather6 sets panel[k·6 + x] = src[x·ld + k] for x < 6, k < kc.
func gather6(panel []float32, src []float32, ld, kc int) {
	s0, s1, s2 := src[:kc], src[ld:][:kc], src[2*ld:][:kc]
	s3, s4, s5 := src[3*ld:][:kc], src[4*ld:][:kc], src[5*ld:][:kc]
	for k := 0; k < kc; k++ {
		d := (*[6]float32)(panel[k*6:])
		d[0], d[1], d[2], d[3], d[4], d[5] = s0[k], s1[k], s2[k], s3[k], s4[k], s5[k]
	}
}

// gather4 sets panel[k·width + off + x] = src[x·ld + k] for x < 4, k < kc; with asm,
// whole 4×8 blocks go through transpose4.
func gather4(panel []float32, width, off int, src []float32, ld, kc int, asm bool) {
	s0, s1, s2, s3 := src[:kc], src[ld:][:kc], src[2*ld:][:kc], src[3*ld:][:kc]
	k := 0
	if asm && kc >= 8 {
		k = kc &^ 7
		_ = panel[(k-1)*width+off+3] // transpose4 writes this far
		_ = s3[k-1]                  // and reads this far
		transpose4(&panel[off], width, &src[0], ld, k)
	}
	for ; k < kc; k++ {
		d := (*[4]float32)(panel[k*width+off:])
		d[0], d[1], d[2], d[3] = s0[k], s1[k], s2[k], s3[k]
	}
}

// packBufs keeps packed-panel buffers between calls. Unlike a sync.Pool it survives
// garbage collections (spago collects often, and a lost buffer costs an allocation of
// megabytes); it holds at most maxPackBufs buffers, each of at most a superblock
// (packBudget floats, 8 MiB for the assembly blocking).
var packBufs struct {
	sync.Mutex
	free [][]float32
}

func maxPackBufs() int { return runtime.GOMAXPROCS(0) + 1 }

// getPack returns a buffer of n floats (contents undefined); give it back with putPack.
func getPack(n int) []float32 {
	packBufs.Lock()
	free := packBufs.free
	var buf []float32
	if len(free) > 0 {
		i := len(free) - 1 // the last one, unless another is large enough
		for j, b := range free {
			if cap(b) >= n {
				i = j
				break
			}
		}
		buf = free[i]
		free[i] = free[len(free)-1]
		free[len(free)-1] = nil
		packBufs.free = free[:len(free)-1]
	}
	packBufs.Unlock()
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	return buf[:n]
}

// putPack returns a buffer from getPack.
func putPack(buf []float32) {
	packBufs.Lock()
	if len(packBufs.free) < maxPackBufs() {
		packBufs.free = append(packBufs.free, buf)
	}
	packBufs.Unlock()
}

// evenSplit cuts n into pieces of about target (never more than target rounded up to
// unit) and returns the piece size, a multiple of unit, making the pieces nearly equal.
func evenSplit(n, target, unit int) int {
	pieces := ceilDiv(n, target)
	return roundUp(ceilDiv(n, pieces), unit)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, unit int) int { return ceilDiv(a, unit) * unit }
