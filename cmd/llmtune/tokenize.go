package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/trainer"
	"github.com/llmtune/llmtune/trainer/dataset"
	"github.com/llmtune/llmtune/transformer"
)

const tokenizeArgs = "(--model DIR --data FILE | --recipe FILE) [--format FORMAT]\n" +
	"            [--template TEMPLATE] [--chat-template T] [-n N]"

// cmdTokenize is llmtune tokenize: the training rows of the first examples of a data
// file, token by token.
func cmdTokenize(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tokenize", tokenizeArgs,
		`Shows how the first examples of a data file become training rows: each token with its
id and what that position is trained to predict, or "masked" when it is not in the loss
(prompt tokens with train_on_inputs: false, or in a conversation every turn that is not
the assistant's; the last token). Data settings (format, template, chat_template,
train_on_inputs, max_seq_len) come from --recipe, else are the defaults; --format,
--template and --chat-template override them.`)
	model := fs.String("model", "", "model `DIR` whose tokenizer to use (default: the recipe's base_model)")
	data := fs.String("data", "", "data `FILE` (.txt or .jsonl; default: the recipe's data.train)")
	recipe := fs.String("recipe", "", "take the data settings from this recipe `FILE`")
	df := newDataFlags(fs)
	n := fs.Int("n", 3, "show the first `N` examples")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *recipe == "" {
		if err := required(fs, "model", "data"); err != nil {
			return err
		}
	}
	if fs.NArg() > 0 {
		return usagef("tokenize: unexpected argument %q", fs.Arg(0))
	}
	cfg := dataset.DefaultConfig()
	if *recipe != "" {
		r, err := trainer.LoadRecipe(*recipe)
		if err != nil {
			return err
		}
		cfg = r.Data
		if *model == "" {
			*model = r.BaseModel
		}
		if *data == "" {
			*data = r.Data.Train
		}
	}
	if err := df.apply(&cfg); err != nil {
		return err
	}
	tok, err := tokenizer.Load(*model)
	if err != nil {
		return err
	}
	ds, err := dataset.New(*data, cfg, tok)
	if err != nil {
		return err
	}
	l, err := ds.Loader(dataset.LoaderConfig{BatchSize: 1, ShuffleBuffer: 1, Epochs: 1}, dataset.DataState{})
	if err != nil {
		return err
	}
	defer l.Close()
	for i := range *n {
		b, err := l.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		ids, targets := b.IDs[0], b.Targets[0]
		trained := 0
		for _, tg := range targets {
			if tg != transformer.IgnoreIndex {
				trained++
			}
		}
		fmt.Fprintf(e.stdout, "example %d: %d tokens, %d in the loss\n", i+1, len(ids), trained)
		fmt.Fprintf(e.stdout, "  %4s %6s  %-20s %s\n", "pos", "id", "token", "trains to predict")
		for t, id := range ids {
			label := "masked"
			if tg := targets[t]; tg != transformer.IgnoreIndex {
				label = fmt.Sprintf("%d %s", tg, strconv.Quote(tok.Decode([]int{tg})))
			}
			fmt.Fprintf(e.stdout, "  %4d %6d  %-20s %s\n", t, id, strconv.Quote(tok.Decode([]int{id})), label)
		}
	}
	st := l.Stats()
	if st.Truncated > 0 {
		fmt.Fprintf(e.stdout, "%d of the examples shown were longer than max_seq_len %d and were truncated\n", st.Truncated, cfg.MaxSeqLen)
	}
	return nil
}
