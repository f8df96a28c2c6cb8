//go:build amd64 && !purego

package kernels

import "golang.org/x/sys/cpu"

// cpuHasAMX reports whether the CPU has the AMX tiles and their bfloat16 dot product
// (the OS must still grant the tile state: enableAMX).
var cpuHasAMX = haveAVX512 && cpu.X86.HasAMXTile && cpu.X86.HasAMXBF16

//go:noescape
func amxTiles(cfg *byte, a, b *uint16, c *float32, ldc, blocks, ksteps int, accumulate bool)

//go:noescape
func packRowAMX(dst *uint16, src *float32, steps int)
