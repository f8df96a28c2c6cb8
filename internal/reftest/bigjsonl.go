package reftest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// BigJSONL writes a prompt/completion JSONL file of about size bytes (~490 bytes a line,
// every line different) in a temporary directory and returns its path, its size and its
// line count: data far larger than a streaming reader may hold.
func BigJSONL(t testing.TB, size int) (path string, written, lines int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "big.jsonl")
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	filler := strings.Repeat("lorem ipsum dolor sit amet ", 18)
	for ; written < size; lines++ {
		n, _ := fmt.Fprintf(w, "{\"prompt\": \"%d %s\", \"completion\": \"%s\"}\n", lines, filler[:40+lines%40], filler[lines%200:])
		written += n
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
	return path, written, lines
}
