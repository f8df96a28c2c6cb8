package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// names returns the names of the entries of dir.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// perm returns the permission bits of path.
func perm(t *testing.T, path string) fs.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	return st.Mode().Perm()
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	require.NoError(t, WriteFile(p, []byte("one")))
	require.NoError(t, WriteFile(p, []byte("two")))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "two", string(got))
	assert.Equal(t, []string{"a.json"}, names(t, dir), "temporary files left behind")

	// A write into a missing directory fails and leaves nothing.
	err = WriteFile(filepath.Join(dir, "missing", "b"), []byte("x"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Equal(t, []string{"a.json"}, names(t, dir))
}

func TestWriteStreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.bin")
	require.NoError(t, Write(p, func(w io.Writer) error {
		for _, s := range []string{"a", "bc", "def"} {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
		}
		return nil
	}))
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "abcdef", string(got))
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.bin")
	require.NoError(t, WriteFile(p, []byte("old")))
	errFull := errors.New("disk full")

	// fill fails halfway: its error comes back as it is.
	err := Write(p, func(w io.Writer) error {
		if _, err := io.WriteString(w, "half of the n"); err != nil {
			return err
		}
		return errFull
	})
	assert.Same(t, errFull, err)

	// fill panics: the panic goes on, the temporary file does not stay.
	assert.PanicsWithValue(t, "interrupted", func() {
		_ = Write(p, func(w io.Writer) error {
			_, _ = io.WriteString(w, "half")
			panic("interrupted")
		})
	})

	got, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
	assert.Equal(t, []string{"model.bin"}, names(t, dir), "temporary files left behind")
}

func TestWriteRenameFailure(t *testing.T) {
	// The rename onto a non-empty directory fails after the temporary file is complete:
	// the temporary file is removed and the directory untouched.
	dir := t.TempDir()
	target := filepath.Join(dir, "occupied")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "child"), 0o755))
	err := WriteFile(target, []byte("x"))
	var le *os.LinkError
	assert.ErrorAs(t, err, &le)
	assert.DirExists(t, filepath.Join(target, "child"))
	assert.Equal(t, []string{"occupied"}, names(t, dir), "temporary files left behind")
}

func TestWritePermissions(t *testing.T) {
	dir := t.TempDir()

	// A new file: what os.WriteFile(path, data, 0o644) gives, 0644 less the umask.
	p := filepath.Join(dir, "new")
	require.NoError(t, WriteFile(p, []byte("x")))
	assert.Equal(t, perm(t, ref(t, dir)), perm(t, p))

	// A replaced regular file keeps its permissions, narrower or wider than the umask
	// allows (os.WriteFile keeps them too).
	for _, mode := range []fs.FileMode{0o600, 0o666} {
		require.NoError(t, os.Chmod(p, mode))
		require.NoError(t, WriteFile(p, []byte("y")))
		assert.Equal(t, mode, perm(t, p))
	}
}

func TestWriteReplacesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("target"), 0o600))
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	require.NoError(t, WriteFile(link, []byte("new")))

	st, err := os.Lstat(link)
	require.NoError(t, err)
	assert.True(t, st.Mode().IsRegular(), "the link is replaced by a regular file")
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "target", string(got), "the link's target is untouched")
	assert.Equal(t, perm(t, ref(t, dir)), perm(t, link), "a new file's permissions")
}

// ref writes a file with os.WriteFile(…, 0o644) in dir and returns its path.
func ref(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "ref")
	require.NoError(t, os.WriteFile(p, nil, 0o644))
	return p
}

func TestSyncDir(t *testing.T) {
	require.NoError(t, SyncDir(t.TempDir()))
	assert.ErrorIs(t, SyncDir(filepath.Join(t.TempDir(), "missing")), fs.ErrNotExist)
}
