package lora

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/internal/atomicfile"
	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// File names of a PEFT adapter directory.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// peftPrefix is what PEFT puts before the module names of the wrapped model
// (GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM) in adapter keys.
const peftPrefix = "base_model.model."

// modulePrefix returns the path of the base model inside the Hugging Face *ForCausalLM
// model, with its dot: "transformer." for GPT-2, "model." for the Llama family. A
// projection's module name there is modulePrefix + Proj.String().
func modulePrefix(llama bool) string {
	if llama {
		return "model."
	}
	return "transformer."
}

// peftConfig is adapter_config.json: the keys this package reads or writes. Unknown keys
// are ignored on reading (PEFT versions keep adding them).
type peftConfig struct {
	PeftType          string             `json:"peft_type"`
	TaskType          string             `json:"task_type,omitempty"`
	BaseModel         string             `json:"base_model_name_or_path"`
	R                 int                `json:"r"`
	LoraAlpha         float64            `json:"lora_alpha"`
	LoraDropout       float64            `json:"lora_dropout"`
	TargetModules     json.RawMessage    `json:"target_modules"`
	FanInFanOut       bool               `json:"fan_in_fan_out"`
	Bias              string             `json:"bias"`
	UseRSLoRA         bool               `json:"use_rslora"`
	InferenceMode     bool               `json:"inference_mode"`
	InitLoraWeights   bool               `json:"init_lora_weights"`
	LayersToTransform json.RawMessage    `json:"layers_to_transform"`
	ModulesToSave     []string           `json:"modules_to_save"`
	RankPattern       map[string]int     `json:"rank_pattern"`
	AlphaPattern      map[string]float64 `json:"alpha_pattern"`
	// Read only, to refuse what is not supported.
	UseDoRA          bool            `json:"use_dora,omitempty"`
	LayerReplication json.RawMessage `json:"layer_replication,omitempty"`
}

// exportModule is one module's adapter in PEFT's layout: A (r, in) and B (out, r) over
// the whole output of the module.
type exportModule struct {
	proj  transformer.Proj
	a, b  safetensors.Tensor
	rank  int
	alpha float64 // lora_alpha giving this module the adapter's scaling at rank
}

// export turns the adapter into PEFT modules, keyed base_model.model.{module
// name}.lora_{A|B}.weight. Column-block parts of GPT-2's c_attn (q, k, v)
// become one fused c_attn adapter of rank n·r: A' = [A_q; A_k; A_v] and B' zero except
// each part's block (rows Lo…Hi, its own r columns); lora_alpha is n·α (α·√n with RSLoRA)
// so the scaling stays α/r. Merged or not, the adapter weights are what is exported.
func (ad *Adapter) export() []exportModule {
	var out []exportModule
	prefix := peftPrefix + modulePrefix(ad.model.Config.IsLlama())
	for _, l := range ad.Layers {
		in, O := l.InDim(), l.OutDim()
		R := 0
		for _, p := range l.Parts {
			R += p.Rank()
		}
		a := make([]float32, R*in)
		b := make([]float32, O*R)
		col := 0
		for _, p := range l.Parts {
			r := p.Rank()
			copy(a[col*in:], transformer.Floats(p.A))
			pb := transformer.Floats(p.B)
			for row := p.Lo; row < p.Hi; row++ {
				copy(b[row*R+col:row*R+col+r], pb[(row-p.Lo)*r:(row-p.Lo+1)*r])
			}
			col += r
		}
		// Every part of one layer has the same rank and scaling (one Config); n parts of
		// rank r form rank n·r, and alpha' keeps alpha'/R (or alpha'/√R) equal to the scaling.
		s := l.Parts[0].Scaling
		alpha := s * float64(R)
		if ad.Config.RSLoRA {
			alpha = s * math.Sqrt(float64(R))
		}
		out = append(out, exportModule{
			proj:  l.Proj,
			a:     safetensors.Tensor{Name: prefix + l.Proj.String() + ".lora_A.weight", Shape: []int{R, in}, Data: a},
			b:     safetensors.Tensor{Name: prefix + l.Proj.String() + ".lora_B.weight", Shape: []int{O, R}, Data: b},
			rank:  R,
			alpha: alpha,
		})
	}
	return out
}

// Module is one adapted projection in PEFT's layout, over the whole output of the projection: the model computes
// Scaling·B·A·x besides the base (for GPT-2's Conv1D too, in the [out, in] orientation of nn.Linear).
type Module struct {
	Proj    transformer.Proj
	A       []float32 // (Rank, In)
	B       []float32 // (Out, Rank)
	Rank    int
	In, Out int
	Scaling float64
}

// Modules returns the adapter's modules in model order, as Save writes them: GPT-2's q, k and v parts of c_attn
// as one c_attn module of their summed rank (see export).
func (ad *Adapter) Modules() []Module {
	var out []Module
	for i, m := range ad.export() {
		l := ad.Layers[i]
		out = append(out, Module{Proj: m.proj, A: m.a.Data, B: m.b.Data, Rank: m.rank, In: l.InDim(), Out: l.OutDim(),
			Scaling: l.Parts[0].Scaling})
	}
	return out
}

// Save writes the adapter as a PEFT LoRA adapter directory (created if needed):
// adapter_config.json and adapter_model.safetensors (F32), which
// peft.PeftModel.from_pretrained loads onto the Hugging Face model of the adapter's
// family and Load reads back. target_modules lists the modules adapted, by the shortest
// name that selects them and nothing else ("c_attn", "attn.c_proj"; "q_proj", "v_proj").
// For GPT-2, fan_in_fan_out is true (Conv1D) and the tensors are
// base_model.model.transformer.h.{i}.{module}.lora_{A|B}.weight; a q/v adapter of rank r
// is written exactly as PEFT's c_attn adapter of rank 2r (see export), and modules whose
// rank or alpha differ from the config's r and lora_alpha (a fused c_attn next to other
// targets) get rank_pattern and alpha_pattern entries, under the target name, or under
// each module's name where they differ between layers (an adapter loaded with
// layer-specific patterns). For the Llama family,
// fan_in_fan_out is false (nn.Linear) and the tensors are
// base_model.model.model.layers.{i}.{module}.lora_A.weight (r, in) and lora_B.weight
// (out, r). Files are written atomically; it is an error if the adapter has no layers.
func (ad *Adapter) Save(dir string) error {
	mods := ad.export()
	if len(mods) == 0 {
		return errors.New("lora: save: adapter has no layers")
	}
	// r and lora_alpha: those of the non-c_attn modules if any, else of c_attn.
	base := mods[0]
	for _, m := range mods {
		if m.proj.Kind != transformer.AttnCAttn {
			base = m
			break
		}
	}
	cfg := peftConfig{
		PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModel: ad.BaseModel,
		R: base.rank, LoraAlpha: base.alpha, LoraDropout: ad.Config.Dropout,
		FanInFanOut: !ad.model.Config.IsLlama(), Bias: "none", UseRSLoRA: ad.Config.RSLoRA,
		InferenceMode: true, InitLoraWeights: true,
		RankPattern: map[string]int{}, AlphaPattern: map[string]float64{},
	}
	var targets []string
	var layers []int
	var tensors []safetensors.Tensor
	kinds := ad.model.ProjKinds()
	// A pattern entry is keyed by the target name when every module of that kind has the
	// same rank (alpha), else (an adapter loaded with layer-specific patterns) by each
	// module's name, escaped, so that every layer keeps its own.
	uniform := func(short string, value func(exportModule) float64, v float64) bool {
		return !slices.ContainsFunc(mods, func(o exportModule) bool {
			return peftTarget(o.proj.Kind, kinds) == short && value(o) != v
		})
	}
	for _, m := range mods {
		short := peftTarget(m.proj.Kind, kinds)
		if !slices.Contains(targets, short) {
			targets = append(targets, short)
		}
		if m.rank != cfg.R {
			key := short
			if !uniform(short, func(o exportModule) float64 { return float64(o.rank) }, float64(m.rank)) {
				key = regexp.QuoteMeta(m.proj.String())
			}
			cfg.RankPattern[key] = m.rank
		}
		if m.alpha != cfg.LoraAlpha {
			key := short
			if !uniform(short, func(o exportModule) float64 { return o.alpha }, m.alpha) {
				key = regexp.QuoteMeta(m.proj.String())
			}
			cfg.AlphaPattern[key] = m.alpha
		}
		if !slices.Contains(layers, m.proj.Layer) {
			layers = append(layers, m.proj.Layer)
		}
		tensors = append(tensors, m.a, m.b)
	}
	cfg.TargetModules, _ = json.Marshal(targets)
	cfg.LayersToTransform = json.RawMessage("null")
	if len(ad.Config.Layers) > 0 {
		cfg.LayersToTransform, _ = json.Marshal(layers)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), tensors, map[string]string{"format": "pt"}, safetensors.F32); err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ConfigFile), append(raw, '\n')); err != nil {
		return fmt.Errorf("lora: save %s: %w", dir, err)
	}
	return nil
}

// parseKey splits a PEFT LoRA adapter key,
// base_model.model[.transformer].h.{i}.{module}.lora_{A|B}[.default].weight (GPT-2) or
// base_model.model[.model].layers.{i}.{module}.lora_{A|B}[.default].weight (the Llama
// family), into the projection and "A" or "B"; ok is false for any other key, such as
// one with the other family's base-model path.
func parseKey(key string) (p transformer.Proj, ab string, ok bool) {
	rest, ok := strings.CutPrefix(key, peftPrefix)
	if !ok {
		return p, "", false
	}
	prefix := ""
	for _, llama := range []bool{false, true} {
		if strings.HasPrefix(rest, modulePrefix(llama)) {
			prefix = modulePrefix(llama)
		}
	}
	rest, ok = strings.CutSuffix(strings.TrimPrefix(rest, prefix), ".weight")
	if !ok {
		return p, "", false
	}
	name, ab, ok := strings.Cut(strings.TrimSuffix(rest, ".default"), ".lora_")
	if !ok || (ab != "A" && ab != "B") {
		return p, "", false
	}
	p, err := transformer.ParseProj(name)
	if err != nil || prefix != "" && prefix != modulePrefix(isLlamaKind(p.Kind)) {
		return p, "", false
	}
	return p, ab, true
}

// isLlamaKind reports whether k is a projection of the Llama family (not of GPT-2).
func isLlamaKind(k transformer.ProjKind) bool { return slices.Contains(llamaKinds, k) }

// familyName returns how errors name the family of projections of kind k.
func familyName(k transformer.ProjKind) string {
	if isLlamaKind(k) {
		return "Llama-family"
	}
	return "GPT-2"
}

// peftTarget returns the target_modules entry that selects the projections of kind k
// and no other of kinds: the last element of its module path ("c_attn") when no other
// kind's path ends so, else the whole path ("attn.c_proj": "c_proj" would match
// mlp.c_proj too).
func peftTarget(k transformer.ProjKind, kinds []transformer.ProjKind) string {
	last := func(k transformer.ProjKind) string {
		s := k.String()
		return s[strings.LastIndex(s, ".")+1:]
	}
	for _, o := range kinds {
		if o != k && last(o) == last(k) {
			return k.String()
		}
	}
	return last(k)
}

// Load reads a PEFT LoRA adapter directory and applies it to m (freezing m). For GPT-2:
// adapters on the fused c_attn (q, k and v together, as PEFT makes them), attn.c_proj,
// mlp.c_fc and mlp.c_proj; for the Llama family (Llama, Qwen2): on any of
// self_attn.{q,k,v,o}_proj and mlp.{gate,up,down}_proj. fan_in_fan_out is ignored (PEFT
// sets it from the layer type, and stores the weights in nn.Linear layout either way);
// use_rslora, rank_pattern, alpha_pattern, layers_to_transform, and target_modules as a
// list (a name or dotted suffix of the module name), a regular expression (matched
// against the whole module name, "model.layers.0.self_attn.q_proj" say) or "all-linear"
// are read as PEFT reads them. Unknown config keys are ignored. An adapter that does not
// fit m (one for the other family, a shape, a layer beyond the model's, a key
// target_modules does not select) or uses an unsupported option (DoRA, bias training,
// modules_to_save, layer_replication, another peft_type) is an error naming the file and
// tensor or key. The adapter is not merged and its dropout is off.
func Load(m *transformer.Model, dir string) (*Adapter, error) {
	ad, err := load(m, dir)
	if err != nil {
		return nil, fmt.Errorf("lora: load adapter %s: %w", dir, err)
	}
	return ad, nil
}

func load(m *transformer.Model, dir string) (*Adapter, error) {
	if err := checkUnadapted(m); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, err
	}
	var pc peftConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	match, err := pc.check()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}

	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type pair struct{ a, b *safetensors.TensorInfo }
	llama := m.Config.IsLlama()
	prefix := modulePrefix(llama)
	found := map[transformer.Proj]*pair{} // each adapted projection's A and B
	var errs []error
	var other []string // tensors of the other family's modules, reported as the first and a count
	var otherKind transformer.ProjKind
	for _, t := range f.Tensors() {
		proj, ab, ok := parseKey(t.Name)
		if ok && isLlamaKind(proj.Kind) != llama {
			if len(other) == 0 {
				otherKind = proj.Kind
				errs = append(errs, fmt.Errorf("%s: tensor %s: an adapter of a %s module, but this is a %s model", path, t.Name, familyName(proj.Kind), m.Config.Family()))
			}
			other = append(other, t.Name)
			continue
		}
		if ok && proj.Layer >= m.Config.NumLayers {
			errs = append(errs, fmt.Errorf("%s: tensor %s: layer %d, but the model has %d", path, t.Name, proj.Layer, m.Config.NumLayers))
			continue
		}
		if !ok || m.Linear(proj) == nil {
			var mods []string
			for _, k := range m.ProjKinds() {
				mods = append(mods, k.String())
			}
			blocks, _, _ := strings.Cut(transformer.Proj{Kind: m.ProjKinds()[0]}.String(), ".")
			errs = append(errs, fmt.Errorf("%s: tensor %s: unexpected (want %s%s%s.{i}.{%s}.lora_{A|B}.weight)", path, t.Name, peftPrefix, prefix, blocks, strings.Join(mods, "|")))
			continue
		}
		if !match(proj.Layer, prefix+proj.String()) {
			errs = append(errs, fmt.Errorf("%s: tensor %s: module %v is not selected by target_modules/layers_to_transform", path, t.Name, proj))
			continue
		}
		p := found[proj]
		if p == nil {
			p = &pair{}
			found[proj] = p
		}
		ti := t
		if ab == "A" {
			p.a = &ti
		} else {
			p.b = &ti
		}
	}
	if len(other) > 1 {
		errs = append(errs, fmt.Errorf("%s: and %d more tensors of %s modules", path, len(other)-1, familyName(otherKind)))
	}
	if len(found) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no LoRA tensors", path))
	}

	ad := &Adapter{
		Config:    Config{Rank: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, RSLoRA: pc.UseRSLoRA},
		BaseModel: pc.BaseModel,
		model:     m,
	}
	ad.setDropoutSource(rand.NewPCG(0, 0)) // a fixed start; SetDropoutState restores a checkpoint's
	layers := map[int]bool{}
	for _, proj := range m.Projections() { // in model order
		p := found[proj]
		if p == nil {
			continue
		}
		name := proj.String()
		if p.a == nil || p.b == nil {
			errs = append(errs, fmt.Errorf("%s: module %s has lora_A or lora_B but not both", path, name))
			continue
		}
		base := m.Linear(proj)
		in, out := base.InDim(), base.OutDim()
		r := pc.rankOf(prefix + name)
		wantA, wantB := []int{r, in}, []int{out, r}
		if !slices.Equal(p.a.Shape, wantA) || !slices.Equal(p.b.Shape, wantB) {
			errs = append(errs, fmt.Errorf("%s: module %s: lora_A %v and lora_B %v, want %v and %v (r = %d; base %d → %d)",
				path, name, p.a.Shape, p.b.Shape, wantA, wantB, r, in, out))
			continue
		}
		part := &Part{Lo: 0, Hi: out, A: transformer.NewParam(r, in), B: transformer.NewParam(out, r),
			Scaling: scaling(pc.alphaOf(prefix+name), r, pc.UseRSLoRA)}
		if err := f.ReadFloat32(p.a.Name, transformer.Floats(part.A)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := f.ReadFloat32(p.b.Name, transformer.Floats(part.B)); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(errs) > 0 {
			continue // keep checking, but change nothing in the model
		}
		ad.wrap(proj, []*Part{part}, pc.LoraDropout)
		layers[proj.Layer] = true
		if t := peftTarget(proj.Kind, m.ProjKinds()); !slices.Contains(ad.Config.Targets, t) {
			ad.Config.Targets = append(ad.Config.Targets, t)
		}
	}
	if err := errors.Join(errs...); err != nil {
		ad.remove()
		return nil, err
	}
	if len(layers) < m.Config.NumLayers {
		for l := range m.Config.NumLayers {
			if layers[l] {
				ad.Config.Layers = append(ad.Config.Layers, l)
			}
		}
	}
	m.SetTrainable(false)
	return ad, nil
}

// remove puts the base projections back in place of the adapter's layers.
func (ad *Adapter) remove() {
	for _, l := range ad.Layers {
		ad.model.SetLinear(l.Proj, l.base)
	}
	ad.Layers = nil
}

// check refuses what this package does not implement and returns the predicate PEFT
// uses to select modules: target_modules (a list matched by name or dotted suffix, a
// regular expression matched against the whole module name, or "all-linear", every
// projection) and layers_to_transform.
func (pc *peftConfig) check() (func(layer int, module string) bool, error) {
	var errs []error
	if pc.PeftType != "LORA" {
		errs = append(errs, fmt.Errorf("peft_type %q is not supported (want LORA)", pc.PeftType))
	}
	if pc.R <= 0 {
		errs = append(errs, fmt.Errorf("r = %d, want > 0", pc.R))
	}
	if pc.UseDoRA {
		errs = append(errs, errors.New("use_dora = true (DoRA) is not supported"))
	}
	if pc.Bias != "" && pc.Bias != "none" {
		errs = append(errs, fmt.Errorf("bias %q is not supported (want none)", pc.Bias))
	}
	if len(pc.ModulesToSave) > 0 {
		errs = append(errs, fmt.Errorf("modules_to_save %q is not supported", pc.ModulesToSave))
	}
	if len(pc.LayerReplication) > 0 && string(pc.LayerReplication) != "null" {
		errs = append(errs, errors.New("layer_replication is not supported"))
	}
	var list []string
	var re *regexp.Regexp
	all := false
	if err := json.Unmarshal(pc.TargetModules, &list); err != nil {
		var s string
		if err := json.Unmarshal(pc.TargetModules, &s); err != nil {
			errs = append(errs, fmt.Errorf("target_modules %s: want a list of names or a regular expression", compactJSON(pc.TargetModules)))
		} else if strings.ToLower(s) == allLinear { // PEFT's INCLUDE_LINEAR_LAYERS_SHORTHAND
			all = true
		} else if re, err = regexp.Compile(`^(?:` + s + `)$`); err != nil {
			var se *syntax.Error // its message holds the expression, unquoted
			if errors.As(err, &se) {
				err = fmt.Errorf("invalid regular expression: %s", se.Code)
			}
			errs = append(errs, fmt.Errorf("target_modules %q: %w", s, err))
		}
	}
	var layers []int
	if len(pc.LayersToTransform) > 0 && string(pc.LayersToTransform) != "null" {
		var one int
		if err := json.Unmarshal(pc.LayersToTransform, &layers); err != nil {
			if err := json.Unmarshal(pc.LayersToTransform, &one); err != nil {
				errs = append(errs, fmt.Errorf("layers_to_transform %s: want an int or a list of ints", compactJSON(pc.LayersToTransform)))
			}
			layers = []int{one}
		}
	}
	match := func(layer int, module string) bool {
		if layers != nil && !slices.Contains(layers, layer) {
			return false
		}
		if all {
			return true
		}
		if re != nil {
			return re.MatchString(module)
		}
		for _, t := range list {
			if module == t || strings.HasSuffix(module, "."+t) {
				return true
			}
		}
		return false
	}
	return match, errors.Join(errs...)
}

// compactJSON returns raw, a JSON value, without its spaces and newlines, for a
// one-line message.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return strconv.Quote(string(raw))
	}
	return b.String()
}

// patternFor returns the rank_pattern/alpha_pattern key PEFT would pick for module: the
// first (in sorted order) key k with module matching `.*\.k$`.
func patternFor[V any](pattern map[string]V, module string) (V, bool) {
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range pattern {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		if re, err := regexp.Compile(`^.*\.(?:` + k + `)$`); err == nil && re.MatchString(module) {
			return pattern[k], true
		}
	}
	var zero V
	return zero, false
}

func (pc *peftConfig) rankOf(module string) int {
	if r, ok := patternFor(pc.RankPattern, module); ok {
		return r
	}
	return pc.R
}

func (pc *peftConfig) alphaOf(module string) float64 {
	if a, ok := patternFor(pc.AlphaPattern, module); ok {
		return a
	}
	return pc.LoraAlpha
}
