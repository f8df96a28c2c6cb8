package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// newPerm is the permission of a new file before the umask, as for os.WriteFile.
const newPerm fs.FileMode = 0o644

// Write replaces path with what fill writes to w, atomically (see the package comment
// for the steps and the permissions). w is the temporary file, unbuffered: a caller that
// writes in small pieces wraps it in a bufio.Writer and flushes it before returning.
//
// If fill returns an error or panics, the temporary file is removed, path is untouched,
// and fill's error (or panic) comes back unchanged. Other errors are the os package's,
// which name the operation and the file; once the rename is done, an error means that
// path has its new contents but the directory sync failed, so the replacement may not
// survive a crash.
func Write(path string, fill func(w io.Writer) error) error {
	perm, keep := newPerm, false
	if st, err := os.Lstat(path); err == nil && st.Mode().IsRegular() {
		perm, keep = st.Mode().Perm(), true
	}
	tmp, err := createTemp(path, perm)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if !renamed { // an error or a panic: the temporary file goes
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if keep { // the umask may have cleared bits of the replaced file's permissions
		if err := tmp.Chmod(perm); err != nil {
			return err
		}
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	renamed = true
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync directory after replacing %s: %w", path, err)
	}
	return nil
}

// WriteFile replaces path with data, atomically, as Write does.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// SyncDir fsyncs a directory, making a rename or a new entry in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// createTemp creates a new file ".BASE.tmpN" (N random) beside path with permissions
// perm less the umask. It is os.CreateTemp, which always uses 0600, with a permission.
func createTemp(path string, perm fs.FileMode) (*os.File, error) {
	prefix := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	for range 10000 {
		f, err := os.OpenFile(prefix+strconv.FormatUint(uint64(rand.Uint32()), 10), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: prefix + "*", Err: fs.ErrExist}
}
