package safetensors

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileBytes assembles a safetensors file by hand: the 8-byte little-endian header length,
// the header, then the data.
func fileBytes(header string, data ...[]byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for _, d := range data {
		b = append(b, d...)
	}
	return b
}

// writeTemp writes b to a new file in a test directory and returns its path.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

// assertFloats checks got against want bit for bit (so -0 ≠ 0, and any NaN matches any
// NaN) and reports the number of mismatches, the first bad index and the max abs diff
// instead of printing every element.
func assertFloats(t *testing.T, want, got []float32, msg string) bool {
	t.Helper()
	if !assert.Lenf(t, got, len(want), "%s: length", msg) {
		return false
	}
	bad, first, maxDiff := 0, -1, 0.0
	for i := range want {
		w, g := want[i], got[i]
		if math.Float32bits(w) == math.Float32bits(g) || w != w && g != g {
			continue
		}
		if bad == 0 {
			first = i
		}
		bad++
		maxDiff = max(maxDiff, math.Abs(float64(w)-float64(g)))
	}
	return assert.Zerof(t, bad, "%s: %d of %d elements differ; first at [%d]: got %g, want %g; max abs diff %g",
		msg, bad, len(want), first, at(got, first), at(want, first), maxDiff)
}

func at(s []float32, i int) float32 {
	if i < 0 {
		return 0
	}
	return s[i]
}

// handBuilt is a file written byte by byte, not by Write: four float dtypes, a scalar, an
// empty I64 tensor, metadata, keys out of offset order, spaces in the JSON and a padded
// header.
func handBuilt() []byte {
	header := `{ "b": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
 "__metadata__": {"format": "pt", "note": "a \"quoted\"\nline"},
 "a": {"shape": [2, 2], "dtype": "F32", "data_offsets": [0, 16], "extra": [1]},
 "c": {"dtype": "F16", "shape": [], "data_offsets": [20, 22]},
 "e": {"dtype": "I64", "shape": [0, 3], "data_offsets": [30, 30]},
 "d": {"dtype": "F64", "shape": [1], "data_offsets": [22, 30]}}    `
	return fileBytes(header,
		[]byte{0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x40, 0x40}, // F32 1, -2, 0.5, 3
		[]byte{0x80, 0x3f, 0x00, 0xbf},       // BF16 1, -0.5
		[]byte{0x00, 0x3e},                   // F16 1.5
		[]byte{0, 0, 0, 0, 0, 0, 0xd0, 0x3f}, // F64 0.25
	)
}

func TestOpenHandBuilt(t *testing.T) {
	path := writeTemp(t, "hand.safetensors", handBuilt())
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()

	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	assert.Equal(t, []string{"a", "b", "c", "d", "e"}, names, "Tensors() in offset order")

	a, ok := f.Tensor("a")
	require.True(t, ok)
	assert.Equal(t, TensorInfo{Name: "a", DType: F32, Shape: []int{2, 2}, Offsets: [2]int64{0, 16}}, a)
	assert.Equal(t, 4, a.NumElements())
	c, _ := f.Tensor("c")
	assert.Equal(t, []int{}, c.Shape)
	assert.Equal(t, 1, c.NumElements(), "scalar")
	e, _ := f.Tensor("e")
	assert.Equal(t, TensorInfo{Name: "e", DType: I64, Shape: []int{0, 3}, Offsets: [2]int64{30, 30}}, e)
	assert.Equal(t, 0, e.NumElements())
	_, ok = f.Tensor("__metadata__")
	assert.False(t, ok)
	_, ok = f.Tensor("z")
	assert.False(t, ok)

	assert.Equal(t, map[string]string{"format": "pt", "note": "a \"quoted\"\nline"}, f.Metadata())

	for name, want := range map[string][]float32{
		"a": {1, -2, 0.5, 3},
		"b": {1, -0.5},
		"c": {1.5},
		"d": {0.25},
	} {
		got := make([]float32, len(want))
		require.NoError(t, f.ReadFloat32(name, got), name)
		assertFloats(t, want, got, name)
	}

	r, err := f.Reader("d")
	require.NoError(t, err)
	raw, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0xd0, 0x3f}, raw)

	// Mutating what the accessors return does not change the File.
	a.Shape[0] = 99
	f.Tensors()[0].Shape[0] = 99
	f.Metadata()["format"] = "x"
	a, _ = f.Tensor("a")
	assert.Equal(t, []int{2, 2}, a.Shape)
	assert.Equal(t, "pt", f.Metadata()["format"])
}

func TestReadFloat32Errors(t *testing.T) {
	path := writeTemp(t, "hand.safetensors", handBuilt())
	f, err := Open(path)
	require.NoError(t, err)
	defer f.Close()

	for _, c := range []struct {
		name   string
		dst    []float32
		substr string
	}{
		{"a", make([]float32, 3), "dst has 3 elements, want 4 for F32 [2 2]"},
		{"a", nil, "dst has 0 elements, want 4"},
		{"e", nil, "dtype I64 cannot be read as float32"},
		{"nope", make([]float32, 1), "no such tensor"},
	} {
		err := f.ReadFloat32(c.name, c.dst)
		var se *Error
		if assert.ErrorAsf(t, err, &se, "ReadFloat32(%q)", c.name) {
			assert.Equal(t, "read", se.Op)
			assert.Equal(t, path, se.Path)
			assert.Equal(t, c.name, se.Tensor)
			assert.Contains(t, err.Error(), c.substr)
			assert.True(t, strings.HasPrefix(err.Error(), "safetensors read "+path+": tensor "+c.name+": "), err.Error())
		}
	}
	_, err = f.Reader("nope")
	assert.ErrorContains(t, err, "no such tensor")
}

// TestReferenceBytes pins Write's output to the bytes that the reference Rust
// implementation's own tests expect from its serializer (safetensors/src/tensor.rs,
// test_serialization and test_empty), and reads them back.
func TestReferenceBytes(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		tensors  []Tensor
		metadata map[string]string
		want     []byte
	}{
		{"one tensor", []Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}}, nil, []byte{
			64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
			116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
			58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
			101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
			0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
		}},
		{"padding", []Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: []float32{0, 1, 2, 3, 4, 5}}}, nil, []byte{
			72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
			121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
			91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
			115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
			32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
			160, 64,
		}},
		{"empty", nil, nil, []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32}},
		{"metadata only", nil, map[string]string{"framework": "pt"}, []byte{
			40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
			95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
			116, 34, 125, 125, 32, 32, 32, 32, 32,
		}},
	}
	for i, c := range cases {
		path := filepath.Join(dir, string(rune('a'+i))+".safetensors")
		require.NoError(t, Write(path, c.tensors, c.metadata, F32), c.name)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equalf(t, c.want, got, "%s: Write bytes", c.name)

		f, err := Open(path)
		require.NoError(t, err, c.name)
		assert.Len(t, f.Tensors(), len(c.tensors), c.name)
		assert.Equal(t, c.metadata, f.Metadata(), c.name)
		for _, tn := range c.tensors {
			got := make([]float32, len(tn.Data))
			require.NoError(t, f.ReadFloat32(tn.Name, got))
			assertFloats(t, tn.Data, got, c.name)
		}
		require.NoError(t, f.Close())
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.safetensors")
	_, err := Open(path)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.True(t, strings.HasPrefix(err.Error(), "safetensors open "+path+": "), err.Error())
	assert.NotContains(t, err.Error(), "open "+path+": open", "the path is named once")

	_, err = Open(t.TempDir())
	assert.ErrorContains(t, err, "is a directory")
}

// tensorJSON is the header entry of one tensor.
func tensorJSON(name, dtype, shape string, begin, end int) string {
	return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":[` +
		strconv.Itoa(begin) + `,` + strconv.Itoa(end) + `]}`
}

func TestOpenErrors(t *testing.T) {
	zeros := func(n int) []byte { return make([]byte, n) }
	cases := []struct {
		name   string
		file   []byte
		tensor string // the tensor the error names, or ""
		substr string
	}{
		{"empty file", nil, "", "file is 0 bytes, too short for the 8-byte header length"},
		{"short file", []byte{1, 2, 3, 4, 5}, "", "file is 5 bytes, too short"},
		{"header length max uint64", append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, zeros(1226)...), "",
			"header length 18446744073709551615 exceeds file size 1234"},
		{"header length past the end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "",
			"header length 100 exceeds file size 10"},
		{"empty header", fileBytes(""), "", "invalid header JSON: does not start with '{'"},
		{"header not an object", fileBytes(`[1, 2]  `), "", "does not start with '{'"},
		{"leading space", fileBytes(` {}`), "", "does not start with '{'"},
		{"invalid JSON", fileBytes(`{"a": {"dtype": "F32",`), "a", "invalid header JSON"},
		{"invalid JSON syntax", fileBytes(`{"a" 1}`), "a", "invalid header JSON at byte 5"},
		{"invalid JSON in metadata", fileBytes(`{"__metadata__": {"k": v}}`), "", "__metadata__: invalid header JSON at byte"},
		{"unterminated object", fileBytes(`{"__metadata__": {}`), "", "invalid header JSON: unexpected end of header"},
		{"trailing data", fileBytes(`{} {}`), "", "after the header object"},
		{"trailing garbage", fileBytes(`{}x`), "", "invalid header JSON"},
		{"trailing NUL padding", fileBytes("{}\x00\x00"), "", "invalid header JSON"},
		{"invalid UTF-8", fileBytes("{\"\xff\":1}"), "", "not valid UTF-8"},
		{"entry not an object", fileBytes(`{"a": 5}`), "a", "invalid header JSON"},
		{"entry null", fileBytes(`{"a": null}`), "a", "entry is null"},
		{"metadata not strings", fileBytes(`{"__metadata__": {"n": 1}}`), "", "__metadata__: invalid header JSON"},
		{"duplicate tensor", fileBytes(`{`+tensorJSON("a", "F32", "[1]", 0, 4)+`,`+tensorJSON("a", "F32", "[1]", 4, 8)+`}`, zeros(8)),
			"a", "key appears twice"},
		{"missing dtype", fileBytes(`{"a": {"shape": [1], "data_offsets": [0, 4]}}`, zeros(4)), "a", `missing "dtype"`},
		{"missing shape", fileBytes(`{"a": {"dtype": "F32", "data_offsets": [0, 4]}}`, zeros(4)), "a", `missing "shape"`},
		{"missing offsets", fileBytes(`{"a": {"dtype": "F32", "shape": [1]}}`, zeros(4)), "a", `missing "data_offsets"`},
		{"null shape", fileBytes(`{"a": {"dtype": "F32", "shape": null, "data_offsets": [0, 4]}}`, zeros(4)), "a", "must not be null"},
		{"unknown dtype", fileBytes(`{`+tensorJSON("a", "F4", "[2]", 0, 1)+`}`, zeros(1)), "a", `unknown dtype "F4"`},
		{"lower-case dtype", fileBytes(`{`+tensorJSON("a", "f32", "[1]", 0, 4)+`}`, zeros(4)), "a", `unknown dtype "f32"`},
		{"dtype not a string", fileBytes(`{"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}`, zeros(4)), "a", `invalid "dtype"`},
		{"negative dimension", fileBytes(`{`+tensorJSON("a", "F32", "[2, -1]", 0, 4)+`}`, zeros(4)), "a", "shape [2 -1] has a negative dimension"},
		{"fractional dimension", fileBytes(`{`+tensorJSON("a", "F32", "[1.5]", 0, 4)+`}`, zeros(4)), "a", `invalid "shape"`},
		{"element count overflow", fileBytes(`{`+tensorJSON("a", "F32", "[4294967296, 4294967296, 4]", 0, 4)+`}`, zeros(4)), "a", "element count overflows"},
		{"byte size overflow", fileBytes(`{`+tensorJSON("a", "F64", "[4611686018427387904]", 0, 4)+`}`, zeros(4)), "a", "byte size overflows"},
		{"three offsets", fileBytes(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}`, zeros(4)), "a", "has 3 numbers, want 2"},
		{"reversed offsets", fileBytes(`{`+tensorJSON("a", "F32", "[0]", 4, 0)+`}`, zeros(4)), "a", "want 0 <= begin <= end"},
		{"negative offset", fileBytes(`{`+tensorJSON("a", "F32", "[1]", -4, 0)+`}`, zeros(4)), "a", "want 0 <= begin <= end"},
		{"huge offset", fileBytes(`{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551616]}}`), "a", `invalid "data_offsets"`},
		{"shape/offset mismatch", fileBytes(`{`+tensorJSON("h.0.attn.c_attn.weight", "F32", "[64, 384]", 0, 100)+`}`, zeros(100)),
			"h.0.attn.c_attn.weight", "data_offsets [0,100] give 100 bytes, want 98304 for F32 [64 384]"},
		{"overlap", fileBytes(`{`+tensorJSON("a", "F32", "[4]", 0, 16)+`,`+tensorJSON("b", "F32", "[2]", 8, 16)+`}`, zeros(16)),
			"b", "data_offsets [8,16] overlap tensor a at [0,16]"},
		{"same offsets", fileBytes(`{`+tensorJSON("a", "F32", "[4]", 0, 16)+`,`+tensorJSON("b", "F32", "[4]", 0, 16)+`}`, zeros(16)),
			"b", "overlap tensor a"},
		{"empty tensor inside another", fileBytes(`{`+tensorJSON("a", "F32", "[4]", 0, 16)+`,`+tensorJSON("b", "F32", "[0]", 8, 8)+`}`, zeros(16)),
			"b", "overlap tensor a"},
		{"gap", fileBytes(`{`+tensorJSON("a", "F32", "[2]", 0, 8)+`,`+tensorJSON("b", "F32", "[2]", 12, 20)+`}`, zeros(20)),
			"b", "data_offsets [12,20] begin at 12, want 8: a gap of 4 bytes after tensor a at [0,8]"},
		{"gap at start", fileBytes(`{`+tensorJSON("a", "F32", "[2]", 4, 12)+`}`, zeros(12)),
			"a", "a gap of 4 bytes at the start of the data area"},
		{"truncated", fileBytes(`{`+tensorJSON("a", "F32", "[1024]", 0, 4096)+`}    `, zeros(1000)),
			"", "truncated: file is 1072 bytes, want 4168 (8 + 64 header + 4096 data)"},
		{"no data at all", fileBytes(`{` + tensorJSON("a", "F32", "[1]", 0, 4) + `}`), "", "truncated"},
		{"stray bytes", fileBytes(`{`+tensorJSON("a", "F32", "[1]", 0, 4)+`}`, zeros(6)), "", "2 stray bytes after the last tensor"},
		{"stray bytes, no tensors", fileBytes(`{}`, zeros(1)), "", "1 stray bytes"},
	}
	dir := t.TempDir()
	for i, c := range cases {
		path := filepath.Join(dir, strconv.Itoa(i)+".safetensors")
		require.NoError(t, os.WriteFile(path, c.file, 0o644))
		f, err := Open(path)
		if !assert.Errorf(t, err, "%s: Open succeeded", c.name) {
			f.Close()
			continue
		}
		var se *Error
		require.ErrorAs(t, err, &se, c.name)
		assert.Equal(t, "open", se.Op, c.name)
		assert.Equal(t, path, se.Path, c.name)
		assert.Equalf(t, c.tensor, se.Tensor, "%s: %v", c.name, err)
		assert.Containsf(t, err.Error(), c.substr, c.name)
		prefix := "safetensors open " + path + ": "
		if c.tensor != "" {
			prefix += "tensor " + c.tensor + ": "
		}
		assert.Truef(t, strings.HasPrefix(err.Error(), prefix), "%s: %q lacks prefix %q", c.name, err, prefix)
	}
}

// sparseReader is a file of size bytes that reads as a header length followed by zeros.
type sparseReader struct {
	size   int64
	header uint64
}

func (r sparseReader) ReadAt(b []byte, off int64) (int, error) {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], r.header)
	n := 0
	for ; n < len(b) && off+int64(n) < r.size; n++ {
		if p := off + int64(n); p < 8 {
			b[n] = lenBuf[p]
		} else {
			b[n] = 0
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func TestOpenHeaderTooLarge(t *testing.T) {
	// A 200 MB file whose header claims 150 MB: refused before allocating it.
	_, err := newFile("big.safetensors", sparseReader{size: 200_000_000, header: 150_000_000}, 200_000_000)
	assert.EqualError(t, err, "safetensors open big.safetensors: header length 150000000 exceeds the limit of 100000000 bytes")
}

func TestReadAfterTruncation(t *testing.T) {
	// The file shrinks after Open: ReadFloat32 reports it instead of returning garbage.
	data := make([]float32, 1000)
	for _, dtype := range []DType{F32, BF16} {
		path := filepath.Join(t.TempDir(), "t.safetensors")
		require.NoError(t, Write(path, []Tensor{{Name: "w", Shape: []int{1000}, Data: data}}, nil, dtype))
		f, err := Open(path)
		require.NoError(t, err)
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.NoError(t, os.Truncate(path, st.Size()-10))
		err = f.ReadFloat32("w", make([]float32, 1000))
		assert.ErrorContains(t, err, "safetensors read "+path+": tensor w: truncated", dtype)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		require.NoError(t, f.Close())
	}
}

func TestReadAfterClose(t *testing.T) {
	path := writeTemp(t, "hand.safetensors", handBuilt())
	f, err := Open(path)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	err = f.ReadFloat32("a", make([]float32, 4))
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.Error(t, f.ReadFloat32("b", make([]float32, 2)))
}

// countingReader records the largest single ReadAt.
type countingReader struct {
	r       io.ReaderAt
	maxRead int
}

func (c *countingReader) ReadAt(b []byte, off int64) (int, error) {
	c.maxRead = max(c.maxRead, len(b))
	return c.r.ReadAt(b, off)
}

func TestReadFloat32BoundedBuffer(t *testing.T) {
	// 1.5 M elements: 3 MiB as BF16, 6 MiB as F32. Converted dtypes are read in chunks of
	// at most 1 MiB; F32 goes straight into dst (on little-endian hosts), in one read and
	// without allocating.
	const n = 3 << 19
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%1000) / 8
	}
	for _, dtype := range []DType{BF16, F16, F32} {
		path := filepath.Join(t.TempDir(), "big.safetensors")
		require.NoError(t, Write(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}}, nil, dtype))
		osf, err := os.Open(path)
		require.NoError(t, err)
		st, err := osf.Stat()
		require.NoError(t, err)
		cr := &countingReader{r: osf}
		f, err := newFile(path, cr, st.Size())
		require.NoError(t, err)
		cr.maxRead = 0
		want := make([]float32, n)
		for i, v := range data {
			switch dtype {
			case F16:
				want[i] = Float16ToFloat32(Float32ToFloat16(v))
			case BF16:
				want[i] = BFloat16ToFloat32(Float32ToBFloat16(v))
			default:
				want[i] = v
			}
		}
		got := make([]float32, n)
		require.NoError(t, f.ReadFloat32("w", got))
		assertFloats(t, want, got, string(dtype))
		if dtype == F32 && littleEndian {
			assert.Equal(t, 4*n, cr.maxRead, "F32 reads straight into dst")
			allocs := testing.AllocsPerRun(3, func() { _ = f.ReadFloat32("w", got) })
			assert.Zero(t, allocs, "F32 ReadFloat32 allocations")
		} else {
			assert.LessOrEqual(t, cr.maxRead, chunkSize, "%s: largest read", dtype)
		}
		require.NoError(t, osf.Close())
	}
}

func TestErrorUnwrap(t *testing.T) {
	inner := errors.New("boom")
	err := error(&Error{Op: "read", Path: "x", Tensor: "t", Err: inner})
	assert.ErrorIs(t, err, inner)
	assert.Equal(t, "safetensors read x: tensor t: boom", err.Error())
}
