//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// haveAVX2 reports whether the AVX2/FMA kernels (sgemm_amd64.s, decode_amd64.s,
// vecexp_amd64.s, q8_amd64.s) can run here: AVX2, FMA and F16C (every CPU with AVX2 so
// far has F16C, which the 8-bit kernels use to widen their float16 scales), with OS
// support for the YMM state, which x/sys/cpu checks.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C

// haveAVX512 reports whether the AVX-512 SGEMM kernel (sgemm512_amd64.s) can run here:
// AVX-512F with OS support for the ZMM state (x/sys/cpu checks it), on top of AVX2/FMA
// for the kernels that have no AVX-512 version.
var haveAVX512 = haveAVX2 && cpu.X86.HasAVX512F
