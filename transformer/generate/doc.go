// Package generate continues text with a transformer.Model: the generation Options (one
// struct, Hugging Face GenerationConfig names, one Validate), the sampler (repetition
// penalty, temperature, top-k, top-p, in Hugging Face generate()'s order), decoding with
// the model's KV cache, streaming, stop ids and stop strings, and the prompt templates
// ("English: {source}\nSpanish: {target}") that turn an input into a prompt.
//
// The trainer's evaluation samples and BLEU/chrF completions, `llmtune generate` and
// `llmtune eval` all generate through Complete, so the same options and seed give the same
// text everywhere (NewRand is the one sampling stream).
//
// It is not a server or a chat layer, and it imports no YAML package (the yaml tags on
// Options are for the recipe that embeds it); it depends only on package transformer.
//
// References: Hugging Face transformers' generation/utils.py and logits_process.py
// (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper, TopKLogitsWarper,
// TopPLogitsWarper); Keskar et al., CTRL, arXiv:1909.05858 (the repetition penalty);
// Holtzman et al., arXiv:1904.09751 (nucleus sampling).
package generate
