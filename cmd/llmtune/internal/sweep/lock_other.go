//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sweep

// tryLock always succeeds: without flock, two sweeps of the same file must not run at
// once here.
func tryLock(string) (unlock func(), ok bool, err error) { return func() {}, true, nil }
