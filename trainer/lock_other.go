//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris)

package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// lockPath is the best-effort lock of platforms without flock: the lock file is created
// exclusively (O_EXCL) and removed by release, so a second run is refused while the file
// exists. Unlike flock, nothing removes the file when its process is killed: a later run
// takes it over only when the holder recorded in it ran on this host and
// os.FindProcess no longer finds its pid (which Windows can tell); otherwise the error
// says to delete the file once no run uses it.
func lockPath(dir, path string) (*dirLock, error) {
	for range 2 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return &dirLock{path: path, f: f}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lock output_dir %s: %w", dir, err)
		}
		h := readLockInfo(path)
		if h == nil || !holderGone(h) {
			return nil, &inUseError{dir: dir, holder: h,
				hint: "this platform has no flock: if no run is using it, delete " + path}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock output_dir %s: remove the stale %s: %w", dir, path, err)
		}
	}
	return nil, fmt.Errorf("lock output_dir %s: %s keeps being recreated by another process", dir, path)
}

// holderGone reports whether h is a process of this host that no longer exists, as far
// as os.FindProcess can tell (on Unix it always finds one).
func holderGone(h *lockInfo) bool {
	if host, err := os.Hostname(); err != nil || host != h.Host {
		return false
	}
	p, err := os.FindProcess(h.PID)
	if err != nil {
		return true
	}
	p.Release()
	return false
}

// release closes the lock file and removes it (in that order, as Windows cannot remove an
// open file).
func (l *dirLock) release() error {
	err := l.f.Close()
	if rerr := os.Remove(l.path); err == nil {
		err = rerr
	}
	return err
}
