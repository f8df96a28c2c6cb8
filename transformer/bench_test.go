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

// BenchmarkTinyDecode times greedy decoding with a KV cache on the reference tiny model:
// the prefill of a 33-token prompt, then 64 new tokens fed one at a time through
// NextLogits.
func BenchmarkTinyDecode(b *testing.B) {
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(b, err)
	const newTokens = 64
	prompt := make([]int, 33)
	for i := range prompt {
		prompt[i] = (i * 37) % m.Config.VocabSize
	}
	cache, err := NewKVCache(m.Config, len(prompt)+newTokens)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		cache.Reset()
		logits, err := m.NextLogits(cache, prompt)
		require.NoError(b, err)
		for range newTokens {
			logits, err = m.NextLogits(cache, []int{greedyID(logits)})
			require.NoError(b, err)
		}
	}
	b.ReportMetric(float64(newTokens*b.N)/b.Elapsed().Seconds(), "tok/s")
}

// greedyID returns the index of the largest element (the first of ties).
func greedyID(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
