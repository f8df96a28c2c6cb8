// Package tokenizer reads Hugging Face BPE tokenizers (tokenizer.json) and encodes exactly to the id as Hugging
// Face's Rust tokenizers 0.23.2 does: GPT-2's byte-level BPE, Llama 3, Qwen2 to Qwen3, Mistral and Llama 2
// (SentencePiece-style BPE with byte fallback), SmolLM2 and others built from the same parts. It also trains
// GPT-2-style byte-level BPE.
//
//	tok, err := tokenizer.Load("path/to/model")  // tokenizer.json (+ tokenizer_config.json), or vocab.json + merges.txt
//	ids := tok.Encode("Hello world")             // GPT-2 [15496 995]; special tokens in text stay text
//	ids = tok.EncodeForModel("Hello world")      // Llama 3 [128000 9906 1917]: with the BOS the model expects
//	ids = append(ids, tok.EOS())                 // the model's end token (tokenizer_config.json's eos_token)
//	text := tok.Decode(ids)
//
//	tok, err = tokenizer.Train(files, 8000, nil) // byte-level BPE learned from text files
//	err = tok.Save("out/tokenizer.json")         // read back by Load and by Hugging Face tokenizers
//
// # Three ways to encode
//
// Hugging Face's encode(text, add_special_tokens) always splits the added tokens ("<|begin_of_text|>",
// "<|im_start|>", "<s>") out of the text; add_special_tokens only decides whether the post-processor puts the
// BOS (or a template) around the result. Text that a user wrote could then forge a special token. So:
//
//   - Encode(text) recognises no special token: it is encode(text, add_special_tokens=False) with transformers'
//     split_special_tokens=True. Added tokens that are not special (Qwen3's "<think>", "<tool_call>") are still
//     split out, as there. For GPT-2 this is GPT-2's encoder and tiktoken's encode_ordinary, as it always was; it
//     is what training data and prompts should use.
//   - EncodeWithSpecial(text) is encode(text, add_special_tokens=False): every added token is recognised.
//   - EncodeForModel(text) is encode(text, add_special_tokens=True): EncodeWithSpecial with the post-processor's
//     tokens around it (128000 first for Llama 3, 1 for Mistral and Llama 2, nothing for GPT-2 and Qwen). BOS
//     returns that first token.
//
// Decode(ids) is decode(ids, skip_special_tokens=False), except that bytes that do not form valid UTF-8 are kept
// where Hugging Face writes U+FFFD, so a stream of tokens can be printed as it comes and byte-level tokenizers
// without a normalizer (GPT-2, Llama 3) keep Decode(Encode(s)) == s for every string. EOS is
// tokenizer_config.json's eos_token ("<|eot_id|>" 128009 for Llama 3 Instruct, "<|im_end|>" for Qwen3), else
// "<|endoftext|>", "<|end_of_text|>" or "</s>".
//
// # The pipeline
//
// Load builds, from tokenizer.json, the stages Hugging Face runs, each a small type chosen when loading. The
// stages that turn text into text, with no vocabulary, are package tokenizer/pipeline's (normalizers,
// pre-tokenizers, decoders, and the byte-level alphabet); the others are this package's:
//
//   - added tokens (added.go): split out of the raw text first, leftmost-longest, with their single_word, lstrip,
//     rstrip and normalized flags; the ids are given as Hugging Face gives them (the vocabulary's id of the same
//     content, else the next free one);
//   - normalizer (pipeline/normalize.go), on each stretch between added tokens: NFC, NFD, NFKC, NFKD, Prepend,
//     Replace, Strip, Sequence;
//   - pre-tokenizer (pipeline/pretokenizers.go): ByteLevel (add_prefix_space, use_regex), Split (String or Regex
//     pattern, the five behaviors, invert), Digits, Metaspace (prepend_scheme always, first, never; split),
//     Sequence;
//   - model (model.go): BPE with merges as "a b" or ["a", "b"], byte_fallback, unk_token, fuse_unk,
//     ignore_merges;
//   - post-processor (postprocess.go): TemplateProcessing (single), BertProcessing, RobertaProcessing, ByteLevel,
//     Sequence;
//   - decoder (pipeline/decode.go): ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
//
// Load reads the file (tokjson.go, load.go) and builds each text stage with pipeline's Build functions. Anything
// else (WordPiece, Unigram and WordLevel models, BPE dropout, a subword prefix or suffix, Lowercase and the BERT
// normalizers, Whitespace and the other pre-tokenizers, the WordPiece and CTC decoders) makes Load fail with an
// error that wraps ErrUnsupported and names the part, rather than encode differently. tokenizer.json's truncation
// and padding are not applied (transformers sets them per call too). A text with no pre-tokenizer (Mistral's) is
// one piece; when no token has a "▁" after another character it is merged word by word, which gives the same
// merges in far less time. tokenizer_config.json gives eos_token, bos_token, add_bos_token and add_eos_token
// (which add or drop the BOS and EOS in EncodeForModel, as transformers' Llama tokenizers do) and chat_template
// (ChatTemplate, kept for later).
//
// The common chains do not go through the general pre-tokenizer: GPT-2's ByteLevel pattern and Llama 3's and
// Qwen2's Split patterns have hand-written scanners (pipeline/pretokenize.go, pipeline/llama3.go), which Encode
// calls directly, and a ByteLevel step at the end becomes byte-level mode, where the model reads the bytes of each
// piece without spelling them in GPT-2's byte alphabet. Any other Split or Replace regex runs in regexp2
// (github.com/dlclark/regexp2/v2), so that no tokenizer is refused for its regex alone. Package pipeline's
// documentation says how the scanners, regexp2 and the normalizers match Hugging Face's Oniguruma and its Unicode
// tables, which are not Go's. Each piece's symbols are merged by rank, the lowest-ranked adjacent pair first and the
// leftmost among equals, as Hugging Face's BPE and tiktoken do; pieces of more than 64 symbols use a heap, so time
// grows as n log n on any input.
//
// # Checked against
//
// GPT-2: testdata/tokenizer/golden.jsonl.gz holds ids from tiktoken 1.0.22 (OpenAI's Rust tiktoken compiled to
// WebAssembly, run by testdata/tokenizer/gen_golden.mjs) for 100 tricky texts (blank lines, CRLF, tabs,
// whitespace runs, numbers, contractions in every case, accents, CJK, emoji with ZWJ, control characters, each
// Unicode whitespace and invisible character in several positions, 1000 × "a", the empty string), for 4 texts with
// "<|endoftext|>" recognised, and for a 1,043,450-byte corpus of real text (Moby-Dick, State of the Union
// addresses, the Universal Declaration of Human Rights in 16 languages, Go source). Encode matches all of them.
// Outside the tests (gen_reference.mjs with TestReferenceFile) it also matches tiktoken on 61.9 M tokens of text
// the tests never see, 105 MB in all: 0 mismatches. Files that Save writes, GPT-2's and trained ones, read back in
// Hugging Face's tokenizers.js 0.2.0 with the same ids (check_hf.mjs). js-tiktoken and gpt-3-encoder, which use
// JavaScript's regex (\s takes U+FEFF and not U+0085), differ from tiktoken on 3 of the golden texts; tiktoken is
// the reference. \p{L} and \p{N} are Go's tables there: 9,661 code points assigned in Unicode 15.1 to 17.0 that
// Python's regex counts as letters or numbers are "other", yet no GPT-2 id changed where the reference check put
// each of them in five contexts.
//
// Llama 3, Qwen3 and Mistral-7B: Hugging Face tokenizers 0.23.2's ids, with and without the special tokens, and its
// decoded text, for the 270 texts of testdata/tokenizer/hf (TestHFGolden: 49,069, 44,003 and 62,909 tokens, 0
// mismatches), and for 20 texts on each of 8 variants of them with the parts the three do not use
// (TestHFVariants: added-token flags, a normalized added token, Replace by regex, Split behaviors, invert and
// look-behind, Digits, ByteLevel with a prefix space, Metaspace, unk, Roberta's template). Outside the tests
// (TestHFReference) the package matched it on about 74,000 texts a tokenizer, 28 M tokens: the GPT-2 golden texts
// and corpus, its 69 documents one by one, 20,000 random strings of troublesome pieces and added tokens, each added
// token in context, and every Unicode scalar value in three contexts: 0 mismatched ids and 0 mismatched decoded
// texts.
//
// # Written here, not imported
//
// The two Go BPE libraries gave wrong ids (sugarme/tokenizer) or took quadratic time (nlpodyssey/gotokenizers)
// on GPT-2's golden texts; docs/ARCHITECTURE.md ("Decisions and their measurements") has the study. This package
// uses encoding/json for the files; package pipeline uses golang.org/x/text for Unicode normalization and regexp2
// for patterns that have no scanner.
//
// Figures for this package (go test ./tokenizer -run '^$' -bench . -cpu 1, with the shared machine otherwise
// quiet): GPT-2's Encode 6.0 M tokens/s on the 1 MiB corpus (17.5 MB/s) and 4.5 M tokens/s on English prose, 3
// allocations a call; Load 55 ms for GPT-2's vocab.json and merges.txt and 80 ms for its tokenizer.json (14 and
// 21 MB allocated, most of the time in encoding/json); Train of a 1000-token vocabulary on the 1 MiB corpus 0.15 s.
// With other jobs on both cores (load average 5 to 8) the same runs gave 1.7 to 3.1 M tokens/s. With the general
// pipeline in place (BenchmarkEncode and BenchmarkEncodeHF, interleaved with the code before it, load average
// about 3): GPT-2 3.7 to 4.2 M tokens/s on the corpus and 2.8 to 2.9 M on English prose, as before it; on English
// prose Llama 3 4.6 M tokens/s, Qwen3 2.3 to 2.8 M, Mistral-7B 1.8 to 1.9 M; Load 0.75 s and 40 MB for Llama 3's
// tokenizer.json, 0.55 s for Qwen3's, 0.14 s for Mistral's.
//
// # References
//
//   - Radford et al., "Language Models are Unsupervised Multitask Learners" (GPT-2), 2019, section 2.2.
//   - Sennrich, Haddow and Birch, "Neural Machine Translation of Rare Words with Subword Units", arXiv:1508.07909.
//   - OpenAI gpt-2 src/encoder.py (the pattern and bytes_to_unicode) and tiktoken (the reference encoder).
//   - Hugging Face tokenizers (github.com/huggingface/tokenizers, tokenizers/src): the tokenizer.json format, the
//     AddedVocabulary, NormalizedString, PreTokenizedString and BPE model whose behaviour this package follows,
//     and BpeTrainer, whose pair-count training Train follows.
//   - Unicode Standard Annex #15 (normalization forms) and #44 (the character database).
package tokenizer
