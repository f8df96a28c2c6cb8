package dataset

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
	"github.com/llmtune/llmtune/transformer"
)

const ign = transformer.IgnoreIndex

// smallPC is three prompt_completion examples: "ab"+"c", "d"+"ef", "g"+"h".
const smallPC = `{"prompt": "ab", "completion": "c"}
{"prompt": "d", "completion": "ef"}
{"prompt": "g", "completion": "h"}
`

// ids returns the byte ids of s.
func ids(s string) []int { return byteTok{}.Encode(s) }

// cat concatenates id lists.
func cat(lists ...[]int) []int { return slices.Concat(lists...) }

// allBatches reads every batch of a loader.
func allBatches(t *testing.T, d *Dataset, cfg LoaderConfig, st DataState) []transformer.Batch {
	t.Helper()
	l, err := d.Loader(cfg, st)
	require.NoError(t, err)
	defer l.Close()
	var out []transformer.Batch
	for {
		b, err := l.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, b)
	}
}

func TestUnpackedBatches(t *testing.T) {
	tests := []struct {
		trainOnInputs bool
		want          []transformer.Batch
	}{
		{false, []transformer.Batch{
			{IDs: [][]int{cat(ids("abc"), []int{eos}), cat(ids("def"), []int{eos})},
				Targets: [][]int{{ign, 'c', eos, ign}, {'e', 'f', eos, ign}}},
			{IDs: [][]int{cat(ids("gh"), []int{eos})}, Targets: [][]int{{'h', eos, ign}}},
		}},
		{true, []transformer.Batch{
			{IDs: [][]int{cat(ids("abc"), []int{eos}), cat(ids("def"), []int{eos})},
				Targets: [][]int{{'b', 'c', eos, ign}, {'e', 'f', eos, ign}}},
			{IDs: [][]int{cat(ids("gh"), []int{eos})}, Targets: [][]int{{'h', eos, ign}}},
		}},
	}
	for _, tt := range tests {
		cfg := dataConfig(FormatPromptCompletion, "")
		cfg.TrainOnInputs = tt.trainOnInputs
		d, err := New(writeData(t, "pc.jsonl", smallPC), cfg, byteTok{})
		require.NoError(t, err)
		got := allBatches(t, d, LoaderConfig{BatchSize: 2, Epochs: 1}, DataState{})
		assert.Equal(t, tt.want, got, "batches with train_on_inputs %v", tt.trainOnInputs)
	}
}

// TestUnpackedPadding checks that rows shorter than the batch are padded with EOS and
// that padding never counts in the loss.
func TestUnpackedPadding(t *testing.T) {
	d, err := New(writeData(t, "t.txt", "abcdef\n\nxy\n\nlong example"), dataConfig(FormatText, ""), byteTok{})
	require.NoError(t, err)
	got := allBatches(t, d, LoaderConfig{BatchSize: 2, Epochs: 1}, DataState{})
	want := []transformer.Batch{
		{IDs: [][]int{cat(ids("abcdef"), []int{eos}), cat(ids("xy"), []int{eos, eos, eos, eos, eos})},
			Targets: [][]int{{'b', 'c', 'd', 'e', 'f', eos, ign}, {'y', eos, ign, ign, ign, ign, ign}}},
		{IDs: [][]int{cat(ids("long example"), []int{eos})},
			Targets: [][]int{cat(ids("ong example"), []int{eos, ign})}},
	}
	assert.Equal(t, want, got)
}

func TestPackedBatches(t *testing.T) {
	cfg := dataConfig(FormatPromptCompletion, "")
	cfg.MaxSeqLen = 8
	d, err := New(writeData(t, "pc.jsonl", smallPC), cfg, byteTok{})
	require.NoError(t, err)
	got := allBatches(t, d, LoaderConfig{BatchSize: 2, Packing: true, Epochs: 1}, DataState{})
	want := []transformer.Batch{{
		IDs: [][]int{
			cat(ids("abc"), []int{eos}, ids("def"), []int{eos}),
			cat(ids("gh"), []int{eos, eos, eos, eos, eos, eos})},
		Targets: [][]int{
			{ign, 'c', eos, ign, 'e', 'f', eos, ign}, // no target crosses into the next example
			{'h', eos, ign, ign, ign, ign, ign, ign}},
		Positions: [][]int{{0, 1, 2, 3, 0, 1, 2, 3}, {0, 1, 2, 0, 1, 2, 3, 4}},
		Segments:  [][]int{{0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, -1, -1, -1, -1, -1}},
	}}
	assert.Equal(t, want, got)
}

// TestTruncateThenPack: an example longer than max_seq_len keeps its first max_seq_len
// tokens (the prompt survives, the EOS goes) and fills a row alone; the next example
// starts a new row rather than being split.
func TestTruncateThenPack(t *testing.T) {
	data := `{"prompt": "P", "completion": "abcdefghij"}
{"prompt": "Q", "completion": "xy"}
{"prompt": "R", "completion": "z"}
`
	cfg := dataConfig(FormatPromptCompletion, "")
	cfg.MaxSeqLen = 6
	d, err := New(writeData(t, "pc.jsonl", data), cfg, byteTok{})
	require.NoError(t, err)
	l, err := d.Loader(LoaderConfig{BatchSize: 8, Packing: true, Epochs: 1}, DataState{})
	require.NoError(t, err)
	defer l.Close()
	b, err := l.Next()
	require.NoError(t, err)
	// "P"+"abcdefghij"+EOS keeps its first 6 tokens and fills row 0. "Q"+"xy"+EOS (4)
	// starts row 1; "R"+"z"+EOS (3) does not fit after it and starts row 2.
	want := transformer.Batch{
		IDs: [][]int{
			ids("Pabcde"),
			cat(ids("Qxy"), []int{eos, eos, eos}),
			cat(ids("Rz"), []int{eos, eos, eos, eos})},
		Targets: [][]int{
			{'a', 'b', 'c', 'd', 'e', ign},
			{'x', 'y', eos, ign, ign, ign},
			{'z', eos, ign, ign, ign, ign}},
		Positions: [][]int{{0, 1, 2, 3, 4, 5}, {0, 1, 2, 3, 0, 1}, {0, 1, 2, 0, 1, 2}},
		Segments:  [][]int{{0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, -1, -1}, {0, 0, 0, -1, -1, -1}},
	}
	assert.Equal(t, want, b)
	_, err = l.Next()
	assert.Equal(t, io.EOF, err, "Next after the only batch")
	s := l.Stats()
	assert.Equal(t, Stats{Epoch: 0, Examples: 3, Truncated: 1, Batches: 1, Rows: 3, Tokens: 13, LossTokens: 5 + 3 + 2, PadTokens: 5}, s)
}

// TestDropped: examples with nothing to learn are skipped and counted.
func TestDropped(t *testing.T) {
	data := `{"prompt": "abcdefgh", "completion": "x"}
{"prompt": "", "completion": ""}
{"prompt": "a", "completion": "b"}
`
	cfg := dataConfig(FormatPromptCompletion, "")
	cfg.MaxSeqLen = 4
	d, err := New(writeData(t, "pc.jsonl", data), cfg, byteTok{})
	require.NoError(t, err)
	l, err := d.Loader(LoaderConfig{BatchSize: 8, Epochs: 1}, DataState{})
	require.NoError(t, err)
	defer l.Close()
	b, err := l.Next()
	require.NoError(t, err)
	assert.Equal(t, [][]int{cat(ids("ab"), []int{eos})}, b.IDs)
	assert.Equal(t, Stats{Examples: 1, Dropped: 2, Batches: 1, Rows: 1, Tokens: 3, LossTokens: 2}, l.Stats())

	// A file whose examples are all dropped is an error, not an endless loop.
	d, err = New(writeData(t, "pc.jsonl", `{"prompt": "", "completion": ""}`), cfg, byteTok{})
	require.NoError(t, err)
	l, err = d.Loader(LoaderConfig{BatchSize: 8}, DataState{})
	require.NoError(t, err)
	defer l.Close()
	_, err = l.Next()
	assert.ErrorContains(t, err, "no example to train on in epoch 0")
}

// randomData writes n prompt_completion examples of random lengths.
func randomData(t *testing.T, n int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	letters := "abcdefghijklmnopqrstuvwxyz"
	word := func(max int) string {
		w := make([]byte, rng.IntN(max))
		for i := range w {
			w[i] = letters[rng.IntN(len(letters))]
		}
		return string(w)
	}
	for i := range n {
		line, err := json.Marshal(map[string]string{"prompt": fmt.Sprintf("%d:%s", i, word(12)), "completion": word(30)})
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	return writeData(t, "random.jsonl", b.String())
}

// TestPackingInvariants packs a few hundred shuffled examples of random lengths and
// checks every row: segments are contiguous runs 0, 1, … then padding (−1); positions
// restart at 0 in each; each segment is exactly one example's tokens with its targets
// (next token, prompt and last token masked); every example appears exactly once.
func TestPackingInvariants(t *testing.T) {
	cfg := dataConfig(FormatPromptCompletion, "")
	cfg.MaxSeqLen = 24 // some examples are longer: truncated first
	d, err := New(randomData(t, 300), cfg, byteTok{})
	require.NoError(t, err)

	var want []string // every example's tokens, as a comparable key
	prompts := map[string]int{}
	for ex, err := range d.Examples() {
		require.NoError(t, err)
		tk, _ := d.tokenize(ex)
		key := fmt.Sprint(tk.ids)
		want = append(want, key)
		prompts[key] = tk.prompt
	}

	var got []string
	for bi, b := range allBatches(t, d, LoaderConfig{BatchSize: 4, Packing: true, ShuffleBuffer: 50, Seed: 1, Epochs: 1}, DataState{}) {
		for r := range b.IDs {
			row, tgt, pos, seg := b.IDs[r], b.Targets[r], b.Positions[r], b.Segments[r]
			require.LessOrEqual(t, len(row), cfg.MaxSeqLen)
			for start := 0; start < len(row); {
				end := start
				for end < len(row) && seg[end] == seg[start] {
					end++
				}
				if seg[start] == -1 { // padding: to the end of the row, never in the loss
					require.Equal(t, len(row), end, "batch %d row %d: padding before a segment", bi, r)
					for t2 := start; t2 < end; t2++ {
						assert.Equal(t, eos, row[t2], "batch %d row %d: pad id at %d", bi, r, t2)
						assert.Equal(t, ign, tgt[t2], "batch %d row %d: pad target at %d", bi, r, t2)
					}
					break
				}
				if start > 0 {
					require.Equal(t, seg[start-1]+1, seg[start], "batch %d row %d: segment ids not consecutive at %d", bi, r, start)
				}
				ex := make([]int32, 0, end-start)
				for t2 := start; t2 < end; t2++ {
					require.Equal(t, t2-start, pos[t2], "batch %d row %d: position at %d", bi, r, t2)
					ex = append(ex, int32(row[t2]))
				}
				key := fmt.Sprint(ex)
				p, ok := prompts[key]
				require.True(t, ok, "batch %d row %d: segment %v is no example", bi, r, ex)
				for t2 := start; t2 < end; t2++ {
					wantTgt := ign
					if t2+1 < end && t2+1-start >= p {
						wantTgt = row[t2+1]
					}
					require.Equal(t, wantTgt, tgt[t2], "batch %d row %d: target at %d (segment %v, prompt %d)", bi, r, t2, ex, p)
				}
				got = append(got, key)
				start = end
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	assert.Equal(t, want, got, "the packed examples are not the dataset's")
}

// TestShuffle checks that the order is the same for a seed, differs across seeds and
// epochs, and is a permutation of the file.
func TestShuffle(t *testing.T) {
	d, err := New(randomData(t, 200), dataConfig(FormatPromptCompletion, ""), byteTok{})
	require.NoError(t, err)
	order := func(seed uint64, epoch int) []string {
		cfg := LoaderConfig{BatchSize: 1, ShuffleBuffer: 64, Seed: seed, Epochs: epoch + 1}
		var out []string
		for _, b := range allBatches(t, d, cfg, DataState{Epoch: epoch}) {
			out = append(out, fmt.Sprint(b.IDs[0]))
		}
		return out
	}
	a, b := order(1, 0), order(1, 0)
	assert.Equal(t, a, b, "two passes with seed 1 differ")
	assert.NotEqual(t, a, order(2, 0), "seeds 1 and 2 give the same order")
	assert.NotEqual(t, a, order(1, 1), "epochs 0 and 1 give the same order")
	fileOrder := order(1, 0)
	cfg := LoaderConfig{BatchSize: 1, ShuffleBuffer: 1, Epochs: 1}
	var plain []string
	for _, b := range allBatches(t, d, cfg, DataState{}) {
		plain = append(plain, fmt.Sprint(b.IDs[0]))
	}
	assert.NotEqual(t, plain, fileOrder, "shuffle buffer 64 keeps the file order")
	slices.Sort(plain)
	slices.Sort(fileOrder)
	assert.Equal(t, plain, fileOrder, "shuffling lost or duplicated examples")
}

// TestResume iterates k batches, saves the state (through JSON, as a checkpoint would),
// restores it into a fresh Loader and checks that the rest, and the stats, are exactly
// those of an uninterrupted Loader, across epoch boundaries.
func TestResume(t *testing.T) {
	cfgData := dataConfig(FormatPromptCompletion, "")
	cfgData.MaxSeqLen = 32
	d, err := New(randomData(t, 60), cfgData, byteTok{})
	require.NoError(t, err)
	for _, cfg := range []LoaderConfig{
		{BatchSize: 3, ShuffleBuffer: 1, Epochs: 3},
		{BatchSize: 2, ShuffleBuffer: 16, Seed: 5, Epochs: 3, Packing: true},
		{BatchSize: 4, ShuffleBuffer: 1000, Seed: 9, Epochs: 2},
	} {
		whole := allBatches(t, d, cfg, DataState{})
		perEpoch, err := d.ScanEpoch(cfg, 0)
		require.NoError(t, err)
		n0 := perEpoch.Batches
		require.Greater(t, len(whole), 2*n0-1, "%+v: fewer batches than epochs", cfg)
		for _, k := range []int{0, 1, 7, n0 - 1, n0, n0 + 1, len(whole) - 1, len(whole)} {
			l, err := d.Loader(cfg, DataState{})
			require.NoError(t, err)
			for range k {
				_, err := l.Next()
				require.NoError(t, err)
			}
			saved, err := json.Marshal(l.State())
			require.NoError(t, err)
			wantStats := l.Stats()
			require.NoError(t, l.Close())

			var st DataState
			require.NoError(t, json.Unmarshal(saved, &st))
			r, err := d.Loader(cfg, st)
			require.NoError(t, err, "%+v: Loader(%s)", cfg, saved)
			if k > 0 && k < len(whole) {
				assert.Equal(t, wantStats, r.Stats(), "%+v: stats after restoring %s", cfg, saved)
			}
			for i := k; ; i++ {
				b, err := r.Next()
				if err == io.EOF {
					assert.Equal(t, len(whole), i, "%+v: resumed at %s: ended after batch %d", cfg, saved, i)
					break
				}
				require.NoError(t, err)
				require.Less(t, i, len(whole), "%+v: resumed at %s: too many batches", cfg, saved)
				require.Equal(t, whole[i], b, "%+v: resumed at %s: batch %d differs", cfg, saved, i)
			}
			r.Close()
		}
	}
	_, err = d.Loader(LoaderConfig{BatchSize: 3}, DataState{Epoch: 0, Batch: 1000})
	assert.ErrorContains(t, err, "cannot restore data state {Epoch:0 Batch:1000}: epoch 0 has only 20 batches")
}

// TestEpochsAndScan: Epochs bounds the passes, 0 repeats forever, ScanEpoch counts the
// batches Next returns, MaxExamples caps the examples.
func TestEpochsAndScan(t *testing.T) {
	d, err := New(randomData(t, 10), dataConfig(FormatPromptCompletion, ""), byteTok{})
	require.NoError(t, err)
	assert.Len(t, allBatches(t, d, LoaderConfig{BatchSize: 4, Epochs: 2}, DataState{}), 6)
	s, err := d.ScanEpoch(LoaderConfig{BatchSize: 4}, 0)
	require.NoError(t, err)
	assert.Equal(t, 3, s.Batches)
	assert.Equal(t, 10, s.Examples)
	assert.Len(t, allBatches(t, d, LoaderConfig{BatchSize: 4, Epochs: 1, MaxExamples: 5}, DataState{}), 2)

	l, err := d.Loader(LoaderConfig{BatchSize: 4}, DataState{})
	require.NoError(t, err)
	defer l.Close()
	for range 10 {
		_, err := l.Next()
		require.NoError(t, err)
	}
	assert.Equal(t, DataState{Epoch: 3, Batch: 1}, l.State())
	assert.Equal(t, 3, l.Stats().Epoch)
}

// TestStreamingMemory iterates over a JSONL file far larger than the memory budget and
// checks that the live heap stays flat: the file is streamed, never loaded. It builds 600
// batches, then skips on to the middle of the file (a full pass would take too long for a
// unit test). With -short the file is 60 MB instead of 200 MB.
func TestStreamingMemory(t *testing.T) {
	size := 200 << 20
	if testing.Short() {
		size = 60 << 20
	}
	path, written, lines := reftest.BigJSONL(t, size)

	cfg := dataConfig(FormatPromptCompletion, "")
	cfg.MaxSeqLen = 256
	d, err := New(path, cfg, byteTok{})
	require.NoError(t, err)
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	l, err := d.Loader(LoaderConfig{BatchSize: 8, Packing: true, ShuffleBuffer: 10000, Seed: 1, Epochs: 1}, DataState{})
	require.NoError(t, err)
	defer l.Close()
	var peak uint64
	batches := 0
	for ; batches < 600; batches++ { // 600×8 rows ≈ 10,000 examples through a 10,000 buffer
		_, err := l.Next()
		require.NoError(t, err)
		if batches%100 == 99 {
			peak = max(peak, heap())
		}
	}
	// Skipping reads on without building batches: go on to the middle of the file.
	for l.Stats().Examples < lines/2 {
		require.NoError(t, l.skip(100))
		peak = max(peak, heap())
	}
	growth := int64(peak) - int64(before)
	t.Logf("file %d MB, %d examples read, heap grew by %.1f MB", written>>20, l.Stats().Examples, float64(growth)/(1<<20))
	assert.Less(t, growth, int64(50<<20), "heap grew by %d MB while streaming a %d MB file", growth>>20, written>>20)
}
