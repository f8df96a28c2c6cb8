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
	"github.com/llmtune/llmtune/lora"
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
// checkpoint and never touches the previous ones. Inside it, trainer_state.json is
// written last: it marks the checkpoint complete, so that one cut short some other way
// (copied half way, say) is recognisably incomplete. A checkpoint is used for resuming
// only once checkCheckpoint finds every file present and consistent; resuming "auto"
// goes back past damaged ones.
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
	// Last: trainer_state.json marks the checkpoint complete.
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

// checkpoints returns the checkpoint directories (checkpoint-{step}) under root, oldest
// step first, complete or not (see checkCheckpoint).
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
		step, ok := checkpointStep(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		cks = append(cks, ck{step, filepath.Join(root, e.Name())})
	}
	slices.SortFunc(cks, func(a, b ck) int { return a.step - b.step })
	var out []string
	for _, c := range cks {
		out = append(out, c.path)
	}
	return out, nil
}

// checkpointStep returns the step of a checkpoint directory's name, checkpoint-{step}.
func checkpointStep(name string) (int, bool) {
	if !strings.HasPrefix(name, checkpointPfx) {
		return 0, false
	}
	step, err := strconv.Atoi(strings.TrimPrefix(name, checkpointPfx))
	return step, err == nil
}

// pruneCheckpoints deletes the oldest checkpoints beyond save_total_limit. Checkpoints of
// later steps than this run's (left by an earlier run that this one resumed before, past
// them when they were damaged) are neither counted nor deleted: the run will overwrite
// them when it gets there.
func (t *run) pruneCheckpoints(root string) error {
	limit := t.recipe.Train.SaveTotalLimit
	if limit <= 0 {
		return nil
	}
	all, err := checkpoints(root)
	if err != nil {
		return err
	}
	var cks []string
	for _, c := range all {
		if step, _ := checkpointStep(filepath.Base(c)); step <= t.step {
			cks = append(cks, c)
		}
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
// checkpoint in output_dir that checkCheckpoint finds complete, with a warning on the
// progress writer for each newer one it goes past, or none (damaged is the list of those
// it went past); otherwise the directory given, which must be a complete checkpoint.
func (t *run) resumeDir() (dir string, damaged []string, err error) {
	r := t.recipe
	withAdapter := t.s.adapter != nil || r.Adapter != nil
	switch r.Train.ResumeFromCheckpoint {
	case "":
		return "", nil, nil
	case "auto":
		cks, err := checkpoints(filepath.Join(r.OutputDir, checkpointsDir))
		if err != nil {
			return "", nil, fmt.Errorf("train.resume_from_checkpoint auto: %w", err)
		}
		for i := len(cks) - 1; i >= 0; i-- {
			err := checkCheckpoint(cks[i], withAdapter)
			if err == nil {
				return cks[i], damaged, nil
			}
			damaged = append(damaged, filepath.Base(cks[i]))
			if t.s.progress != nil {
				fmt.Fprintf(t.s.progress, "warning: skipping damaged checkpoint %s: %v\n", cks[i], err)
			}
		}
		return "", damaged, nil
	}
	dir = r.Train.ResumeFromCheckpoint
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", nil, fmt.Errorf("train.resume_from_checkpoint %s: not a checkpoint directory", dir)
	}
	if err := checkCheckpoint(dir, withAdapter); err != nil {
		return "", nil, fmt.Errorf("train.resume_from_checkpoint %s: damaged checkpoint: %w", dir, err)
	}
	return dir, nil, nil
}

// checkCheckpoint returns nil when dir is a complete checkpoint, without reading any
// tensor: trainer_state.json (written last) parses; trainable.safetensors and
// optimizer.safetensors open, their headers valid and their sizes what the headers
// say; and adapter/ (withAdapter) has an adapter_config.json that parses and an
// adapter_model.safetensors that opens, or model/ a config.json that loads and weights
// that open. Otherwise the error names the first file at fault.
func checkCheckpoint(dir string, withAdapter bool) error {
	state := filepath.Join(dir, stateFile)
	raw, err := os.ReadFile(state)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing: the checkpoint is incomplete (it is written last)", state)
	}
	if err != nil {
		return err
	}
	var st trainerState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("parse %s: %w", state, err)
	}
	files := []string{filepath.Join(dir, trainableFile), filepath.Join(dir, optimizerFile)}
	if withAdapter {
		cfg := filepath.Join(dir, "adapter", lora.ConfigFile)
		raw, err := os.ReadFile(cfg)
		if err != nil {
			return err
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			return fmt.Errorf("parse %s: %w", cfg, err)
		}
		files = append(files, filepath.Join(dir, "adapter", lora.WeightsFile))
	} else {
		model := filepath.Join(dir, "model")
		if _, err := transformer.LoadConfig(filepath.Join(model, transformer.ConfigFile)); err != nil {
			return err
		}
		c, err := safetensors.OpenDir(model)
		if err != nil {
			return err
		}
		c.Close()
	}
	for _, path := range files {
		f, err := safetensors.Open(path)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
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
