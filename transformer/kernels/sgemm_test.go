package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gemmPaths lists the kernel paths this machine can run, with a function that selects
// one package-wide and returns a function restoring the previous choice.
func gemmPaths() []struct {
	name string
	path Path
	use  func() (restore func())
} {
	var paths []struct {
		name string
		path Path
		use  func() (restore func())
	}
	for _, p := range Paths() {
		paths = append(paths, struct {
			name string
			path Path
			use  func() (restore func())
		}{p.String(), p, func() func() {
			prev := SetPath(p)
			return func() { SetPath(prev) }
		}})
	}
	return paths
}

// gemmCase is one Sgemm call with padded operands: every matrix lives in a buffer whose
// row stride exceeds its width, and the padding holds sentinels that must survive.
type gemmCase struct {
	transA, transB bool
	M, N, K        int
	alpha, beta    float32
	pad            int // extra floats per row (and trailing), 0 for tight strides
	nanC           bool
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("Sgemm(transA=%v, transB=%v, M=%d, N=%d, K=%d, alpha=%g, beta=%g, pad=%d, nanC=%v)",
		tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, tc.beta, tc.pad, tc.nanC)
}

const sentinel = float32(-12345.5)

// operands returns A, B and C filled from rng, with their strides; padding holds sentinel.
func (tc gemmCase) operands(rng *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	mat := func(rows, cols int, nan bool) ([]float32, int) {
		ld := cols + tc.pad
		buf := make([]float32, rows*ld+tc.pad)
		for i := range buf {
			buf[i] = sentinel
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				v := float32(rng.NormFloat64())
				if nan {
					v = float32(math.NaN())
				}
				buf[i*ld+j] = v
			}
		}
		return buf, ld
	}
	if tc.transA {
		a, lda = mat(tc.K, tc.M, false)
	} else {
		a, lda = mat(tc.M, tc.K, false)
	}
	if tc.transB {
		b, ldb = mat(tc.N, tc.K, false)
	} else {
		b, ldb = mat(tc.K, tc.N, false)
	}
	c, ldc = mat(tc.M, tc.N, tc.nanC)
	return a, lda, b, ldb, c, ldc
}

// absAll returns |x| elementwise.
func absAll(x []float32) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
	return y
}

// gemmTolerance returns per-element tolerances for C: float32 reassociation error of a
// K-term dot product, K·2⁻²³·(|alpha|·|op(A)|·|op(B)| + |beta·C|), plus a tiny floor.
func gemmTolerance(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) []float32 {
	mag := absAll(c)
	beta := float32(math.Abs(float64(tc.beta)))
	if tc.nanC || tc.beta == 0 {
		beta = 0
	}
	alpha := float32(math.Abs(float64(tc.alpha)))
	sgemmRef(tc.transA, tc.transB, tc.M, tc.N, tc.K, alpha, absAll(a), lda, absAll(b), ldb, beta, mag, ldc)
	scale := float32(tc.K+2) * 0x1p-23
	for i := range mag {
		mag[i] = mag[i]*scale + 1e-30
	}
	return mag
}

// assertClose checks |got-want| <= tol elementwise and reports the largest difference
// and the first index out of tolerance, instead of printing whole matrices. Sentinels
// and NaNs must match exactly.
func assertClose(t *testing.T, got, want, tol []float32, msg string) bool {
	t.Helper()
	require.Equal(t, len(want), len(got), msg)
	maxDiff, maxAt, bad, firstBad := 0.0, -1, 0, -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		if math.IsNaN(g) || math.IsNaN(w) {
			if math.IsNaN(g) != math.IsNaN(w) {
				d = math.Inf(1)
			} else {
				d = 0
			}
		}
		if d > maxDiff {
			maxDiff, maxAt = d, i
		}
		if d > float64(tol[i]) {
			if firstBad < 0 {
				firstBad = i
			}
			bad++
		}
	}
	if bad == 0 {
		return true
	}
	return assert.Fail(t, fmt.Sprintf("%s: %d of %d elements out of tolerance; first at [%d]: got %g, want %g (tol %g); max abs diff %g at [%d]",
		msg, bad, len(want), firstBad, got[firstBad], want[firstBad], tol[firstBad], maxDiff, maxAt))
}

// checkGemmCase runs one case through Sgemm and compares it with sgemmRef.
func checkGemmCase(t *testing.T, rng *rand.Rand, tc gemmCase) bool {
	t.Helper()
	a, lda, b, ldb, c, ldc := tc.operands(rng)
	want := append([]float32(nil), c...)
	tol := gemmTolerance(tc, a, lda, b, ldb, c, ldc)
	for i, v := range c {
		if v == sentinel {
			tol[i] = 0 // padding must stay untouched
		}
	}
	sgemmRef(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
	Sgemm(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	return assertClose(t, c, want, tol, tc.String())
}

func TestSgemmMatchesRef(t *testing.T) {
	sizes := []int{1, 7, 33, 65, 96, 130} // 96: whole 6×16 and 12×32 tiles only
	scalars := []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {0.5, 0.25}, {0.5, 0}, {1, 0.25}, {0.5, 1}}
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			rng := rand.New(rand.NewPCG(1, 2))
			n := 0
			for _, M := range sizes {
				for _, N := range sizes {
					for _, K := range sizes {
						for tr := 0; tr < 4; tr++ {
							s := scalars[n%len(scalars)]
							tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: M, N: N, K: K,
								alpha: s.alpha, beta: s.beta, pad: []int{0, 5}[n%2]}
							n++
							if !checkGemmCase(t, rng, tc) {
								return
							}
						}
					}
				}
			}
		})
	}
}

func TestSgemmLargerShapes(t *testing.T) {
	shapes := [][3]int{{200, 300, 257}, {97, 531, 300}, {531, 17, 513}}
	rng := rand.New(rand.NewPCG(3, 4))
	for i, s := range shapes {
		for tr := 0; tr < 4; tr++ {
			tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: s[0], N: s[1], K: s[2], pad: 3,
				alpha: []float32{1, 0.5}[(i+tr)%2], beta: []float32{0, 0.25}[(i+tr)%2]}
			a, lda, b, ldb, c0, ldc := tc.operands(rng)
			want := append([]float32(nil), c0...)
			sgemmRef(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
			tol := gemmTolerance(tc, a, lda, b, ldb, c0, ldc)
			for _, path := range gemmPaths() {
				restore := path.use()
				c := append([]float32(nil), c0...)
				Sgemm(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
				restore()
				assertClose(t, c, want, tol, path.name+": "+tc.String())
			}
		}
	}
}

func TestSgemmBetaZeroIgnoresNaN(t *testing.T) {
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			rng := rand.New(rand.NewPCG(5, 6))
			for tr := 0; tr < 4; tr++ {
				for _, s := range [][3]int{{7, 33, 65}, {130, 65, 300}, {1, 1, 1}} {
					tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: s[0], N: s[1], K: s[2],
						alpha: 0.5, beta: 0, pad: 2, nanC: true}
					checkGemmCase(t, rng, tc)
				}
			}
		})
	}
}

func TestSgemmDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			// K == 0: C = beta·C, A and B unread.
			c := []float32{1, 2, 3, 4}
			Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
			assert.Equal(t, []float32{0.5, 1, 1.5, 2}, c, "K=0, beta=0.5")
			Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0, c, 2)
			assert.Equal(t, []float32{0, 0, 0, 0}, c, "K=0, beta=0")
			// alpha == 0: A and B are not read, even when they hold NaN.
			c = []float32{nan, 2, 3, 4}
			ab := []float32{nan, nan, nan, nan}
			Sgemm(false, false, 2, 2, 2, 0, ab, 2, ab, 2, 0, c, 2)
			assert.Equal(t, []float32{0, 0, 0, 0}, c, "alpha=0, beta=0")
			// M or N zero: nothing to do, nothing read.
			Sgemm(false, false, 0, 3, 3, 1, nil, 3, nil, 3, 0, nil, 3)
			Sgemm(true, true, 3, 0, 3, 1, nil, 3, nil, 3, 0, nil, 3)
		})
	}
}

func TestSgemmPanicsOnShortBuffers(t *testing.T) {
	a := make([]float32, 6)
	assert.PanicsWithValue(t, "kernels: Sgemm: A too short for its shape", func() {
		Sgemm(false, false, 2, 2, 4, 1, a, 4, make([]float32, 8), 2, 0, make([]float32, 4), 2)
	})
	assert.PanicsWithValue(t, "kernels: Sgemm: C too short for its shape", func() {
		Sgemm(false, false, 2, 2, 3, 1, a, 3, a, 2, 0, make([]float32, 4), 3)
	})
}

// TestSgemmSuperblocks shrinks the blocking so that small shapes cross every
// boundary the driver has: several tiles, row/column/depth superblocks, partial
// panels, and A reused across column superblocks.
func TestSgemmSuperblocks(t *testing.T) {
	tiny := func(bl blocking) *blocking {
		bl.kc, bl.mc, bl.nc = 8, 2*bl.mr, 2*bl.nr
		bl.ms, bl.ns = 3*bl.mr, 5*bl.nr
		bl.packBudget = 2 * (bl.ms + bl.ns) * bl.kc // 16-deep superblocks
		return &bl
	}
	bls := map[string]*blocking{}
	for _, p := range Paths() {
		bls[p.String()] = tiny(*blockingFor(p))
	}
	shapes := [][3]int{{45, 130, 37}, {19, 100, 16}, {7, 81, 1}}
	for name, bl := range bls {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 8))
			for _, s := range shapes {
				for tr := 0; tr < 4; tr++ {
					for _, beta := range []float32{0, 0.25} {
						tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: s[0], N: s[1], K: s[2], alpha: 0.5, beta: beta, pad: 1}
						a, lda, b, ldb, c, ldc := tc.operands(rng)
						want := append([]float32(nil), c...)
						tol := gemmTolerance(tc, a, lda, b, ldb, c, ldc)
						sgemmRef(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
						sgemm(bl, tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
						assertClose(t, c, want, tol, tc.String())
					}
				}
			}
		})
	}
}

// TestSgemmDeterministic checks that results are bit-identical whatever GOMAXPROCS is.
func TestSgemmDeterministic(t *testing.T) {
	for _, path := range gemmPaths() {
		t.Run(path.name, func(t *testing.T) {
			defer path.use()()
			rng := rand.New(rand.NewPCG(9, 10))
			for tr := 0; tr < 4; tr++ {
				tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: 150, N: 700, K: 300, alpha: 1, beta: 0.5}
				a, lda, b, ldb, c0, ldc := tc.operands(rng)
				var first []float32
				for _, procs := range []int{1, 2, 3, 5} {
					prev := runtime.GOMAXPROCS(procs)
					c := append([]float32(nil), c0...)
					Sgemm(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
					runtime.GOMAXPROCS(prev)
					if first == nil {
						first = c
						continue
					}
					assert.Equal(t, first, c, "%v with GOMAXPROCS=%d differs from GOMAXPROCS=1", tc, procs)
				}
			}
		})
	}
}

// TestSgemmConcurrent runs many Sgemm calls at once (as spago's concurrent backward
// does) and checks each against the same call made alone. Run it under -race too.
func TestSgemmConcurrent(t *testing.T) {
	const calls = 16
	type job struct {
		tc            gemmCase
		a, b, c, want []float32
		lda, ldb, ldc int
	}
	rng := rand.New(rand.NewPCG(11, 12))
	jobs := make([]job, calls)
	for i := range jobs {
		tc := gemmCase{transA: i&1 != 0, transB: i&2 != 0, M: 40 + 13*i, N: 120 + 7*i, K: 100 + 11*i, alpha: 1, beta: 0.25, pad: i % 3}
		a, lda, b, ldb, c, ldc := tc.operands(rng)
		want := append([]float32(nil), c...)
		Sgemm(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
		jobs[i] = job{tc, a, b, c, want, lda, ldb, ldc}
	}
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Add(1)
		go func(j *job) {
			defer wg.Done()
			Sgemm(j.tc.transA, j.tc.transB, j.tc.M, j.tc.N, j.tc.K, j.tc.alpha, j.a, j.lda, j.b, j.ldb, j.tc.beta, j.c, j.ldc)
		}(&jobs[i])
	}
	wg.Wait()
	for _, j := range jobs {
		assert.Equal(t, j.want, j.c, "%v run concurrently differs from the same call alone", j.tc)
	}
	assert.Zero(t, busyWorkers.Load(), "busy workers left counted after all calls returned")
}

// TestSgemmFusedBMatchesShared checks that tiles packing their own B panels (fuseB: M
// fits in one tile row) give the very bits of B packed once per superblock and shared:
// the same products with mc = mr, which makes every product of more than mr rows take the
// shared path. Shapes cross kc slices, the panel-wise packing groups of transposed B,
// superblocks of K, partial panels, and more tiles than goroutines (which take turns
// with the B regions); run with one, two and three goroutines.
func TestSgemmFusedBMatchesShared(t *testing.T) {
	for _, p := range Paths() {
		t.Run(p.String(), func(t *testing.T) {
			fused := *blockingFor(p)
			fused.kc, fused.nc = 16, 3*fused.nr
			fused.mc = max(fused.mc, 70)
			fused.packBudget = 4 * fused.kc * 70 // superblocks of K when B takes its share
			shared := fused
			shared.mc = shared.mr
			rng := rand.New(rand.NewPCG(13, 14))
			for _, s := range [][3]int{{70, 200, 300}, {37, 130, 65}, {13, 33, 17}, {64, 96, 700}, {50, 900, 120}} {
				for tr := 0; tr < 4; tr++ {
					for _, beta := range []float32{0, 0.25} {
						tc := gemmCase{transA: tr&1 != 0, transB: tr&2 != 0, M: s[0], N: s[1], K: s[2], alpha: 0.5, beta: beta, pad: 3}
						a, lda, b, ldb, c0, ldc := tc.operands(rng)
						want := append([]float32(nil), c0...)
						sgemm(&shared, tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, want, ldc)
						ref := append([]float32(nil), c0...)
						sgemmRef(tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, ref, ldc)
						assertClose(t, want, ref, gemmTolerance(tc, a, lda, b, ldb, c0, ldc), "shared: "+tc.String())
						for _, procs := range []int{1, 2, 3} {
							prev := runtime.GOMAXPROCS(procs)
							c := append([]float32(nil), c0...)
							sgemm(&fused, tc.transA, tc.transB, tc.M, tc.N, tc.K, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
							runtime.GOMAXPROCS(prev)
							assert.Equal(t, want, c, "%v, GOMAXPROCS=%d: fused B differs from shared B", tc, procs)
						}
					}
				}
			}
		})
	}
}
