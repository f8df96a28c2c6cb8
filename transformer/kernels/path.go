package kernels

import (
	"fmt"
	"sync/atomic"
)

// Path names one set of kernel implementations. Every kernel with an assembly version
// runs the one that the current path selects (see SetPath):
//
//   - PathAVX512: Sgemm's 12×32 AVX-512F micro-kernel, and the AVX-512F versions of the
//     element-wise kernels: GeluForward/Backward, LayerNormForward/Backward (their
//     element-wise passes), SwiGLUForward/Backward, RMSNormForward/Backward, the
//     exponentials of the attention's softmax and of the cross-entropy's (the latter with
//     the AVX2 version's bits), VecMatBF16 and MatVecQ8; the other kernels (VecMat, MatVec,
//     MatVecBF16, WidenBF16, DequantQ8, CachedAttentionForward(GQA), the row maximum and
//     scaling of the softmaxes, memory-bound) run their AVX2/FMA versions, having no
//     AVX-512 one yet (or none that measured faster).
//   - PathAVX2: Sgemm's 6×16 AVX2/FMA micro-kernel and the AVX2/FMA versions of the rest.
//   - PathGo: pure Go everywhere, on every CPU and GOARCH.
//
// The element-wise kernels named above, MatVecQ8 and DequantQ8 give the same bits on
// every path (see each); the others round differently from one path to another. The bfloat16 kernels (VecMatBF16,
// MatVecBF16) give, on each path, the bits of their float32 counterparts on that path.
//
// The default is the best path this CPU supports.
type Path int32

const (
	PathGo Path = iota
	PathAVX2
	PathAVX512
)

func (p Path) String() string {
	switch p {
	case PathGo:
		return "go"
	case PathAVX2:
		return "avx2"
	case PathAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Path(%d)", int32(p))
}

// Paths lists the paths this CPU and build support, pure Go first and the default last.
func Paths() []Path {
	ps := []Path{PathGo}
	if haveAVX2 {
		ps = append(ps, PathAVX2)
	}
	if haveAVX512 {
		ps = append(ps, PathAVX512)
	}
	return ps
}

// bestPath is the default: the last of Paths.
func bestPath() Path {
	ps := Paths()
	return ps[len(ps)-1]
}

// currentPath is the path kernels starting now run.
var currentPath atomic.Int32

func init() { currentPath.Store(int32(bestPath())) }

// SetPath selects the kernel path package-wide and returns the previous one. It panics
// if this CPU does not support p (see Paths). It exists for tests and benchmarks, which
// exercise every path on one machine; it is safe to call concurrently with the kernels,
// and a call of Sgemm, VecMat(BF16), MatVec(BF16), CachedAttentionForward,
// SwiGLUForward/Backward or RMSNormForward/Backward already running finishes on the path
// it started with.
func SetPath(p Path) (previous Path) {
	supported := false
	for _, q := range Paths() {
		supported = supported || q == p
	}
	if !supported {
		panic("kernels: SetPath: this CPU or build does not support the " + p.String() + " path")
	}
	return Path(currentPath.Swap(int32(p)))
}

// pathSeen, when not nil, is called by the kernels whose paths give the same bits
// (SwiGLU, RMSNorm, the attention's softmax) with the path each piece of their work runs
// on: tests set it to check that these kernels honour SetPath, which their results
// cannot show. It must be safe for concurrent use.
var pathSeen func(kernel string, p Path)

// notePath tells pathSeen, if set, that kernel runs a piece of work on p.
func notePath(kernel string, p Path) {
	if f := pathSeen; f != nil {
		f(kernel, p)
	}
}

// CurrentPath returns the path kernels starting now run.
func CurrentPath() Path { return Path(currentPath.Load()) }

// SetPureGo is SetPath(PathGo) when on and SetPath of the best supported path when off;
// it returns whether the previous path was PathGo. Kept for callers that only tell pure
// Go from assembly; SetPath is the general switch.
func SetPureGo(on bool) (previous bool) {
	p := bestPath()
	if on {
		p = PathGo
	}
	return SetPath(p) == PathGo
}

// useAsm reports whether a kernel starting now may run its AVX2/FMA assembly: the
// current path is not PathGo (PathAVX512 implies AVX2 and FMA).
func useAsm() bool { return CurrentPath() != PathGo }
