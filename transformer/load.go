package transformer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// Checkpoint file names inside a Hugging Face model directory.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
)

// hfPrefix is the prefix GPT2LMHeadModel.save_pretrained puts on every base-model key.
const hfPrefix = "transformer."

// buffers matches the non-parameter tensors some GPT-2 checkpoints carry (the causal
// mask and its fill value), which Load ignores.
var buffers = regexp.MustCompile(`^h\.\d+\.attn\.(bias|masked_bias)$`)

// Load reads a Hugging Face GPT-2 checkpoint directory: config.json and model.safetensors
// (F32, F16 or BF16, converted to float32). Keys may carry the "transformer." prefix or
// not; the h.{i}.attn.bias and attn.masked_bias buffers are ignored; lm_head.weight is
// optional and ignored when the LM head is tied to wte (the default), as Hugging Face
// does. A missing, unexpected, duplicated or mis-shaped tensor, or a truncated or corrupt
// file, is an error naming the file and the tensor. Tensors are streamed from the file
// into the model's parameters, so loading holds the float32 model once plus a small buffer.
// Every parameter of the result is trainable.
func Load(dir string) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m, err := newZero(cfg)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	path := filepath.Join(dir, WeightsFile)
	if err := m.readWeights(path); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// hfShape is the shape a parameter has in a Hugging Face checkpoint: biases and
// LayerNorm parameters are 1-D.
func (p NamedParam) hfShape() []int {
	if strings.HasSuffix(p.Name, ".bias") || strings.Contains(p.Name, "ln_") {
		return []int{p.Param.Size()}
	}
	return p.Param.Shape()
}

func (m *Model) readWeights(path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()

	want := map[string]NamedParam{}
	for _, p := range m.Params() {
		want[p.Name] = p
	}
	seen := map[string]string{} // name without prefix → key in the file
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: tensor %s: %s", path, key, fmt.Sprintf(format, args...)))
	}
	for _, t := range f.Tensors() {
		name := strings.TrimPrefix(t.Name, hfPrefix)
		if prev, dup := seen[name]; dup {
			bad(t.Name, "duplicates %s", prev)
			continue
		}
		seen[name] = t.Name
		if buffers.MatchString(name) {
			continue
		}
		if name == "lm_head.weight" && m.LMHead == nil {
			// Tied to wte: Hugging Face ignores the stored copy; so do we, after a shape check.
			if !slices.Equal(t.Shape, m.WTE.Shape()) {
				bad(t.Name, "shape %v, want %v", t.Shape, m.WTE.Shape())
			}
			continue
		}
		p, ok := want[name]
		if !ok {
			bad(t.Name, "unexpected (not a GPT-2 parameter of this config)")
			continue
		}
		if shape := p.hfShape(); !slices.Equal(t.Shape, shape) {
			bad(t.Name, "shape %v, want %v", t.Shape, shape)
			continue
		}
		if !t.DType.IsFloat32Readable() {
			bad(t.Name, "dtype %s, want F32, F16 or BF16", t.DType)
			continue
		}
		if err := f.ReadFloat32(t.Name, Floats(p.Param)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range m.Params() {
		if _, ok := seen[p.Name]; !ok {
			errs = append(errs, fmt.Errorf("%s: tensor %s is missing", path, p.Name))
		}
	}
	return errors.Join(errs...)
}

// Save writes the model as a Hugging Face checkpoint directory (created if needed):
// config.json and model.safetensors in F32, keys prefixed "transformer." as
// GPT2LMHeadModel.save_pretrained writes them, with no lm_head.weight when it is tied.
// Load reads it back, and so does transformers.GPT2LMHeadModel.from_pretrained. Each file
// is written atomically (temporary file, fsync, rename). Parameters wrapped by LoRA are
// saved as their base weights: merge an adapter first to save it folded in.
func (m *Model) Save(dir string) error { return m.SaveAs(dir, safetensors.F32) }

// SaveAs is Save with the tensors stored as dtype: F32, or F16 or BF16 (half the size,
// each value rounded to nearest even), as save_pretrained writes a model in that dtype.
func (m *Model) SaveAs(dir string, dtype safetensors.DType) error {
	if !dtype.IsWritable() {
		return fmt.Errorf("save model %s: dtype %s: want F32, F16 or BF16", dir, dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		key := hfPrefix + p.Name
		if p.Name == "lm_head.weight" {
			key = p.Name
		}
		ts = append(ts, safetensors.Tensor{Name: key, Shape: p.hfShape(), Data: Floats(p.Param)})
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}, dtype); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	cfg, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(cfg, '\n')); err != nil {
		return fmt.Errorf("save model %s: %w", dir, err)
	}
	return nil
}
