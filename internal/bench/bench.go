// Package bench runs the fixed performance workloads of README.md in this directory in
// Go; torch_anchor.py beside it runs the same ones in PyTorch, so that `llmtune bench` and
// the anchor can be compared back to back on one machine as a ratio.
//
// Every workload is a GPT-2 with vocabulary 50257 and 1024 positions, initialised with
// seeded random weights; a train step draws fresh uniform ids (B, T) outside the timer,
// then times: zero grads, forward, mean cross-entropy of positions 0…T−2 against ids
// 1…T−1, backward, AdamW (lr 1e-4, betas 0.9/0.999, eps 1e-8, no weight decay) on the
// trainable parameters. LoRA is r=8, alpha=16 on q and v of every block.
package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/nn"

	"github.com/llmtune/llmtune/lora"
	"github.com/llmtune/llmtune/trainer/optim"
	"github.com/llmtune/llmtune/transformer"
)

// Workload is one of the anchor's fixed workloads.
type Workload struct {
	Name     string
	Model    transformer.Config // the shape; weights are drawn from a fixed seed
	Batch    int                // B
	SeqLen   int                // T; for a Generate workload, the prompt length
	LoRA     bool
	Steps    int // timed steps (generation runs) after Warmup
	Generate bool
	// NewTokens is how many tokens a Generate workload decodes greedily after its prompt.
	NewTokens int
	// BaseDType holds the projection weights in bfloat16 (WeightBF16), in 8-bit blocks
	// (WeightQ8), in bfloat16 multiplied on AMX tiles (WeightBF16AMX) or in float32 (""):
	// a "-bf16", "-q8" or "-amx" workload is its float32 namesake with frozen weights in
	// that type, which the anchor does not run (compare it with the namesake's anchor
	// figures; torch_anchor.py --autocast runs the namesake in torch's bfloat16 autocast).
	BaseDType transformer.WeightDType
}

// Warmup is the number of untimed steps before the timed ones.
const Warmup = 2

// Workloads are the anchor's workloads, in its order, llama1b-lora-memory: LoRA on
// Llama-3.2-1B's shape at B=1, T=256, whose peak memory is the figure to watch, and
// bfloat16-base ("-bf16"), 8-bit ("-q8") and AMX mixed-precision ("-amx", WeightBF16AMX:
// Intel CPUs with AMX-BF16 only) variants of some.
var Workloads = []Workload{
	{Name: "tiny-lora", Model: gpt2(4, 256, 4), Batch: 8, SeqLen: 128, LoRA: true, Steps: 10},
	{Name: "small-lora", Model: gpt2(12, 768, 12), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5},
	{Name: "tiny-full", Model: gpt2(4, 256, 4), Batch: 8, SeqLen: 128, LoRA: false, Steps: 10},
	{Name: "small-generate", Model: gpt2(12, 768, 12), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128},
	{Name: "smollm-lora", Model: smolLM2(), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5},
	{Name: "smollm-generate", Model: smolLM2(), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128},
	{Name: "llama1b-lora-memory", Model: llama1B(), Batch: 1, SeqLen: 256, LoRA: true, Steps: 2},
	{Name: "small-lora-bf16", Model: gpt2(12, 768, 12), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5, BaseDType: transformer.WeightBF16},
	{Name: "small-generate-bf16", Model: gpt2(12, 768, 12), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128, BaseDType: transformer.WeightBF16},
	{Name: "smollm-generate-bf16", Model: smolLM2(), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128, BaseDType: transformer.WeightBF16},
	{Name: "smollm-lora-bf16", Model: smolLM2(), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5, BaseDType: transformer.WeightBF16},
	{Name: "llama1b-lora-bf16", Model: llama1B(), Batch: 1, SeqLen: 256, LoRA: true, Steps: 2, BaseDType: transformer.WeightBF16},
	{Name: "small-generate-q8", Model: gpt2(12, 768, 12), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128, BaseDType: transformer.WeightQ8},
	{Name: "smollm-generate-q8", Model: smolLM2(), Batch: 1, SeqLen: 32, Steps: 3, Generate: true, NewTokens: 128, BaseDType: transformer.WeightQ8},
	{Name: "small-lora-amx", Model: gpt2(12, 768, 12), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5, BaseDType: transformer.WeightBF16AMX},
	{Name: "tiny-lora-amx", Model: gpt2(4, 256, 4), Batch: 8, SeqLen: 128, LoRA: true, Steps: 10, BaseDType: transformer.WeightBF16AMX},
	{Name: "smollm-lora-amx", Model: smolLM2(), Batch: 4, SeqLen: 128, LoRA: true, Steps: 5, BaseDType: transformer.WeightBF16AMX},
}

// gpt2 returns GPT-2's configuration with n layers of width c and h heads.
func gpt2(n, c, h int) transformer.Config {
	cfg := transformer.DefaultConfig()
	cfg.NumLayers, cfg.EmbedDim, cfg.NumHeads = n, c, h
	return cfg
}

// smolLM2 returns SmolLM2-135M's configuration (HuggingFaceTB/SmolLM2-135M config.json).
func smolLM2() transformer.Config {
	return transformer.Config{Arch: transformer.Llama, NumLayers: 30, NumHeads: 9, NumKVHeads: 3, EmbedDim: 576,
		InnerDim: 1536, MaxPositions: 8192, VocabSize: 49152, LayerNormEps: 1e-5, Activation: "silu", RopeTheta: 1e5}
}

// llama1B returns Llama-3.2-1B's configuration (meta-llama/Llama-3.2-1B config.json).
func llama1B() transformer.Config {
	return transformer.Config{Arch: transformer.Llama, NumLayers: 16, NumHeads: 32, NumKVHeads: 8, HeadSize: 64,
		EmbedDim: 2048, InnerDim: 8192, MaxPositions: 131072, VocabSize: 128256, LayerNormEps: 1e-5,
		Activation: "silu", RopeTheta: 5e5, BOSTokenID: 128000, EOSTokenID: 128001,
		RopeScaling: transformer.RopeScaling{Type: "llama3", Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4,
			OriginalMaxPositions: 8192}}
}

// Find returns the workload of that name.
func Find(name string) (Workload, error) {
	for _, w := range Workloads {
		if w.Name == name {
			return w, nil
		}
	}
	var names []string
	for _, w := range Workloads {
		names = append(names, w.Name)
	}
	return Workload{}, fmt.Errorf("unknown workload %q (want one of %v)", name, names)
}

// Result is what a workload measured, in the anchor's terms.
type Result struct {
	Impl            string    `json:"impl"`
	Workload        string    `json:"workload"`
	TokensPerSecond float64   `json:"tokens_per_s"`
	StepMsMedian    float64   `json:"step_ms_median"`
	PeakRSSMB       float64   `json:"peak_rss_mb"`
	StepsMs         []float64 `json:"step_ms_all"`
	Params          int       `json:"params"`
	Trainable       int       `json:"trainable_params"`
	LossFirstLast   []float64 `json:"loss_first_last"`

	// PrefillTokensPerSecond is the prompt length over the median prefill time, for a
	// Generate workload (0 and left out of the JSON otherwise).
	PrefillTokensPerSecond float64 `json:"prefill_tokens_per_s,omitempty"`

	// For a train workload: its FLOPs per token (Workload.FLOPsPerToken), the GFLOP/s the
	// median step reached, and the fraction of the CPU's float32 peak that is: Peak (the
	// per-core peak, measured by kernels.MeasurePeak before the steps, described) times
	// Cores (GOMAXPROCS); no fraction for an -amx workload (AMX tiles are not bound by the
	// float32 FMA peak).
	FLOPsPerToken  float64 `json:"flops_per_token,omitempty"`
	GFLOPS         float64 `json:"gflops,omitempty"`
	PeakGFLOPS     float64 `json:"peak_gflops,omitempty"`
	FractionOfPeak float64 `json:"fraction_of_peak,omitempty"`
	Cores          int     `json:"cores,omitempty"`
	Peak           string  `json:"peak,omitempty"`
}

// Trainer is a workload's model and optimizer, ready to step.
type Trainer struct {
	W       Workload
	Model   *transformer.Model
	Adapter *lora.Adapter // nil for full fine-tuning
	Opt     *optim.AdamW
	rng     *rand.Rand
}

// NewTrainer builds the workload's model (its family's initialisation from a fixed seed)
// and optimizer.
func NewTrainer(w Workload) (*Trainer, error) {
	m, err := transformer.NewAs(w.Model, rand.New(rand.NewPCG(0, 0)), w.BaseDType)
	if err != nil {
		return nil, err
	}
	// each step's graph buffers are reused by the next (transformer.Arena; Step releases)
	m.SetArena(transformer.NewArena())
	t := &Trainer{W: w, Model: m, rng: rand.New(rand.NewPCG(1, 1))}
	var params []*nn.Param
	if w.LoRA {
		t.Adapter, err = lora.Apply(m, lora.Config{Rank: 8, Alpha: 16}, rand.New(rand.NewPCG(2, 2)))
		if err != nil {
			return nil, err
		}
		for _, p := range t.Adapter.Params() {
			params = append(params, p.Param)
		}
	} else {
		for _, p := range m.Params() {
			params = append(params, p.Param)
		}
	}
	opt := optim.DefaultConfig()
	t.Opt = optim.NewAdamW(params, opt)
	return t, nil
}

// Batch draws fresh uniform ids (B, T) with next-token targets; the last position of each
// row has none.
func (t *Trainer) Batch() transformer.Batch {
	V := t.Model.Config.VocabSize
	var b transformer.Batch
	for range t.W.Batch {
		ids := make([]int, t.W.SeqLen)
		for i := range ids {
			ids[i] = t.rng.IntN(V)
		}
		tg := append(slices.Clone(ids[1:]), transformer.IgnoreIndex)
		b.IDs, b.Targets = append(b.IDs, ids), append(b.Targets, tg)
	}
	return b
}

// Step runs one timed train step on b and returns the loss.
func (t *Trainer) Step(b transformer.Batch) (float64, error) {
	t.Opt.ZeroGrad()
	defer t.Model.ReleaseStep() // after the loss is read
	loss, err := t.Model.Loss(b)
	if err != nil {
		return 0, err
	}
	if err := ag.Backward(loss); err != nil {
		return 0, err
	}
	t.Opt.Step(1e-4)
	return float64(loss.Value().Item().F64()), nil
}

// Run measures a workload in this process: Warmup steps, then w.Steps timed ones (a
// Generate workload goes to RunGenerate). PeakRSSMB is this process's peak so far: run
// one workload per process to compare.
func Run(w Workload) (Result, error) {
	if w.Generate {
		return RunGenerate(w)
	}
	pk, cores := peak() // before the model exists: nothing else runs yet
	t, err := NewTrainer(w)
	if err != nil {
		return Result{}, err
	}
	res := Result{Impl: "llmtune", Workload: w.Name, Params: t.Model.NumParams()}
	if t.Adapter != nil {
		res.Trainable = t.Adapter.NumTrainable()
		res.Params += res.Trainable
	} else {
		res.Trainable = res.Params
	}
	var losses []float64
	for step := range Warmup + w.Steps {
		b := t.Batch()
		start := time.Now()
		loss, err := t.Step(b)
		if err != nil {
			return Result{}, err
		}
		dt := time.Since(start)
		losses = append(losses, loss)
		if step >= Warmup {
			res.StepsMs = append(res.StepsMs, float64(dt.Microseconds())/1e3)
		}
	}
	res.LossFirstLast = []float64{losses[0], losses[len(losses)-1]}
	res.StepMsMedian = median(res.StepsMs)
	res.TokensPerSecond = float64(w.Batch*w.SeqLen) / (res.StepMsMedian / 1e3)
	res.PeakRSSMB = peakRSSMB()
	res.FLOPsPerToken = w.FLOPsPerToken()
	res.GFLOPS = res.FLOPsPerToken * res.TokensPerSecond / 1e9
	res.Cores, res.Peak = cores, pk.String()
	// An -amx workload's products run on the AMX tiles, which the float32 FMA peak does
	// not bound: it reports its GFLOP/s alone.
	if res.PeakGFLOPS = pk.PerCoreGFLOPS * float64(cores); res.PeakGFLOPS > 0 && w.BaseDType != transformer.WeightBF16AMX {
		res.FractionOfPeak = res.GFLOPS / res.PeakGFLOPS
	}
	return res, nil
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
