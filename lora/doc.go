// Package lora adds low-rank adapters (Hu et al., "LoRA: Low-Rank Adaptation of Large
// Language Models", arXiv:2106.09685) to the projections of a transformer.Model, and reads
// and writes them in Hugging Face PEFT's adapter format.
package lora
