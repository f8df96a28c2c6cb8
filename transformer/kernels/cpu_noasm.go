//go:build !amd64 || purego

package kernels

// This build has no assembly kernels.
const (
	haveAVX2   = false
	haveAVX512 = false
)
