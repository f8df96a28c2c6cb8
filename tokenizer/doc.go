// Package tokenizer is GPT-2's byte-level BPE tokenizer, exact to the id, and a trainer for new ones. It uses the
// Go standard library only.
//
//	tok, err := tokenizer.Load("path/to/gpt2")  // tokenizer.json, or vocab.json + merges.txt
//	ids := tok.Encode("Hello world")             // [15496 995]; "<|endoftext|>" in text stays text
//	ids = append(ids, tok.EOS())                 // 50256
//	text := tok.Decode(ids)                      // "Hello world<|endoftext|>"
//
//	tok, err = tokenizer.Train(files, 8000, nil) // byte-level BPE learned from text files
//	err = tok.Save("out/tokenizer.json")         // read back by Load and by Hugging Face tokenizers
//
// Encode splits text with GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// with the semantics of Python's regex module, which GPT-2 used, and of tiktoken: contractions in lower case only,
// \s+(?!\S) leaving the last whitespace character to the next word, \s as Unicode White_Space (NEL U+0085 is
// whitespace; a BOM U+FEFF and U+001C..U+001F are not). Go's regexp has no look-ahead, so a hand-written scanner
// does it. Each piece's bytes are then merged by rank, the lowest-ranked adjacent pair first and the leftmost
// among equals, as OpenAI's encoder.py and tiktoken do; pieces longer than 64 bytes use a heap, so time grows as
// n log n on any input. Decode(Encode(s)) == s for every string, valid UTF-8 or not.
//
// # What it is not
//
// Not a port of Hugging Face tokenizers: no WordPiece, Unigram or SentencePiece models, no normalizers, no other
// pre-tokenizers (Llama 3's pattern, add_prefix_space), no BPE dropout, no offsets, truncation, padding or
// post-processing templates. Load rejects such a tokenizer.json with an error that wraps ErrUnsupported rather
// than encode differently. \p{L} and \p{N} are Go's Unicode tables (15.0.0 in Go 1.26): 9,661 code points
// assigned in Unicode 15.1 to 17.0 that Python's regex (Unicode 17) counts as letters or numbers are "other"
// here. That splits text differently around them, yet no GPT-2 id changed where the reference check put each of
// them in five contexts: GPT-2 has no merge that joins their bytes to a neighbour's.
//
// # Checked against
//
// testdata/tokenizer/golden.jsonl.gz holds ids from tiktoken 1.0.22 (OpenAI's Rust tiktoken compiled to
// WebAssembly, run by testdata/tokenizer/gen_golden.mjs) for 100 tricky texts (blank lines, CRLF, tabs,
// whitespace runs, numbers, contractions in every case, accents, CJK, emoji with ZWJ, control characters, each
// Unicode whitespace and invisible character in several positions, 1000 × "a", the empty string), for 4 texts with
// "<|endoftext|>" recognised, and for a 1,043,450-byte corpus of real text (Moby-Dick, State of the Union
// addresses, the Universal Declaration of Human Rights in 16 languages, Go source). Encode matches all of them.
// Outside the tests (gen_reference.mjs with TestReferenceFile) it also matches tiktoken on 61.9 M tokens of text
// the tests never see, 105 MB in all: the whole of Moby-Dick, 233 State of the Union addresses, 532 translations
// of the Declaration as HTML, source code from npm packages and GOROOT, every Unicode scalar value in five
// contexts, and 200,000 random strings of troublesome pieces: 0 mismatches. The pre-tokenizer's splits of the
// sweep and of 100,000 more random strings equal Python regex 2026.5.9's, except in the records holding the
// code points above. Files that Save writes, GPT-2's and trained ones, read back in Hugging Face's tokenizers.js
// 0.2.0 with the same ids (check_hf.mjs, which leaves out the texts that tokenizers.js treats differently by
// design). js-tiktoken and gpt-3-encoder, which use JavaScript's regex (\s takes U+FEFF and not U+0085), differ
// from tiktoken on 3 of the golden texts; tiktoken is the reference.
//
// # Written here, not imported
//
// The two Go BPE libraries gave wrong ids (sugarme/tokenizer) or took quadratic time (nlpodyssey/gotokenizers)
// on the same golden texts; docs/ARCHITECTURE.md ("Decisions and their measurements") has the study. This package
// is about 1,500 lines with comments, the trainer included, on the standard library (encoding/json reads the files).
//
// Figures for this package (go test ./tokenizer -run '^$' -bench . -cpu 1, with the shared machine otherwise
// quiet): Encode 6.0 M tokens/s on the 1 MiB corpus (17.5 MB/s) and 4.5 M tokens/s on English prose, 3
// allocations a call; Load 55 ms for GPT-2's vocab.json and merges.txt and 80 ms for its tokenizer.json (14 and
// 21 MB allocated, most of the time in encoding/json: a hand-written reader took 34 ms for either, but 330 lines
// to keep); Train of a 1000-token vocabulary on the 1 MiB corpus 0.15 s. With other jobs on both cores (load
// average 5 to 8) the same runs gave 1.7 to 3.1 M tokens/s.
//
// # References
//
//   - Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2), 2019, section 2.2.
//   - Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with Subword Units", arXiv:1508.07909.
//   - OpenAI gpt-2 src/encoder.py (the pattern and bytes_to_unicode) and tiktoken (the reference encoder).
//   - Hugging Face tokenizers: the tokenizer.json format and BpeTrainer, whose pair-count training Train follows.
package tokenizer
