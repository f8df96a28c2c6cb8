//go:build amd64 && !purego

package kernels

// sgemmKernel6x16 computes one 6×16 tile of C from packed panels; see sgemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(kc int, a *float32, b *float32, c *float32, ldc int, alpha float32, beta float32)
