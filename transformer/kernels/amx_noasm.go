//go:build !amd64 || purego

package kernels

const cpuHasAMX = false

func amxTiles(cfg *byte, a, b *uint16, c *float32, ldc, blocks, ksteps int, accumulate bool) {
	panic("kernels: AMX kernel called without AMX")
}

func packRowAMX(dst *uint16, src *float32, steps int) {
	panic("kernels: AMX kernel called without AMX")
}
