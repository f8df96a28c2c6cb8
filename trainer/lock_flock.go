//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// lockPath locks the file at path (dir's lock file) with flock(LOCK_EX|LOCK_NB) on a
// descriptor that stays open until release. A file left by a dead process is simply
// locked again: flock locks die with their process.
func lockPath(dir, path string) (*dirLock, error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("lock output_dir %s: %w", dir, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &inUseError{dir: dir, holder: readLockInfo(path)}
			}
			return nil, fmt.Errorf("lock output_dir %s: flock %s: %w", dir, path, err)
		}
		// The previous holder removes the file before it lets go of the lock (release):
		// if that happened after this open, the file locked is no longer path's; again.
		fst, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock output_dir %s: %w", dir, err)
		}
		pst, err := os.Stat(path)
		if err == nil && os.SameFile(fst, pst) {
			return &dirLock{path: path, f: f}, nil
		}
		f.Close()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("lock output_dir %s: %w", dir, err)
		}
	}
	return nil, fmt.Errorf("lock output_dir %s: %s keeps being replaced by another process", dir, path)
}

// release removes the lock file and then drops the lock, so that no other process can
// lock the file between the two and believe it holds the directory.
func (l *dirLock) release() error {
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
