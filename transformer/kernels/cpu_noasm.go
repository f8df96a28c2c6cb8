//go:build !amd64 || purego

package kernels

// haveAsm is false: this build has no assembly kernels.
const haveAsm = false
