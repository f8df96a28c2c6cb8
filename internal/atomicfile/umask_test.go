//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteUmask(t *testing.T) {
	old := syscall.Umask(0o027) // process-wide: this test must not run in parallel
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "new")
	require.NoError(t, WriteFile(p, []byte("x")))
	assert.Equal(t, fs.FileMode(0o640), perm(t, p), "0644 less the umask")

	// The umask does not narrow the permissions of a replaced file.
	require.NoError(t, os.Chmod(p, 0o666))
	require.NoError(t, WriteFile(p, []byte("y")))
	assert.Equal(t, fs.FileMode(0o666), perm(t, p))
}
