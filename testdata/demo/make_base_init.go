//go:build ignore

// Command make_base_init writes testdata/demo/base-init: the tokenizer of the demo base
// model, trained with llmtune's BPE trainer on the bilingual corpus (the pretraining
// text and both sides of the translation training pairs), and the config.json of its
// GPT-2 architecture; and runs/pretrain-data/train.txt, the pretraining text: each English
// paragraph of testdata/demo/pretrain/train.txt joined with its Spanish translation into
// one bilingual example (parallel documents, as real base models see on the web), and
// runs/pretrain-data/valid.txt, the same from testdata/demo/pretrain/valid.txt. The
// translation pairs that recipes/translate.yaml fine-tunes on are not in it: the base
// model learns from paragraphs, the fine-tuning teaches sentence translation on new
// text. recipes/pretrain-tiny.yaml then pretrains the model from scratch on it, and a
// fifth epoch with a warm restart follows (the commands are in the recipe's header):
//
//	go run testdata/demo/make_base_init.go          (from the repository root)
//	go run ./cmd/llmtune run recipes/pretrain-tiny.yaml
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/transformer"
)

const (
	out       = "testdata/demo/base-init"
	text      = "runs/pretrain-data/train.txt"
	valid     = "runs/pretrain-data/valid.txt"
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
	if err := bilingual("testdata/demo/pretrain/train.txt", text); err != nil {
		log.Fatal(err)
	}
	if err := bilingual("testdata/demo/pretrain/valid.txt", valid); err != nil {
		log.Fatal(err)
	}
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "config.json"), append(raw, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}

// bilingual writes the paragraphs of the text file txt (separated by blank lines), which
// alternate English paragraph, its Spanish translation, …, as bilingual examples: each
// English paragraph and its translation joined by a newline into one example.
func bilingual(txt, dst string) error {
	raw, err := os.ReadFile(txt)
	if err != nil {
		return err
	}
	var paras []string
	for _, p := range strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			paras = append(paras, p)
		}
	}
	if len(paras)%2 != 0 {
		return fmt.Errorf("%s: %d paragraphs, want English/Spanish pairs (an even number)", txt, len(paras))
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for i := 0; i < len(paras); i += 2 {
		b.WriteString(paras[i] + "\n" + paras[i+1] + "\n\n")
	}
	return os.WriteFile(dst, []byte(b.String()), 0o644)
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
