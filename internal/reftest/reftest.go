// Package reftest reads the PyTorch golden files of testdata/reference (written by
// testdata/gen_reference.py) for the tests of every package: the expected tensors in
// expected.safetensors, the inputs and scalars in expected.json, and the reference
// model and adapter directories.
package reftest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer/kernels"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// Dir returns the path of testdata/reference, wherever the test runs from.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "reference")
}

// Path returns a path inside testdata/reference, e.g. Path("tiny-f32").
func Path(elem ...string) string { return filepath.Join(append([]string{Dir()}, elem...)...) }

// Golden is the open golden files. Missing files fail the test, never skip it.
type Golden struct {
	fields map[string]json.RawMessage
	f      *safetensors.File
}

// LlamaDir returns the path of testdata/llama, the Llama-family golden files written by
// testdata/llama/gen_reference.py.
func LlamaDir() string { return filepath.Join(Dir(), "..", "llama") }

// Load opens expected.json and expected.safetensors of testdata/reference; they are
// closed with the test.
func Load(t testing.TB) *Golden {
	t.Helper()
	return LoadDir(t, Dir())
}

// LoadDir opens expected.json and expected.safetensors of dir (e.g. LlamaDir()); they are
// closed with the test.
func LoadDir(t testing.TB, dir string) *Golden {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	require.NoError(t, err)
	g := &Golden{}
	require.NoError(t, json.Unmarshal(raw, &g.fields))
	g.f, err = safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	require.NoError(t, err)
	t.Cleanup(func() { g.f.Close() })
	return g
}

// Tensor returns the expected tensor of that name, flattened.
func (g *Golden) Tensor(t testing.TB, name string) []float32 {
	t.Helper()
	info, ok := g.f.Tensor(name)
	require.True(t, ok, "expected.safetensors has no %s", name)
	out := make([]float32, info.NumElements())
	require.NoError(t, g.f.ReadFloat32(name, out))
	return out
}

// Decode unmarshals the expected.json field key into v.
func (g *Golden) Decode(t testing.TB, key string, v any) {
	t.Helper()
	raw, ok := g.fields[key]
	require.True(t, ok, "expected.json has no %q", key)
	require.NoError(t, json.Unmarshal(raw, v), key)
}

// Ints returns the expected.json field key as ids (e.g. "ids.T33").
func (g *Golden) Ints(t testing.TB, key string) []int {
	t.Helper()
	var ids []int
	g.Decode(t, key, &ids)
	require.NotEmpty(t, ids, key)
	return ids
}

// Float returns the expected.json field key as a number (e.g. "loss").
func (g *Golden) Float(t testing.TB, key string) float64 {
	t.Helper()
	var v float64
	g.Decode(t, key, &v)
	return v
}

// Batch is the reference training batch: 3 rows of 33 tokens, one with a masked prompt
// and padding, one packing two examples (segments, restarting positions).
type Batch struct {
	IDs       [][]int `json:"ids"`
	Targets   [][]int `json:"targets"`
	Positions [][]int `json:"pos"`
	Segments  [][]int `json:"seg"`
}

// Batch returns the reference training batch.
func (g *Golden) Batch(t testing.TB) Batch { return g.BatchAt(t, "batch") }

// BatchAt returns the training batch stored under key (e.g. "llama.batch").
func (g *Golden) BatchAt(t testing.TB, key string) Batch {
	t.Helper()
	var b Batch
	g.Decode(t, key, &b)
	require.NotEmpty(t, b.IDs)
	return b
}

// Flatten concatenates the rows of logits.
func Flatten(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// BothPaths (named when there were two) runs f as one subtest per kernel path this CPU
// supports (kernels.Paths: AVX-512 and AVX2 where the CPU has them, and pure Go), so that
// a golden test checks every path.
func BothPaths(t *testing.T, f func(t *testing.T)) {
	for _, p := range kernels.Paths() {
		t.Run("path="+p.String(), func(t *testing.T) {
			prev := kernels.SetPath(p)
			defer kernels.SetPath(prev)
			f(t)
		})
	}
}
