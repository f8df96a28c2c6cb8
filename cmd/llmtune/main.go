// Command llmtune fine-tunes GPT-2-style models with LoRA on the CPU: `llmtune run
// recipes/translate.yaml`, `llmtune generate`, eval, merge, tokenize and bench. Run
// `llmtune help` for the subcommands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
