//go:build ignore

// Command make_base_init writes testdata/demo/base-init: the tokenizer of the demo base
// model, trained with llmtune's BPE trainer on the bilingual corpus (the pretraining
// text and both sides of the translation training pairs), and the config.json of its
// GPT-2 architecture. recipes/pretrain-tiny.yaml then pretrains the model from scratch
// on it:
//
//	go run testdata/demo/make_base_init.go          (from the repository root)
//	go run ./cmd/llmtune run recipes/pretrain-tiny.yaml
package main

import (
	"bufio"
	"encoding/json"
	"log"
	"os"
	"path/filepath"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

const (
	out       = "testdata/demo/base-init"
	vocabSize = 4096
)

func main() {
	// The translation pairs, one sentence per line, both languages.
	pairs := filepath.Join(os.TempDir(), "demo-pairs.txt")
	if err := sentences("testdata/demo/translate/train.jsonl", pairs); err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.Train([]string{"testdata/demo/pretrain/train.txt", pairs}, vocabSize, &tokenizer.TrainOptions{Progress: os.Stderr})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := tok.Save(filepath.Join(out, "tokenizer.json")); err != nil {
		log.Fatal(err)
	}
	cfg := transformer.DefaultConfig()
	cfg.NumLayers, cfg.NumHeads, cfg.EmbedDim = 4, 4, 256
	cfg.MaxPositions, cfg.VocabSize = 256, tok.VocabSize()
	cfg.BOSTokenID, cfg.EOSTokenID = tok.EOS(), tok.EOS()
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "config.json"), append(raw, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// sentences writes the source and target of every JSONL pair in src to dst, one a line.
func sentences(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var p struct{ Source, Target string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return err
		}
		w.WriteString(p.Source + "\n" + p.Target + "\n")
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}
