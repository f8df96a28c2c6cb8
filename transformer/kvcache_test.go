package transformer

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/numtest"
	"github.com/llmtune/llmtune/internal/reftest"
)

func loadTiny(t testing.TB) *Model {
	t.Helper()
	m, err := Load(filepath.Join(refDir, "tiny-f32"))
	require.NoError(t, err)
	return m
}

// TestNextLogitsMatchesLogits feeds a sequence in chunks of several sizes (a prefill,
// single tokens, several tokens on a non-empty cache) and compares each step's logits
// with the full forward pass.
func TestNextLogitsMatchesLogits(t *testing.T) {
	g := reftest.Load(t)
	m := loadTiny(t)
	seq := g.Ints(t, "ids.T33")
	full := m.Logits(seq)
	cache, err := NewKVCache(m.Config, len(seq)+2)
	require.NoError(t, err)
	for range 2 { // the second round reuses the cache after Reset
		pos := 0
		for _, n := range []int{5, 1, 1, 3, 7, 1, 15} {
			logits, err := m.NextLogits(cache, seq[pos:pos+n])
			require.NoError(t, err)
			pos += n
			numtest.AssertClose(t, "NextLogits after "+itoa(pos)+" ids", logits, full[pos-1], 2e-5)
			assert.Equal(t, pos, cache.Len())
		}
		require.Equal(t, len(seq), pos)
		cache.Reset()
		assert.Equal(t, 0, cache.Len())
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestNextLogitsErrors(t *testing.T) {
	m := loadTiny(t)
	cache, err := NewKVCache(m.Config, 4)
	require.NoError(t, err)
	assert.Equal(t, 4, cache.Cap())
	_, err = m.NextLogits(cache, nil)
	assert.ErrorContains(t, err, "no ids")
	_, err = m.NextLogits(cache, []int{1, 512})
	assert.ErrorContains(t, err, "ids[1] = 512 is outside [0, 512)")
	_, err = m.NextLogits(cache, []int{1, 2, 3})
	require.NoError(t, err)
	_, err = m.NextLogits(cache, []int{4, 5})
	assert.ErrorIs(t, err, ErrContextLength)
	assert.Equal(t, 3, cache.Len(), "a failed call changed the cache")
	_, err = m.NextLogits(cache, []int{4})
	assert.NoError(t, err)

	other := m.Config
	other.NumLayers = 3
	c3, err := NewKVCache(other, 4)
	require.NoError(t, err)
	_, err = m.NextLogits(c3, []int{1})
	assert.ErrorContains(t, err, "kv cache is for 3 layers")

	_, err = NewKVCache(m.Config, 129)
	assert.ErrorIs(t, err, ErrContextLength)
	_, err = NewKVCache(m.Config, 0)
	assert.Error(t, err)
}
