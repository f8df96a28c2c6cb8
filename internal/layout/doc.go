// Package layout holds no code: its test pins the module's dependency direction, so that
// a change that makes a low package import a higher one fails `go test ./...`.
//
//	cmd/llmtune → trainer → trainer/dataset, trainer/optim, trainer/sacrebleu, lora,
//	              transformer/generate → transformer → transformer/kernels,
//	              transformer/safetensors;   tokenizer → tokenizer/pipeline stands alone.
//
// docs/ARCHITECTURE.md draws the same picture and says what each package is for.
package layout
