// Command llmtune fine-tunes GPT-style models (GPT-2, Llama, Qwen2) with LoRA on the CPU: `llmtune run
// recipes/translate.yaml`, `llmtune generate`, eval, merge, tokenize and bench. Run
// `llmtune help` for the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// A training step's autograd graph (activations, gradients) is garbage as soon as the
		// step ends; collecting at 25% growth instead of 100% keeps peak memory near the live
		// set (small-lora: 2.5 GB → 1.6 GB) at no measurable cost in speed.
		debug.SetGCPercent(25)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
