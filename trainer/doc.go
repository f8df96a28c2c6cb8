// Package trainer fine-tunes a transformer.Model (with or without LoRA) on causal-LM data:
// recipes, streaming data, AdamW, schedules, evaluation, checkpoints and exact resume.
package trainer
