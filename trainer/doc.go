// Package trainer fine-tunes a transformer.Model, with LoRA or every weight, as a Recipe
// says, and evaluates it.
//
//	rec, err := trainer.LoadRecipe("recipes/translate.yaml", "train.max_steps=100")
//	res, err := trainer.Run(ctx, rec, trainer.WithProgress(os.Stderr))
//
// It owns:
//   - the Recipe: strict YAML (an unknown or duplicate key, a wrong type or an unknown
//     choice is an error naming file and line), dot-path overrides (override.go), and
//     Validate; its sections are the configs of the packages that own each concept —
//     lora.Config (adapter), dataset.Config (data), optim.Config (inlined in train),
//     generate.Options (generation) — plus the loop (TrainConfig) and evaluation
//     (EvalConfig) settings, which are the trainer's own;
//   - Run: load or take the model, apply the adapter, stream batches from
//     trainer/dataset, AdamW with the schedule and clipping of trainer/optim, evaluate at
//     step 0, every eval_steps and at the end, checkpoint every save_steps, write the
//     adapter (PEFT) or the model (HF) into output_dir;
//   - Evaluate: loss and perplexity, and BLEU and chrF (trainer/sacrebleu) of completions
//     made by transformer/generate; `llmtune eval` uses it too;
//   - checkpoints and exact resume (adapter or model, trainable and optimizer tensors,
//     step, data position, dropout RNG), written atomically; metrics.jsonl; loss.png;
//   - one run per output_dir: Run locks output_dir/.lock (flock, so a killed run's lock
//     file blocks nothing; lock.go).
//
// It does not parse data files, sample tokens, compute BLEU or implement AdamW: those are
// its sub-packages and transformer/generate. Library code here never prints except to
// the progress writer a caller passes (WithProgress), and never exits.
//
// References: Hugging Face transformers' Trainer and TrainingArguments (key names,
// gradient accumulation, schedules, checkpoint layout); axolotl and torchtune recipes;
// PEFT (adapters).
package trainer
