package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// roundTripTensors returns tensors that exercise shapes (matrix, vector, scalar, empty),
// the conversion table's special values, and a tensor larger than one 1 MiB chunk.
func roundTripTensors() []Tensor {
	special := make([]float32, len(conversionCases))
	for i, c := range conversionCases {
		special[i] = c.in
	}
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]float32, 3<<18) // 768 Ki elements: 3 MiB as F32, 1.5 MiB as F16/BF16
	for i := range big {
		big[i] = float32(rng.NormFloat64() * 0.02)
	}
	return []Tensor{
		{Name: "special", Shape: []int{len(special)}, Data: special},
		{Name: "h.0.attn.c_attn.weight", Shape: []int{768, 1024}, Data: big},
		{Name: "b.matrix", Shape: []int{2, 3}, Data: []float32{1, 2, 3, -4, 5.5, -6.25}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "empty", Shape: []int{0, 4}, Data: nil},
		{Name: "a \"quoted\" name\n<&>", Shape: []int{1}, Data: []float32{7}},
	}
}

// converted returns what data becomes after a write as dtype and a read back.
func converted(data []float32, dtype DType) []float32 {
	out := make([]float32, len(data))
	for i, v := range data {
		switch dtype {
		case F16:
			out[i] = Float16ToFloat32(Float32ToFloat16(v))
		case BF16:
			out[i] = BFloat16ToFloat32(Float32ToBFloat16(v))
		default:
			out[i] = v
		}
	}
	return out
}

func TestWriteRoundTrip(t *testing.T) {
	tensors := roundTripTensors()
	meta := map[string]string{"format": "pt"}
	for _, dtype := range []DType{F32, F16, BF16} {
		t.Run(string(dtype), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "model.safetensors")
			require.NoError(t, Write(path, tensors, meta, dtype))
			f, err := Open(path)
			require.NoError(t, err)
			defer f.Close()
			assert.Equal(t, meta, f.Metadata())
			require.Len(t, f.Tensors(), len(tensors))
			for _, tn := range tensors {
				info, ok := f.Tensor(tn.Name)
				require.True(t, ok, tn.Name)
				assert.Equal(t, dtype, info.DType, tn.Name)
				assert.Equal(t, tn.Shape, info.Shape, tn.Name)
				got := make([]float32, len(tn.Data))
				require.NoError(t, f.ReadFloat32(tn.Name, got), tn.Name)
				assertFloats(t, converted(tn.Data, dtype), got, tn.Name)
			}

			// The stored bits of the special values are exactly the table's.
			r, err := f.Reader("special")
			require.NoError(t, err)
			raw, err := io.ReadAll(r)
			require.NoError(t, err)
			for i, c := range conversionCases {
				switch dtype {
				case F32:
					assert.Equal(t, math.Float32bits(c.in), binary.LittleEndian.Uint32(raw[4*i:]), c.name)
				case F16:
					assert.Equalf(t, c.f16, binary.LittleEndian.Uint16(raw[2*i:]), "%s: F16 bits", c.name)
				case BF16:
					assert.Equalf(t, c.bf16, binary.LittleEndian.Uint16(raw[2*i:]), "%s: BF16 bits", c.name)
				}
			}
		})
	}
}

func TestWriteLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.safetensors")
	tensors := []Tensor{
		{Name: "z", Shape: []int{3}, Data: []float32{1, 2, 3}},
		{Name: "a", Shape: []int{1}, Data: []float32{4}},
		{Name: "m", Shape: []int{2}, Data: []float32{5, 6}},
	}
	require.NoError(t, Write(path, tensors, map[string]string{"b": "2", "a": "1"}, BF16))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	n := binary.LittleEndian.Uint64(b)
	assert.Zero(t, n%8, "header length %d is a multiple of 8", n)
	header := string(b[8 : 8+n])
	assert.Equal(t, `{"__metadata__":{"a":"1","b":"2"},`+
		`"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},`+
		`"m":{"dtype":"BF16","shape":[2],"data_offsets":[2,6]},`+
		`"z":{"dtype":"BF16","shape":[3],"data_offsets":[6,12]}}`, strings.TrimRight(header, " "))
	assert.Equal(t, []byte{0x80, 0x40, 0xa0, 0x40, 0xc0, 0x40, 0x80, 0x3f, 0x00, 0x40, 0x40, 0x40}, b[8+n:], "data in key order")

	// The caller's slice is not reordered.
	assert.Equal(t, "z", tensors[0].Name)
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	assert.Equal(t, []string{"a", "m", "z"}, names)
}

func TestWriteMetadataRoundTrip(t *testing.T) {
	meta := map[string]string{
		"format":   "pt",
		"quote":    `say "hi" \ back`,
		"controls": "tab\there\nnewline\r\x01\x1f\b\f",
		"unicode":  "añ 中文 🙂 \u2028",
		"html":     "<a href='x'>&</a>",
		"":         "empty key",
		"empty":    "",
	}
	path := filepath.Join(t.TempDir(), "meta.safetensors")
	require.NoError(t, Write(path, nil, meta, F16))
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, meta, f.Metadata())
	assert.Empty(t, f.Tensors())

	// The header is standard JSON that other decoders read the same way.
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var decoded map[string]map[string]string
	require.NoError(t, json.Unmarshal(b[8:8+binary.LittleEndian.Uint64(b)], &decoded))
	assert.Equal(t, meta, decoded["__metadata__"])
	assert.NotContains(t, string(b), `\u003c`, "no HTML escaping, like serde_json")

	// No metadata: no "__metadata__" key, and Metadata() is nil.
	require.NoError(t, Write(path, nil, map[string]string{}, F16))
	f2, err := Open(path)
	require.NoError(t, err)
	defer f2.Close()
	assert.Nil(t, f2.Metadata())
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	ok := Tensor{Name: "ok", Shape: []int{2}, Data: []float32{1, 2}}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		dtype   DType
		errs    []string // each message, in order
	}{
		{"bad dtype", []Tensor{ok}, nil, F64, []string{`dtype "F64": want F32, F16 or BF16`}},
		{"integer dtype", []Tensor{ok}, nil, I32, []string{`dtype "I32"`}},
		{"repeated name", []Tensor{ok, {Name: "x", Data: []float32{1}}, ok}, nil, F32,
			[]string{"tensor ok: the name repeats (tensors[0] and tensors[2])"}},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, nil, F32,
			[]string{"tensor __metadata__: the name is reserved for the metadata"}},
		{"empty name", []Tensor{{Shape: []int{1}, Data: []float32{1}}}, nil, F32, []string{"tensors[0] has an empty name"}},
		{"invalid UTF-8 name", []Tensor{{Name: "a\xff", Shape: []int{1}, Data: []float32{1}}}, nil, F32, []string{"the name is not valid UTF-8"}},
		{"invalid UTF-8 metadata", nil, map[string]string{"k": "\xff"}, F32, []string{"not valid UTF-8"}},
		{"shape mismatch", []Tensor{{Name: "w", Shape: []int{2, 3}, Data: make([]float32, 5)}}, nil, F32,
			[]string{"tensor w: shape [2 3] has 6 elements, Data has 5"}},
		{"nil shape is a scalar", []Tensor{{Name: "w", Data: make([]float32, 2)}}, nil, F32,
			[]string{"tensor w: shape [] has 1 elements, Data has 2"}},
		{"negative dimension", []Tensor{{Name: "w", Shape: []int{-2, -3}, Data: make([]float32, 6)}}, nil, F32,
			[]string{"tensor w: shape [-2 -3] has a negative dimension"}},
		{"overflow", []Tensor{{Name: "w", Shape: []int{1 << 40, 1 << 40}, Data: nil}}, nil, F32,
			[]string{"element count overflows"}},
		{"every problem at once", []Tensor{ok, ok, {Name: "w", Shape: []int{3}, Data: nil}}, nil, "F8", []string{
			`dtype "F8"`, "tensor ok: the name repeats", "tensor w: shape [3] has 3 elements, Data has 0"}},
	}
	for _, c := range cases {
		err := Write(path, c.tensors, c.meta, c.dtype)
		if !assert.Errorf(t, err, "%s: Write succeeded", c.name) {
			continue
		}
		var se *Error
		assert.ErrorAs(t, err, &se, c.name)
		lines := strings.Split(err.Error(), "\n")
		if assert.Lenf(t, lines, len(c.errs), "%s: %v", c.name, err) {
			for i, want := range c.errs {
				assert.Truef(t, strings.HasPrefix(lines[i], "safetensors write "+path+": "), "%s: %q", c.name, lines[i])
				assert.Containsf(t, lines[i], want, c.name)
			}
		}
		_, statErr := os.Stat(path)
		assert.ErrorIsf(t, statErr, os.ErrNotExist, "%s: nothing written", c.name)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary files left behind")
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "adapter_model.safetensors")
	good := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}
	require.NoError(t, Write(path, good, nil, F32))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	// An invalid tensor: the old file stays as it was.
	bad := []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{1, 2}}}
	require.Error(t, Write(path, bad, nil, F32))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// A failure after the temporary file is written (the rename onto a non-empty
	// directory fails): the temporary file is removed, the directory untouched.
	target := filepath.Join(dir, "occupied")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "child"), 0o755))
	err = Write(target, good, nil, F32)
	assert.ErrorContains(t, err, "safetensors write "+target+": ")
	assert.DirExists(t, filepath.Join(target, "child"))

	// A directory that does not exist.
	err = Write(filepath.Join(dir, "nope", "x.safetensors"), good, nil, F32)
	assert.ErrorIs(t, err, os.ErrNotExist)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"adapter_model.safetensors", "occupied"}, names, "no temporary files left behind")

	// Overwriting replaces the content and keeps the old file's permissions.
	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, Write(path, []Tensor{{Name: "v", Shape: []int{1}, Data: []float32{3}}}, nil, F32))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, ok := f.Tensor("v")
	assert.True(t, ok)

	// A new file gets 0644 less the umask, as from os.WriteFile.
	fresh := filepath.Join(dir, "fresh.safetensors")
	require.NoError(t, Write(fresh, good, nil, F32))
	st, err = os.Stat(fresh)
	require.NoError(t, err)
	ref := filepath.Join(t.TempDir(), "ref")
	require.NoError(t, os.WriteFile(ref, nil, 0o644))
	want, err := os.Stat(ref)
	require.NoError(t, err)
	assert.Equal(t, want.Mode().Perm(), st.Mode().Perm())
}

// failingWriter fails after limit bytes.
type failingWriter struct{ limit int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.limit {
		n := w.limit
		w.limit = 0
		return n, errDiskFull
	}
	w.limit -= len(b)
	return len(b), nil
}

func TestEncodeWriteError(t *testing.T) {
	data := make([]float32, 1<<20)
	for _, dtype := range []DType{F32, F16, BF16} {
		var scratch []byte
		err := encode(&failingWriter{limit: 1000}, data, dtype, &scratch)
		assert.ErrorIs(t, err, errDiskFull, dtype)
		assert.LessOrEqual(t, len(scratch), chunkSize, dtype)
	}
}
