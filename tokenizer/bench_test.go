package tokenizer

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkEncode encodes the ~1 MiB golden corpus (prose, speeches, code, 16 languages). Measure on one core:
//
//	go test ./tokenizer -run '^$' -bench Encode -cpu 1
func BenchmarkEncode(b *testing.B) {
	tok := loadGPT2(b)
	corpus := goldenRecord(b, "corpus").Text
	for _, bb := range []struct{ name, text string }{
		{"corpus", corpus},
		{"english", corpus[:400_000]}, // English prose: Moby-Dick, then the first speech
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.text)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(tok.Encode(bb.text))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
		})
	}
	b.Run("long", func(b *testing.B) { // pieces over maxQuadratic bytes, merged with the heap
		text := strings.Repeat(" "+strings.Repeat("1234567890", 100)+strings.Repeat(" ", 300)+"x", 100)
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += len(tok.Encode(text))
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
	})
	b.Run("short", func(b *testing.B) { // one chat-sized prompt: the per-call overhead
		const text = "Translate to Spanish: I don't think it'll rain tomorrow, do you?\n"
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n += len(tok.Encode(text))
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
	})
}

// BenchmarkEncodeHF encodes English prose (Moby-Dick, as in BenchmarkEncode/english) and the 1 MiB corpus with the
// tokenizer.json files of testdata/tokenizer/hf; Llama 3's only when fetch_llama3.sh has put it there.
func BenchmarkEncodeHF(b *testing.B) {
	corpus := goldenRecord(b, "corpus").Text
	for _, name := range []string{"llama3", "qwen3", "mistral-7b"} {
		dir := hfDir + "/" + name
		if !exists(dir + "/tokenizer.json") {
			continue
		}
		tok, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		for _, bb := range []struct{ name, text string }{{"english", corpus[:400_000]}, {"corpus", corpus}} {
			b.Run(name+"/"+bb.name, func(b *testing.B) {
				b.SetBytes(int64(len(bb.text)))
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					n += len(tok.Encode(bb.text))
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
			})
		}
	}
}

// BenchmarkTrain learns a 1000-token vocabulary from the ~1 MiB golden corpus.
func BenchmarkTrain(b *testing.B) {
	text := goldenRecord(b, "corpus").Text
	file := b.TempDir() + "/corpus.txt"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Train([]string{file}, 1000, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad loads GPT-2's vocab.json and merges.txt, and a tokenizer.json written by Save.
func BenchmarkLoad(b *testing.B) {
	tok := loadGPT2(b)
	file := b.TempDir() + "/tokenizer.json"
	if err := tok.Save(file); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{gpt2Dir, file} {
		name := "vocab.json+merges.txt"
		if path == file {
			name = "tokenizer.json"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
