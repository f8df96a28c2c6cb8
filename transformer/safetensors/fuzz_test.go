package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// FuzzOpen feeds arbitrary bytes to the header parser as a file's content (through the
// same newFile that Open calls, with an in-memory io.ReaderAt for speed) and checks that
// it never panics: either an *Error comes back, one line naming the file, or every tensor
// it accepted lies inside the file and reads without error, and a file of float tensors
// is written back by Write to one that reads the same (checkRewrite).
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	for i, dtype := range []DType{F32, F16, BF16} {
		path := filepath.Join(dir, string(dtype)+".safetensors")
		tensors := []Tensor{
			{Name: "w", Shape: []int{2, 3}, Data: []float32{1, -2, 3, 0.5, 0, -0.25}},
			{Name: "b", Shape: []int{}, Data: []float32{float32(i)}},
			{Name: "e", Shape: []int{0}},
		}
		require.NoError(f, Write(path, tensors, map[string]string{"format": "pt"}, dtype))
		b, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add(handBuilt())
	f.Add(fileBytes(`{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}`,
		make([]byte, 11)))
	f.Add(fileBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
		make([]byte, 8)))
	f.Add([]byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	// Names with a newline, in faults of their own tensor and of the next one, and a
	// string after the header: each error stays one line.
	f.Add(fileBytes(`{"a\nb":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(fileBytes(`{"x\u2028":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
		make([]byte, 8)))
	f.Add(fileBytes(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} "\n"`, make([]byte, 4)))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := newFile("fuzz.safetensors", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Err == nil {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if msg := err.Error(); strings.ContainsFunc(msg, func(r rune) bool { return !strconv.IsPrint(r) }) ||
				!strings.HasPrefix(msg, "safetensors open fuzz.safetensors: ") {
				t.Fatalf("error %q is not one line naming the file", msg)
			}
			return
		}
		var end int64
		for _, ti := range file.Tensors() {
			if ti.Offsets[0] != end || ti.Offsets[1] < ti.Offsets[0] {
				t.Fatalf("tensor %s: offsets %v after end %d", ti.Name, ti.Offsets, end)
			}
			end = ti.Offsets[1]
			if int64(ti.NumElements())*int64(ti.DType.Size()) != ti.Offsets[1]-ti.Offsets[0] {
				t.Fatalf("tensor %s: %s %v does not fill %v", ti.Name, ti.DType, ti.Shape, ti.Offsets)
			}
			r, err := file.Reader(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, r); err != nil || n != ti.Offsets[1]-ti.Offsets[0] {
				t.Fatalf("tensor %s: read %d raw bytes, err %v", ti.Name, n, err)
			}
			if ti.DType.IsFloat32Readable() {
				// Accepted sizes are bounded by the file, so this allocation is too.
				if err := file.ReadFloat32(ti.Name, make([]float32, ti.NumElements())); err != nil {
					t.Fatalf("tensor %s: %v", ti.Name, err)
				}
			}
		}
		if file.dataStart+end != int64(len(data)) {
			t.Fatalf("tensors end at %d, file is %d bytes", file.dataStart+end, len(data))
		}
		checkRewrite(t, file)
	})
}

// checkRewrite checks that a file Open accepted, when all its tensors are floats and
// have names Write takes, is written back by Write (as its one dtype, or F32 when they
// differ) to a file that Open reads back to the same names, shapes, metadata and values
// (bit for bit; a NaN may change its payload), and, where a tensor holds no NaN and
// keeps its dtype, to the same bytes.
func checkRewrite(t *testing.T, file *File) {
	t.Helper()
	infos := file.Tensors()
	dtype := F32
	if len(infos) > 0 && infos[0].DType.IsWritable() {
		dtype = infos[0].DType
	}
	tensors := make([]Tensor, len(infos))
	for i, ti := range infos {
		if !ti.DType.IsFloat32Readable() || ti.Name == "" {
			return
		}
		if ti.DType != dtype {
			dtype = F32
		}
		tensors[i] = Tensor{Name: ti.Name, Shape: ti.Shape, Data: make([]float32, ti.NumElements())}
		if err := file.ReadFloat32(ti.Name, tensors[i].Data); err != nil {
			t.Fatalf("tensor %s: %v", ti.Name, err)
		}
	}
	b, err := writeBytes(tensors, file.Metadata(), dtype)
	if err != nil {
		t.Fatalf("Write of what Open read: %v", err)
	}
	back, err := newFile("rewritten.safetensors", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("Open of what Write wrote: %v", err)
	}
	if !maps.Equal(back.Metadata(), file.Metadata()) {
		t.Fatalf("metadata %q, want %q", back.Metadata(), file.Metadata())
	}
	if len(back.Tensors()) != len(tensors) {
		t.Fatalf("%d tensors written back, want %d", len(back.Tensors()), len(tensors))
	}
	for i, want := range tensors {
		got, ok := back.Tensor(want.Name)
		if !ok || got.DType != dtype || !slices.Equal(got.Shape, want.Shape) {
			t.Fatalf("tensor %q written back as %+v (found %v), want %s %v", want.Name, got, ok, dtype, want.Shape)
		}
		data := make([]float32, len(want.Data))
		if err := back.ReadFloat32(want.Name, data); err != nil {
			t.Fatalf("tensor %q written back: %v", want.Name, err)
		}
		nan := false
		for j, w := range want.Data {
			g := data[j]
			nan = nan || w != w
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("tensor %q [%d] written back as %g (%#x), want %g (%#x)", want.Name, j, g, math.Float32bits(g), w, math.Float32bits(w))
			}
		}
		if orig := infos[i]; !nan && orig.DType == dtype {
			r1, _ := file.Reader(orig.Name)
			r2, _ := back.Reader(orig.Name)
			b1, err1 := io.ReadAll(r1)
			b2, err2 := io.ReadAll(r2)
			if err1 != nil || err2 != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("tensor %q written back as bytes %x, want %x (%v, %v)", orig.Name, b2, b1, err1, err2)
			}
		}
	}
}

// writeBytes is Write into memory: the same checks, header and encoding, without the
// atomic file and its fsyncs, which would slow the fuzzer a hundredfold.
func writeBytes(tensors []Tensor, metadata map[string]string, dtype DType) ([]byte, error) {
	if err := checkWrite("mem", tensors, metadata, dtype); err != nil {
		return nil, err
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })
	header := buildHeader(tensors, order, metadata, dtype)
	var buf bytes.Buffer
	buf.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(header))))
	buf.Write(header)
	var scratch []byte
	for _, i := range order {
		if err := encode(&buf, tensors[i].Data, dtype, &scratch); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// FuzzParseIndex feeds arbitrary bytes to the index parser and checks that it never
// panics, that its errors are one line of printable text, that what it accepts is a non-empty weight map of valid shard file names, and
// that the index WriteDir would write for that map parses back to the same map.
func FuzzParseIndex(f *testing.F) {
	dir := f.TempDir()
	tensors := []Tensor{
		{Name: "model.embed_tokens.weight", Shape: []int{4, 2}, Data: make([]float32, 8)},
		{Name: "é \"q\"\\\n😀\x7f", Shape: []int{2}, Data: make([]float32, 2)},
		{Name: "lm_head.weight", Shape: []int{4, 2}, Data: make([]float32, 8)},
	}
	require.NoError(f, WriteDir(dir, tensors, nil, F32, 32))
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	require.NoError(f, err)
	f.Add(b)
	for _, s := range []string{
		`{"metadata": {"total_size": 8}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}`,
		`{"weight_map": {"a": "x.safetensors"}, "other": [1, {"k": null}]}`,
		`{"weight_map": {"a": "../x.safetensors"}}`,
		`{"weight_map": {"a": "x.safetensors", "a": "y.safetensors"}}`,
		`{"weight_map": {"a\nb": "x.safetensors", "a\nb": "y.safetensors"}}`,
		`{"weight_map": {"a\u2028": "x\n.json"}}`,
		`{"weight_map": {}}`,
		`{"weight_map": {"a": 1}}`,
		`{"metadata": null, "weight_map": {"a": "x.safetensors"}}`,
		`{"weight_map": {"\u00e9\ud83d\ude00": "x.safetensors"}} `,
		`{"weight_map": {"a": "x.safetensors"}}{}`,
		`[]`, ``, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseIndex(data)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a weight map", err)
			}
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return !strconv.IsPrint(r) }) {
				t.Fatalf("error %q is not one line of printable text", err)
			}
			return
		}
		if len(m) == 0 {
			t.Fatal("accepted an empty weight map")
		}
		names := make([]string, 0, len(m))
		for name, file := range m {
			if err := checkShardFile(file); err != nil {
				t.Fatalf("accepted %q: %v", file, err)
			}
			if !utf8.ValidString(name) {
				t.Fatalf("accepted tensor name %q", name)
			}
			names = append(names, name)
		}
		slices.Sort(names)
		back, err := parseIndex(buildIndex(names, func(name string) string { return m[name] }, 1, 2))
		if err != nil {
			t.Fatalf("rewritten index: %v", err)
		}
		if !maps.Equal(m, back) {
			t.Fatalf("rewritten index reads %v, want %v", back, m)
		}
	})
}
