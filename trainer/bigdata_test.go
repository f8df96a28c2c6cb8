package trainer

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
)

var (
	bigData   = flag.Bool("llmtune.bigdata", false, "run TestBigData: a 1 GB JSONL streamed through training and full evaluations (minutes)")
	bigDataMB = flag.Int("llmtune.bigdata.mb", 1024, "the size of TestBigData's JSONL in MiB")
)

// TestBigData runs a LoRA fine-tuning of the tiny test model on a generated 1 GB JSONL
// (about 2.2 million prompt/completion lines, written to a temporary directory and
// removed afterwards) that is both the training data and the evaluation data: three
// training steps, and the full evaluations before and after them, each a pass over every
// line of the file. The data are streamed, so the peak resident set grows by less than
// 100 MB over the loaded model whatever the file's size. Opt-in, as it takes minutes and
// a gigabyte of disk:
//
//	go test ./trainer/ -run TestBigData -llmtune.bigdata -v
//
// (-llmtune.bigdata.mb sets another size.)
func TestBigData(t *testing.T) {
	if !*bigData {
		t.Skip("opt-in: go test ./trainer/ -run TestBigData -llmtune.bigdata -v (writes a 1 GB JSONL to a temporary directory; takes minutes)")
	}
	start := time.Now()
	path, written, lines := reftest.BigJSONL(t, *bigDataMB<<20)
	t.Logf("wrote %s: %d bytes (%.2f GB), %d lines, in %v", path, written, float64(written)/1e9, lines, time.Since(start).Round(time.Second))

	// Examples of ~490 bytes, one token a byte, every one read, parsed and tokenized whole,
	// then cut to 4 tokens that all count (the prompt alone is longer), 256 rows a batch:
	// the model's share of the work, which is most of it, stays at minutes.
	r := testRecipe(t, "train.max_steps=3", "train.eval_steps=0", "train.save_steps=0", "train.batch_size=256",
		"data.train="+path, "data.eval="+path, "data.format=prompt_completion", "~data.template",
		"data.max_seq_len=4", "data.train_on_inputs=true")
	m := tinyModel(t)
	runtime.GC()
	before := vmRSS()
	resetPeakRSS()
	peak := sampleRSS(t)
	start = time.Now()
	res, err := Run(context.Background(), r, WithModel(m, reftest.ByteTokenizer{}, nil))
	elapsed := time.Since(start)
	require.NoError(t, err)
	sampled := peak()
	hwm := vmHWM() // the kernel's peak since resetPeakRSS, where it could be reset
	growth := max(sampled, hwm) - before

	require.Equal(t, 3, res.Steps)
	require.Len(t, res.Evals, 2, "the evaluations before and after training")
	for _, e := range res.Evals {
		assert.Equal(t, lines, e.Examples, "a full evaluation pass reads every line")
		assert.Equal(t, 3*lines, e.EvalTokens, "3 target tokens an example: the last token has none")
	}
	t.Logf("Run: 3 steps and 2 full evaluations of %d examples in %v (eval loss %.4f → %.4f)",
		lines, elapsed.Round(time.Second), res.Evals[0].EvalLoss, res.Evals[1].EvalLoss)
	t.Logf("RSS before Run %.1f MB; peak during Run %.1f MB sampled, %.1f MB VmHWM; growth %.1f MB",
		mb(before), mb(sampled), mb(hwm), mb(growth))
	assert.Less(t, growth, int64(100<<20), "peak RSS growth over the loaded model")
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// sampleRSS samples VmRSS every 10 ms until the returned function is called, which
// returns the largest sample.
func sampleRSS(t *testing.T) func() int64 {
	var (
		mu   sync.Mutex
		peak int64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			rss := vmRSS()
			mu.Lock()
			peak = max(peak, rss)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	finish := func() int64 {
		once.Do(func() { close(stop); <-done })
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
	t.Cleanup(func() { finish() })
	return finish
}

// resetPeakRSS resets the kernel's record of the process's peak RSS (VmHWM), where Linux
// allows it.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// vmHWM returns the process's peak resident set size (VmHWM) in bytes, or 0 where
// /proc/self/status has none.
func vmHWM() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			var kb int64
			fmt.Sscan(f[1], &kb)
			return kb << 10
		}
	}
	return 0
}
