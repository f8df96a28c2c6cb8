//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// haveAsmKernel reports whether sgemmKernel6x16 can run here (AVX2 and FMA, with OS
// support for the YMM state, which x/sys/cpu checks).
var haveAsmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgemmKernel6x16 computes one 6×16 tile of C from packed panels; see sgemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32)
