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

// Checkpoint file names inside a Hugging Face model directory: the configuration, and the
// weights in one file (a sharded checkpoint has safetensors.IndexFile and its shards
// instead).
const (
	ConfigFile  = "config.json"
	WeightsFile = safetensors.ModelFile
)

// maxShardBytes is the size above which Save shards the weights; a variable so that
// tests can shard a tiny model.
var maxShardBytes = safetensors.DefaultMaxShardBytes

// keyPrefix returns the prefix save_pretrained puts on every base-model key of c's
// family: GPT2LMHeadModel's "transformer.", the Llama family's "model.". lm_head.weight
// has none.
func (c Config) keyPrefix() string {
	if c.IsLlama() {
		return "model."
	}
	return "transformer."
}

// buffers matches the non-parameter tensors some checkpoints carry, which Load ignores:
// GPT-2's causal mask and its fill value, older Llama checkpoints' RoPE table.
var buffers = regexp.MustCompile(`^(h\.\d+\.attn\.(bias|masked_bias)|layers\.\d+\.self_attn\.rotary_emb\.inv_freq)$`)

// Load reads a Hugging Face checkpoint directory of a supported family (see ParseConfig):
// config.json and model.safetensors, or the shards that model.safetensors.index.json
// names (F32, F16 or BF16, converted to float32). Keys may carry the family's prefix
// ("transformer.", "model.") or not; GPT-2's h.{i}.attn.bias and attn.masked_bias buffers
// and older Llama checkpoints' rotary_emb.inv_freq are ignored; lm_head.weight is
// optional and ignored when the LM head is tied to the token embedding, as Hugging Face
// does. A missing, unexpected, duplicated or mis-shaped tensor, or a truncated or corrupt
// file, is an error naming the file and the tensor. Tensors are streamed from the file
// into the model's parameters, so loading holds the float32 model once plus a small buffer.
// Every parameter of the result is trainable.
func Load(dir string) (*Model, error) { return LoadAs(dir, WeightF32) }

// LoadAs is Load with the projection weights stored in dt. With WeightBF16 each is read
// (from F32, F16 or BF16) into a float32 buffer and rounded to bfloat16 (a BF16
// checkpoint's values are kept exactly), so loading holds the model as it will be kept
// plus one tensor in float32; those weights are frozen.
func LoadAs(dir string, dt WeightDType) (*Model, error) {
	if err := dt.CheckSupported(); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m, err := newZero(cfg)
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	m.zeroAs(dt)
	if err := m.readWeights(dir); err != nil {
		return nil, fmt.Errorf("load model %s: %w", dir, err)
	}
	return m, nil
}

// hfShape is the shape a parameter has in a Hugging Face checkpoint: biases and norm
// weights, (n, 1) here, are 1-D.
func (p NamedParam) hfShape() []int {
	if s := p.Param.Shape(); len(s) == 2 && s[1] == 1 {
		return []int{s[0]}
	}
	return p.Param.Shape()
}

// readWeights streams the tensors of the checkpoint in dir (model.safetensors, or the
// shards of model.safetensors.index.json) into m's parameters.
func (m *Model) readWeights(dir string) error {
	f, err := safetensors.OpenDir(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	path := dir
	if files := f.Files(); len(files) == 1 {
		path = files[0]
	}

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
		name := strings.TrimPrefix(t.Name, m.Config.keyPrefix())
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
			bad(t.Name, "unexpected (not a %s parameter of this config)", m.Config.Family())
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
		if err := fill(p.Param, func(dst []float32) error { return f.ReadFloat32(t.Name, dst) }); err != nil {
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
// Above safetensors.DefaultMaxShardBytes (HF's "5GB") the weights are sharded as
// save_pretrained shards them (model-0000i-of-0000n.safetensors and
// model.safetensors.index.json).
func (m *Model) SaveAs(dir string, dtype safetensors.DType) error {
	if !dtype.IsWritable() {
		return fmt.Errorf("save model %s: dtype %s: want F32, F16 or BF16", dir, dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		key := m.Config.keyPrefix() + p.Name
		if p.Name == "lm_head.weight" {
			key = p.Name
		}
		ts = append(ts, safetensors.Tensor{Name: key, Shape: p.hfShape(), Data: WeightValues(p.Param)})
	}
	if err := safetensors.WriteDir(dir, ts, map[string]string{"format": "pt"}, dtype, maxShardBytes); err != nil {
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
