//go:build !(linux && amd64 && !purego)

package kernels

// enableAMX reports false: the tile state is requested from Linux only.
func enableAMX() bool { return false }
