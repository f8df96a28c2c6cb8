package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// A checkpoint is a directory output_dir/checkpoints/checkpoint-{step} holding:
//
//	adapter/                  the LoRA adapter in PEFT format (LoRA runs), or
//	model/                    the whole model as a Hugging Face checkpoint (full fine-tuning)
//	trainable.safetensors     every trainable parameter under its own name, for resuming
//	optimizer.safetensors     AdamW's moments, exp_avg.{name} and exp_avg_sq.{name}
//	trainer_state.json        step, data position, dropout RNG state, AdamW step counts
//
// It is written into a hidden temporary directory that is renamed into place only when
// every file is complete and fsynced, so an interrupted save never leaves a partial
// checkpoint and never touches the previous ones.
const (
	checkpointsDir = "checkpoints"
	checkpointPfx  = "checkpoint-"
	stateFile      = "trainer_state.json"
	trainableFile  = "trainable.safetensors"
	optimizerFile  = "optimizer.safetensors"
)

// trainerState is trainer_state.json.
type trainerState struct {
	Step       int               `json:"step"`        // optimizer steps done
	TotalSteps int               `json:"total_steps"` // of the whole run
	Data       dataset.DataState `json:"data"`        // where the next batch comes from
	Dropout    []byte            `json:"dropout_rng,omitempty"`
	// OptSteps is each trainable parameter's AdamW step count, by name.
	OptSteps map[string]int `json:"optimizer_steps"`
	Seed     uint64         `json:"seed"`
}

// saveCheckpoint writes the checkpoint of step into dir/checkpoints and returns its path.
func (t *run) saveCheckpoint() (string, error) {
	root := filepath.Join(t.recipe.OutputDir, checkpointsDir)
	final := filepath.Join(root, fmt.Sprintf("%s%d", checkpointPfx, t.step))
	tmp := filepath.Join(root, fmt.Sprintf(".%s%d.tmp", checkpointPfx, t.step))
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", err
	}
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	if err := t.writeCheckpoint(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("save checkpoint %s: %w", final, err)
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	// Replace a checkpoint of the same step (a resumed run saving again) only once the
	// new one is complete.
	old := final + ".old"
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	os.RemoveAll(old)
	if err := atomicfile.SyncDir(root); err != nil {
		return "", err
	}
	return final, t.pruneCheckpoints(root)
}

// saveHook, when set by a test, runs between the files of a checkpoint and may fail the
// save, standing in for a crash half way.
var saveHook func(file string) error

func (t *run) writeCheckpoint(dir string) error {
	hook := func(file string) error {
		if saveHook != nil {
			return saveHook(file)
		}
		return nil
	}
	if err := t.export(dir); err != nil {
		return err
	}
	if err := hook("export"); err != nil {
		return err
	}
	var params, moments []safetensors.Tensor
	st := trainerState{Step: t.step, TotalSteps: t.total, Data: t.dataState, OptSteps: map[string]int{}, Seed: t.recipe.Seed}
	for i, p := range t.params {
		params = append(params, safetensors.Tensor{Name: p.Name, Shape: p.Param.Shape(), Data: transformer.Floats(p.Param)})
		step, m, v := t.opt.State(i)
		if m != nil {
			st.OptSteps[p.Name] = step
			moments = append(moments,
				safetensors.Tensor{Name: "exp_avg." + p.Name, Shape: p.Param.Shape(), Data: m},
				safetensors.Tensor{Name: "exp_avg_sq." + p.Name, Shape: p.Param.Shape(), Data: v})
		}
	}
	if err := safetensors.Write(filepath.Join(dir, trainableFile), params, nil, safetensors.F32); err != nil {
		return err
	}
	if err := hook(trainableFile); err != nil {
		return err
	}
	if err := safetensors.Write(filepath.Join(dir, optimizerFile), moments, nil, safetensors.F32); err != nil {
		return err
	}
	if t.adapter != nil {
		b, err := t.adapter.DropoutState()
		if err != nil {
			return err
		}
		st.Dropout = b
	}
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, stateFile), append(raw, '\n'))
}

// export writes what a user takes away: the adapter in PEFT format, or the whole model
// with its tokenizer files.
func (t *run) export(dir string) error {
	if t.adapter != nil {
		return t.adapter.Save(filepath.Join(dir, "adapter"))
	}
	out := filepath.Join(dir, "model")
	if err := t.model.Save(out); err != nil {
		return err
	}
	return tokenizer.CopyFiles(t.recipe.BaseModel, out)
}

// checkpoints returns the complete checkpoint directories under root, oldest step first.
func checkpoints(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type ck struct {
		step int
		path string
	}
	var cks []ck
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, checkpointPfx) {
			continue
		}
		step, err := strconv.Atoi(strings.TrimPrefix(name, checkpointPfx))
		if err != nil {
			continue
		}
		cks = append(cks, ck{step, filepath.Join(root, name)})
	}
	slices.SortFunc(cks, func(a, b ck) int { return a.step - b.step })
	var out []string
	for _, c := range cks {
		out = append(out, c.path)
	}
	return out, nil
}

// pruneCheckpoints deletes the oldest checkpoints beyond save_total_limit.
func (t *run) pruneCheckpoints(root string) error {
	limit := t.recipe.Train.SaveTotalLimit
	if limit <= 0 {
		return nil
	}
	cks, err := checkpoints(root)
	if err != nil {
		return err
	}
	for len(cks) > limit {
		if err := os.RemoveAll(cks[0]); err != nil {
			return err
		}
		cks = cks[1:]
	}
	return nil
}

// resumeDir resolves train.resume_from_checkpoint: "" → none; "auto" → the newest
// checkpoint in output_dir, or none; otherwise the directory given, which must exist.
func resumeDir(r *Recipe) (string, error) {
	switch r.Train.ResumeFromCheckpoint {
	case "":
		return "", nil
	case "auto":
		cks, err := checkpoints(filepath.Join(r.OutputDir, checkpointsDir))
		if err != nil || len(cks) == 0 {
			return "", err
		}
		return cks[len(cks)-1], nil
	}
	dir := r.Train.ResumeFromCheckpoint
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err != nil {
		return "", fmt.Errorf("train.resume_from_checkpoint %s: not a checkpoint: %w", dir, err)
	}
	return dir, nil
}

// loadCheckpoint restores the trainable parameters, the optimizer, the step, the data
// position and the dropout RNG from a checkpoint directory.
func (t *run) loadCheckpoint(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return err
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	pf, err := safetensors.Open(filepath.Join(dir, trainableFile))
	if err != nil {
		return err
	}
	defer pf.Close()
	of, err := safetensors.Open(filepath.Join(dir, optimizerFile))
	if err != nil {
		return err
	}
	defer of.Close()
	if n := len(pf.Tensors()); n != len(t.params) {
		return fmt.Errorf("%s holds %d parameters, this run trains %d: is it the same recipe?", filepath.Join(dir, trainableFile), n, len(t.params))
	}
	for i, p := range t.params {
		info, ok := pf.Tensor(p.Name)
		if !ok || !slices.Equal(info.Shape, p.Param.Shape()) {
			return fmt.Errorf("%s: parameter %s is missing or has another shape: is it the same recipe?", filepath.Join(dir, trainableFile), p.Name)
		}
		if err := pf.ReadFloat32(p.Name, transformer.Floats(p.Param)); err != nil {
			return err
		}
		step, ok := st.OptSteps[p.Name]
		if !ok {
			if err := t.opt.SetState(i, 0, nil, nil); err != nil {
				return err
			}
			continue
		}
		m, v := make([]float32, p.Param.Size()), make([]float32, p.Param.Size())
		if err := of.ReadFloat32("exp_avg."+p.Name, m); err != nil {
			return err
		}
		if err := of.ReadFloat32("exp_avg_sq."+p.Name, v); err != nil {
			return err
		}
		if err := t.opt.SetState(i, step, m, v); err != nil {
			return err
		}
	}
	if t.adapter != nil && st.Dropout != nil {
		if err := t.adapter.SetDropoutState(st.Dropout); err != nil {
			return err
		}
	}
	t.step, t.dataState = st.Step, st.Data
	return nil
}
