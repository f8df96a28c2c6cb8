//go:build ignore

// Command gen makes testdata/tiny: the reference tiny GPT-2 of testdata/reference/tiny-f32
// (random weights, vocab 512) with a 512-token byte-level BPE tokenizer trained by
// llmtune's own trainer on the tokenizer tests' real-text corpus, so that the examples,
// the trainer and the CLI tests have a complete model directory to load; and
// reverse.jsonl, a small synthetic source/target task (the target is the source's words
// in reverse order).
//
//	go run testdata/tiny/gen.go      (from the repository root)
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmtune/llmtune/tokenizer"
)

func main() {
	f, err := os.Open("testdata/tokenizer/golden.jsonl.gz")
	if err != nil {
		log.Fatal(err)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 16<<20)
	var text string
	for sc.Scan() {
		var rec struct{ Name, Text string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			log.Fatal(err)
		}
		if rec.Name == "corpus" {
			text = rec.Text
		}
	}
	corpus := filepath.Join(os.TempDir(), "tiny-corpus.txt")
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		log.Fatal(err)
	}
	tok, err := tokenizer.Train([]string{corpus}, 512, nil)
	if err != nil {
		log.Fatal(err)
	}
	if tok.EOS() != 511 {
		log.Fatalf("EOS is %d, the reference config says 511", tok.EOS())
	}
	if err := tok.Save("testdata/tiny/tokenizer.json"); err != nil {
		log.Fatal(err)
	}
	words := strings.Fields("red blue green cat dog bird sun sea sky big old new")
	rng := rand.New(rand.NewPCG(1, 2))
	out, err := os.Create("testdata/tiny/reverse.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(out)
	for range 200 {
		src := make([]string, 2+rng.IntN(4))
		for i := range src {
			src[i] = words[rng.IntN(len(words))]
		}
		rev := make([]string, len(src))
		for i, w := range src {
			rev[len(src)-1-i] = w
		}
		if err := enc.Encode(map[string]string{"source": strings.Join(src, " "), "target": strings.Join(rev, " ")}); err != nil {
			log.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"config.json", "model.safetensors"} {
		data, err := os.ReadFile(filepath.Join("testdata/reference/tiny-f32", name))
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata/tiny", name), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
