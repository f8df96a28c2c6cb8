//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// haveAVX2 reports whether the AVX2/FMA kernels (sgemm_amd64.s, decode_amd64.s,
// vecexp_amd64.s) can run here: AVX2 and FMA, with OS support for the YMM state, which
// x/sys/cpu checks.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveAVX512 reports whether the AVX-512 SGEMM kernel (sgemm512_amd64.s) can run here:
// AVX-512F with OS support for the ZMM state (x/sys/cpu checks it), on top of AVX2/FMA
// for the kernels that have no AVX-512 version.
var haveAVX512 = haveAVX2 && cpu.X86.HasAVX512F
