package safetensors

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzOpen feeds arbitrary bytes to the header parser as a file's content (through the
// same newFile that Open calls, with an in-memory io.ReaderAt for speed) and checks that
// it never panics: either an *Error comes back, or every tensor it accepted lies inside
// the file and reads without error.
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

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := newFile("fuzz.safetensors", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var se *Error
			if !errors.As(err, &se) || se.Err == nil {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
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
	})
}
