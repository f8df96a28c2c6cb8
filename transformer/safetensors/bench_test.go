package safetensors

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// BenchmarkReadFloat32 reads one GPT-2-small c_attn weight (768×2304) from a file in the
// page cache; MB/s counts the float32 bytes delivered.
func BenchmarkReadFloat32(b *testing.B) {
	const rows, cols = 768, 2304
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(rng.NormFloat64() * 0.02)
	}
	for _, dtype := range []DType{F32, BF16, F16} {
		b.Run(string(dtype), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "w.safetensors")
			if err := Write(path, []Tensor{{Name: "w", Shape: []int{rows, cols}, Data: data}}, nil, dtype); err != nil {
				b.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			dst := make([]float32, rows*cols)
			b.SetBytes(int64(4 * len(dst)))
			b.ReportAllocs()
			for b.Loop() {
				if err := f.ReadFloat32("w", dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
