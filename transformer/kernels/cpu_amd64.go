//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// haveAsm reports whether the assembly kernels (sgemm_amd64.s, decode_amd64.s,
// vecexp_amd64.s) can run here: AVX2 and FMA, with OS support for the YMM state, which
// x/sys/cpu checks.
var haveAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA
