package trainer

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
)

// TestResumeTornMetrics: a run killed after its checkpoint of step 3, having logged step
// 4 and torn the line of step 5 in the middle of its write, resumes with a warning about
// the torn line; metrics.jsonl then holds every step once, each a whole JSON line, with
// the losses of an uninterrupted run.
func TestResumeTornMetrics(t *testing.T) {
	full, err := Run(context.Background(), testRecipe(t), WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		tail string // after the whole line of step 4, line 6 (after step 0's evaluation)
		why  string
	}{
		{"cut in the middle", `{"step":5,"epoch":0,"lo`, "no newline at its end"},
		{"newline lost", `{"step":5,"epoch":0,"loss":1}`, "no newline at its end"},
		{"newline lost, earlier step", `{"step":2,"epoch":0,"loss":1}`, "no newline at its end"},
		{"zeros of a crashed file system", "\x00\x00\x00\x00", "no newline at its end"},
		{"garbage with a newline", "{\"step\":5,\x00\x00\n", "not valid JSON"},
		{"JSON without a step", "{}\n", "no step"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecipe(t, "train.save_steps=0", "train.eval_steps=0")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			_, err := Run(ctx, r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
				if l.Step == 3 {
					cancel()
				}
			}))
			require.ErrorIs(t, err, context.Canceled)
			path := filepath.Join(r.OutputDir, "metrics.jsonl")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			require.NoError(t, err)
			_, err = f.WriteString(`{"step":4,"epoch":0,"loss":9,"lr":0,"grad_norm":0,"tokens_per_s":0,"elapsed_s":0}` + "\n" + tc.tail)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			r.Train.ResumeFromCheckpoint = "auto"
			var progress strings.Builder
			_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
			require.NoError(t, err)
			assert.Contains(t, progress.String(), "warning: ignoring line 6 of "+path+", which is torn ("+tc.why+"): ")
			assert.Equal(t, 1, strings.Count(progress.String(), "warning:"), progress.String())
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.True(t, bytes.HasSuffix(raw, []byte("\n")))
			steps, _, err := readMetrics(path)
			require.NoError(t, err, "every line is whole")
			var seen []int
			for _, s := range steps {
				seen = append(seen, s.Step)
			}
			assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, seen, "each step once")
			assert.Equal(t, lossesOf(full.Logs), lossesOf(steps))
		})
	}
}

// TestEvalLogInfinitePerplexity: an evaluation loss above ~709 overflows the perplexity,
// which metrics.jsonl writes as null and reads back as +Inf, keeping the other fields.
func TestEvalLogInfinitePerplexity(t *testing.T) {
	bleu := 1.5
	for _, e := range []EvalLog{
		{Step: 3, EvalLoss: 800, EvalPerplexity: math.Inf(1), EvalTokens: 7, EvalBLEU: &bleu, ElapsedS: 2},
		{Step: 4, EvalLoss: 2, EvalPerplexity: math.Exp(2), EvalTokens: 7},
	} {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		assert.Equal(t, math.IsInf(e.EvalPerplexity, 1), strings.Contains(string(b), `"eval_perplexity":null`), "%s", b)
		var back EvalLog
		require.NoError(t, json.Unmarshal(b, &back))
		assert.Equal(t, e, back)
	}
}
