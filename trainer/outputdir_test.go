package trainer

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/internal/reftest"
)

// snapshot returns every file and directory under dir with its size, mode and
// modification time; not dir itself, whose time the lock file's coming and going moves.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		out[path] = fmt.Sprintf("%d %v %v", st.Size(), st.Mode(), st.ModTime().Format(time.RFC3339Nano))
		return nil
	}))
	return out
}

// TestUsedOutputDir: a run that starts afresh into an output_dir holding a previous run
// stops before touching anything, with one line saying how to go on, unless
// overwrite_output_dir is set, which removes the previous run's files first.
func TestUsedOutputDir(t *testing.T) {
	files := func(names ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, n := range names {
				p := filepath.Join(dir, n)
				if strings.HasSuffix(n, "/") {
					require.NoError(t, os.MkdirAll(p, 0o755))
					continue
				}
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
				require.NoError(t, os.WriteFile(p, []byte(`{"step": 99, "loss": 1}`+"\n"), 0o644))
			}
		}
	}
	const how = "continue it with train.resume_from_checkpoint=auto, keep it and use another output_dir, or replace it with overwrite_output_dir=true"
	for _, tc := range []struct {
		name      string
		previous  func(t *testing.T, dir string)
		overrides []string
		want      string // the error, with DIR for output_dir; "" for none
		removed   string // what overwrite_output_dir says it removed
	}{
		{"fresh dir", files(), nil, "", ""},
		{"unrelated files", files("notes.txt", "loss.png"), nil, "", ""},
		{"a finished LoRA run", files("checkpoints/checkpoint-9/trainer_state.json", "adapter/adapter_config.json", "metrics.jsonl", "loss.png", "config.yaml"), nil,
			"output_dir DIR already holds a run (checkpoints/, adapter/, metrics.jsonl, loss.png): " + how, ""},
		{"a full fine-tuning run", files("model/config.json"), nil, "output_dir DIR already holds a run (model/): " + how, ""},
		{"a run killed before its first checkpoint", files("metrics.jsonl"), nil, "output_dir DIR already holds a run (metrics.jsonl): " + how, ""},
		{"auto without a checkpoint", files("metrics.jsonl", "adapter/adapter_config.json"), []string{"train.resume_from_checkpoint=auto"},
			"output_dir DIR already holds a run (adapter/, metrics.jsonl) but no checkpoint to resume from: keep it and use another output_dir, or replace it with overwrite_output_dir=true", ""},
		{"overwrite_output_dir", files("checkpoints/checkpoint-9/trainer_state.json", "adapter/adapter_config.json", "model/config.json", "metrics.jsonl", "loss.png", "notes.txt"),
			[]string{"overwrite_output_dir=true"}, "", "checkpoints/, adapter/, model/, metrics.jsonl, loss.png"},
		{"overwrite_output_dir with auto and no checkpoint", files("metrics.jsonl"), []string{"overwrite_output_dir=true", "train.resume_from_checkpoint=auto"}, "", "metrics.jsonl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRecipe(t, append([]string{"train.max_steps=2", "train.eval_steps=0", "train.save_steps=0"}, tc.overrides...)...)
			require.NoError(t, os.MkdirAll(r.OutputDir, 0o755))
			tc.previous(t, r.OutputDir)
			before := snapshot(t, r.OutputDir)
			var progress strings.Builder
			res, err := Run(context.Background(), r, WithModel(tinyModel(t), reftest.ByteTokenizer{}, nil), WithProgress(&progress))
			if tc.want != "" {
				require.ErrorIs(t, err, ErrOutputDirUsed)
				assert.Equal(t, strings.ReplaceAll(tc.want, "DIR", r.OutputDir), err.Error())
				assert.Equal(t, before, snapshot(t, r.OutputDir), "the refused run touched output_dir")
				assert.Empty(t, progress.String())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, 2, res.Steps)
			if tc.removed != "" {
				assert.Contains(t, progress.String(), fmt.Sprintf("overwrite_output_dir: removed the previous run's %s from %s\n", tc.removed, r.OutputDir))
			}
			steps, _, err := readMetrics(filepath.Join(r.OutputDir, "metrics.jsonl"))
			require.NoError(t, err)
			assert.Equal(t, lossesOf(res.Logs), lossesOf(steps), "metrics.jsonl is this run's only")
			cks, err := checkpoints(filepath.Join(r.OutputDir, checkpointsDir))
			require.NoError(t, err)
			assert.Equal(t, []string{filepath.Join(r.OutputDir, checkpointsDir, "checkpoint-2")}, cks)
			assert.NoDirExists(t, filepath.Join(r.OutputDir, "model"), "a LoRA run left the previous run's model/")
			if _, ok := before[filepath.Join(r.OutputDir, "notes.txt")]; ok {
				assert.FileExists(t, filepath.Join(r.OutputDir, "notes.txt"), "overwrite_output_dir removes only a run's files")
			}
		})
	}
}
