package trainer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
)

// damage damages the checkpoint file at path.
type damage func(t *testing.T, path string)

func truncateHalf(t *testing.T, path string) {
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, st.Size()/2))
}

func garbageHeader(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte("garbage!"), 8) // the header's JSON starts at byte 8
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func remove(t *testing.T, path string) { require.NoError(t, os.Remove(path)) }

func overwrite(content string) damage {
	return func(t *testing.T, path string) { require.NoError(t, os.WriteFile(path, []byte(content), 0o644)) }
}

// fullFT is the tiny model's full fine-tuning, as TestFullFineTuning.
var fullFT = []string{"~adapter", "train.learning_rate=1e-3"}

// TestResumePastDamagedCheckpoint damages the newest checkpoint (checkpoint-6 of a run
// that saved 3 and 6) in each way a crash, a full disk or a half copy can: an explicit
// resume_from_checkpoint of it is an error naming the file, which touches nothing; auto
// resumes from checkpoint-3 with a warning naming the damaged one and why, and the
// losses of an uninterrupted run from there.
func TestResumePastDamagedCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name      string
		overrides []string
		file      string // in the checkpoint
		damage    damage
		why       string // in the warning and the error
	}{
		{"truncated trainable.safetensors", nil, trainableFile, truncateHalf, "truncated"},
		{"garbage header in optimizer.safetensors", nil, optimizerFile, garbageHeader, "invalid header JSON"},
		{"missing trainer_state.json", nil, stateFile, remove, "is missing: the checkpoint is incomplete"},
		{"unparsable trainer_state.json", nil, stateFile, overwrite(`{"step": 6, "da`), "unexpected end of JSON input"},
		{"truncated adapter weights", nil, "adapter/adapter_model.safetensors", truncateHalf, "truncated"},
		{"unparsable adapter config", nil, "adapter/adapter_config.json", overwrite("{"), "unexpected end of JSON input"},
		{"full fine-tuning: truncated model weights", fullFT, "model/model.safetensors", truncateHalf, "truncated"},
		{"full fine-tuning: missing config.json", fullFT, "model/config.json", remove, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, err := Run(context.Background(), testRecipe(t, tc.overrides...), WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
			require.NoError(t, err)
			r := testRecipe(t, append([]string{"train.eval_steps=0"}, tc.overrides...)...)
			_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
			require.NoError(t, err)
			ck3 := filepath.Join(r.OutputDir, checkpointsDir, "checkpoint-3")
			ck6 := filepath.Join(r.OutputDir, checkpointsDir, "checkpoint-6")
			file := filepath.Join(ck6, tc.file)
			tc.damage(t, file)

			explicit := *r
			explicit.Train.ResumeFromCheckpoint = ck6
			before := snapshot(t, r.OutputDir)
			_, err = Run(context.Background(), &explicit, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "train.resume_from_checkpoint "+ck6+": damaged checkpoint: ")
			assert.Contains(t, err.Error(), file)
			assert.Contains(t, err.Error(), tc.why)
			assert.NotContains(t, err.Error(), "\n")
			assert.Equal(t, before, snapshot(t, r.OutputDir), "the refused run touched output_dir")

			r.Train.ResumeFromCheckpoint = "auto"
			var progress strings.Builder
			rest, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
			require.NoError(t, err)
			warning, _, _ := strings.Cut(progress.String(), "\n")
			assert.True(t, strings.HasPrefix(warning, "warning: skipping damaged checkpoint "+ck6+": "), warning)
			assert.Contains(t, warning, file)
			assert.Contains(t, warning, tc.why)
			assert.NotContains(t, progress.String(), "checkpoint "+ck3+":", "checkpoint-3 is fine")
			assert.Equal(t, 4, rest.Logs[0].Step, "resumed from checkpoint-3")
			assert.Equal(t, lossesOf(full.Logs[3:]), lossesOf(rest.Logs), "losses after resuming")
			steps, _, err := readMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
			require.NoError(t, err)
			assert.Equal(t, lossesOf(full.Logs), lossesOf(steps), "metrics.jsonl")
			assert.NoError(t, checkCheckpoint(ck6, tc.overrides == nil), "checkpoint-6 written again")
		})
	}
}

// TestResumeNoUsableCheckpoint: when every checkpoint is damaged, auto does not start
// afresh over the run: it stops, naming them, unless overwrite_output_dir is set.
func TestResumeNoUsableCheckpoint(t *testing.T) {
	r := testRecipe(t, "train.eval_steps=0")
	full, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	remove(t, filepath.Join(r.OutputDir, checkpointsDir, "checkpoint-6", stateFile))
	truncateHalf(t, filepath.Join(r.OutputDir, checkpointsDir, "checkpoint-3", optimizerFile))

	r.Train.ResumeFromCheckpoint = "auto"
	var progress strings.Builder
	_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
	require.ErrorIs(t, err, ErrOutputDirUsed)
	assert.Equal(t, "output_dir "+r.OutputDir+" already holds a run (checkpoints/, adapter/, metrics.jsonl, loss.png) but no usable checkpoint "+
		"to resume from (damaged: checkpoint-6, checkpoint-3): keep it and use another output_dir, or replace it with overwrite_output_dir=true", err.Error())
	assert.Equal(t, 2, strings.Count(progress.String(), "warning: skipping damaged checkpoint "), progress.String())

	r.OverwriteOutputDir = true
	res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs), lossesOf(res.Logs), "started afresh")
}

// TestPruneSkipsLaterCheckpoints: a run resumed past a damaged checkpoint-6 with
// save_total_limit=1 keeps its own newest checkpoint: the damaged one, of a later step,
// counts for nothing, and is replaced when the run gets there.
func TestPruneSkipsLaterCheckpoints(t *testing.T) {
	full, err := Run(context.Background(), testRecipe(t), WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	r := testRecipe(t, "train.eval_steps=0")
	_, err = Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	root := filepath.Join(r.OutputDir, checkpointsDir)
	truncateHalf(t, filepath.Join(root, "checkpoint-6", trainableFile))

	r.Train.ResumeFromCheckpoint, r.Train.SaveSteps, r.Train.SaveTotalLimit = "auto", 1, 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = Run(ctx, r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), OnStep(func(l StepLog) {
		if l.Step == 5 {
			cancel()
		}
	}))
	require.ErrorIs(t, err, context.Canceled)
	cks, err := checkpoints(root)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "checkpoint-5"), filepath.Join(root, "checkpoint-6")}, cks)
	require.NoError(t, checkCheckpoint(cks[0], true))

	rest, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil))
	require.NoError(t, err)
	assert.Equal(t, lossesOf(full.Logs[5:]), lossesOf(rest.Logs), "resumed from checkpoint-5")
	cks, err = checkpoints(root)
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(root, "checkpoint-6")}, cks)
	assert.NoError(t, checkCheckpoint(cks[0], true))
}
