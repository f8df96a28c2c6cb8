package transformer

import (
	"path/filepath"
	"testing"

	"github.com/nlpodyssey/spago/ag"
	"github.com/stretchr/testify/require"
)

// BenchmarkTinyForward times Logits of the reference tiny model (2 layers, 64 dims,
// vocab 512) on one sequence of 33 tokens.
func BenchmarkTinyForward(b *testing.B) {
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(b, err)
	ids := make([]int, 33)
	for i := range ids {
		ids[i] = (i * 37) % m.Config.VocabSize
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Logits(ids)
	}
	b.ReportMetric(float64(len(ids)*b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkTinyLossBackward times loss and backward over a 3×33 batch with every
// parameter trainable.
func BenchmarkTinyLossBackward(b *testing.B) {
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(b, err)
	batch := Batch{}
	for r := range 3 {
		ids, tg := make([]int, 33), make([]int, 33)
		for i := range ids {
			ids[i] = (i*37 + r) % m.Config.VocabSize
			tg[i] = (i*11 + r) % m.Config.VocabSize
		}
		batch.IDs, batch.Targets = append(batch.IDs, ids), append(batch.Targets, tg)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range m.Params() {
			p.Param.ZeroGrad()
		}
		loss, err := m.Loss(batch)
		require.NoError(b, err)
		require.NoError(b, ag.Backward(loss))
	}
	b.ReportMetric(float64(3*33*b.N)/b.Elapsed().Seconds(), "tok/s")
}
