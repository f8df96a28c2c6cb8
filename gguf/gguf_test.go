package gguf

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteRead(t *testing.T) {
	data := make([]float32, 2*64)
	for i := range data {
		data[i] = float32(math.Sin(float64(i))) * 3
	}
	f := &File{}
	f.Add("general.architecture", "llama")
	f.Add("general.alignment", uint32(Alignment))
	f.Add("a.u8", uint8(7))
	f.Add("a.i64", int64(-5))
	f.Add("a.f64", 0.25)
	f.Add("a.bool", true)
	f.Add("a.tokens", []string{"x", "ÿ", ""})
	f.Add("a.types", []int32{1, 3, 6})
	f.Add("a.scores", []float32{0, -1.5})
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		f.Tensors = append(f.Tensors, Tensor{Name: "w." + typ.String(), Shape: []int{2, 64}, Type: typ,
			Data: func() ([]float32, error) { return data, nil }})
	}
	f.Tensors = append(f.Tensors, Tensor{Name: "b", Shape: []int{3}, Type: F32,
		Data: func() ([]float32, error) { return []float32{1, 2, 3}, nil }})
	path := filepath.Join(t.TempDir(), "x.gguf")
	require.NoError(t, f.WriteFile(path))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, f.Size(), st.Size())

	r, err := Open(path)
	require.NoError(t, err)
	defer r.Close()
	assert.Equal(t, uint32(3), r.Version)
	assert.Equal(t, f.KV, r.KV)
	assert.Zero(t, r.DataStart%Alignment)
	for _, ti := range r.Tensors {
		assert.Zero(t, ti.Offset%Alignment, ti.Name)
	}
	w, _ := r.Tensor("w.Q8_0")
	assert.Equal(t, []int{2, 64}, w.Shape)
	assert.Equal(t, Q8_0, w.Type)
	for _, typ := range []Type{F32, F16, BF16, Q8_0} {
		got, err := r.ReadFloat32("w." + typ.String())
		require.NoError(t, err)
		tol := map[Type]float64{F32: 0, F16: 2e-3, BF16: 1.6e-2, Q8_0: 3.0 / 127}[typ]
		for i := range data {
			require.InDelta(t, data[i], got[i], tol, "%v [%d]", typ, i)
		}
	}
	b, err := r.ReadFloat32("b")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3}, b)
}

// TestHeaderBytes pins the layout gguf-py writes: magic, version, counts, a key, a tensor info, padding to 32.
func TestHeaderBytes(t *testing.T) {
	f := &File{KV: []KV{{"k", uint32(9)}}, Tensors: []Tensor{{Name: "t", Shape: []int{2, 3}, Type: F16}}}
	var want bytes.Buffer
	le := func(v any) { binary.Write(&want, binary.LittleEndian, v) }
	want.WriteString("GGUF")
	le(uint32(3))
	le(uint64(1))
	le(uint64(1))
	le(uint64(1))
	want.WriteString("k")
	le(uint32(TypeUint32))
	le(uint32(9))
	le(uint64(1))
	want.WriteString("t")
	le(uint32(2))
	le(uint64(3)) // ne[0]: the innermost dimension first
	le(uint64(2))
	le(uint32(F16))
	le(uint64(0))
	for want.Len()%32 != 0 {
		want.WriteByte(0)
	}
	assert.Equal(t, want.Bytes(), f.header())
}

// TestQ8Block is ggml's quantize_row_q8_0_ref on one block: d = max|x|/127 as float16, q = round(x/d), ties away
// from zero.
func TestQ8Block(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1], x[2], x[3] = 127, -63.5, 0.5, -1.49
	b := appendQ8Block(nil, x)
	assert.Equal(t, uint16(0x3c00), binary.LittleEndian.Uint16(b)) // d = 1
	assert.Equal(t, []int8{127, -64, 1, -1, 0}, []int8{int8(b[2]), int8(b[3]), int8(b[4]), int8(b[5]), int8(b[6])})
	zero := appendQ8Block(nil, make([]float32, 32))
	assert.Equal(t, make([]byte, 34), zero)
}

func TestTensorType(t *testing.T) {
	for _, c := range []struct {
		name  string
		shape []int
		ft    Type
		want  Type
	}{
		{"token_embd.weight", []int{512, 64}, Q8_0, Q8_0},
		{"blk.0.attn_norm.weight", []int{64}, F16, F32},
		{"blk.0.attn_qkv.bias", []int{192}, F16, F32},
		{"position_embd.weight", []int{128, 64}, F16, F32},
		{"blk.0.ffn_down.weight", []int{64, 96}, Q8_0, Q8_0},
		{"blk.0.ffn_down.weight", []int{64, 100}, Q8_0, F16},
		{"blk.0.attn_q.weight.lora_b", []int{64, 8}, Q8_0, F16},
		{"blk.0.attn_q.weight.lora_a", []int{8, 64}, BF16, BF16},
		{"rope_freqs.weight", []int{8}, F16, F32},
	} {
		assert.Equal(t, c.want, TensorType(c.name, c.shape, c.ft), "%s %v", c.name, c.shape)
	}
}

// TestPermuteRows is convert_hf_to_gguf.py's permute on a head of 4 rows: reshape(1, 2, 2, cols).swapaxes(1, 2)
// takes rows 0 1 2 3 to 0 2 1 3.
func TestPermuteRows(t *testing.T) {
	w := []float32{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7}
	assert.Equal(t, []float32{0, 0, 2, 2, 1, 1, 3, 3, 4, 4, 6, 6, 5, 5, 7, 7}, permuteRows(w, 2, 2))
}

func TestCheck(t *testing.T) {
	f := &File{KV: []KV{{"a", 1}, {"b", []string{}}, {"c", "x"}, {"c", "y"}},
		Tensors: []Tensor{{Name: "q", Shape: []int{2, 30}, Type: Q8_0}, {Name: "z", Shape: []int{0}, Type: F32}}}
	err := f.WriteFile(filepath.Join(t.TempDir(), "x.gguf"))
	require.Error(t, err)
	for _, s := range []string{"key a: a value of Go type int", "key b: an empty array", "duplicate key c",
		"tensor q: Q8_0 needs rows of a multiple of 32", "tensor z: shape [0]"} {
		assert.Contains(t, err.Error(), s)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.gguf")
	require.NoError(t, os.WriteFile(p, []byte("GGML\x03\x00\x00\x00"), 0o644))
	_, err := Open(p)
	assert.ErrorContains(t, err, "not a GGUF file")
	f := &File{Tensors: []Tensor{{Name: "t", Shape: []int{64}, Type: F32, Data: func() ([]float32, error) { return make([]float32, 64), nil }}}}
	p = filepath.Join(dir, "cut.gguf")
	require.NoError(t, f.WriteFile(p))
	require.NoError(t, os.Truncate(p, f.Size()-4))
	_, err = Open(p)
	assert.ErrorContains(t, err, "lies outside the file")
}
