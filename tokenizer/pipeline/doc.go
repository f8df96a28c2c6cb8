// Package pipeline holds the text stages of a Hugging Face tokenizer (tokenizer.json), the ones that turn text into
// text and need no vocabulary: normalizers, pre-tokenizers and decoders, each built from its component of
// tokenizer.json and run as Hugging Face's tokenizers 0.23.2 runs it, exactly. Package tokenizer reads the file and
// puts these stages around what it owns: the added tokens, the BPE model, the post-processor, loading, saving and
// training.
//
//	norm, err := pipeline.BuildNormalizer(c, "normalizer") // nil for none
//	pre, err := pipeline.BuildPreTokenizer(c, "pre_tokenizer")
//	dec, err := pipeline.BuildDecoder(c, "decoder")        // nil for none
//	s = norm.Normalize(s)                                  // each stretch between added tokens
//	pieces := pre.Split(s, true, &scratch)                 // []Piece, each with its Text
//	text := strings.Join(dec.Decode(tokens), "")
//
// The component types read (c.Type, with the fields that Component lists):
//
//   - normalizers (normalize.go): NFC, NFD, NFKC, NFKD, Prepend, Replace, Strip, Sequence;
//   - pre-tokenizers (pretokenizers.go): ByteLevel (add_prefix_space, use_regex), Split (String or Regex pattern,
//     the five behaviors, invert), Digits, Metaspace (prepend_scheme always, first, never; split), Sequence;
//   - decoders (decode.go): ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
//
// Any other type (Lowercase and the BERT normalizers, Whitespace and the other pre-tokenizers, the WordPiece and
// CTC decoders) and a chain with two ByteLevel pre-tokenizers make the Build function fail with an error that
// wraps ErrUnsupported and names the part (`normalizer.normalizers[1].type "Lowercase" is not supported`); a
// malformed component (Metaspace without a replacement, a regex that does not compile, an unknown Split behavior)
// gives an error that does not wrap it.
//
// # Scanners and regexes
//
// A PreTokenizer does not run the common chains step by step: GPT-2's ByteLevel pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// and Llama 3's and Qwen2's Split patterns have hand-written scanners (pretokenize.go, llama3.go; Scan says which,
// and GPT2End and Llama3End are there for a caller that loops itself), since Go's regexp has no look-ahead and
// speed matters, and a ByteLevel step at the end leaves the pieces as raw bytes (PreTokenizer.ByteLevel) for a model
// that reads them without spelling them in GPT-2's byte alphabet (bytelevel.go). Any other Split or Replace regex
// runs in regexp2 (github.com/dlclark/regexp2/v2; regex.go), a backtracking engine with .NET and Perl syntax, with
// Oniguruma's rule for empty matches, so that no tokenizer is refused for its regex alone; a test runs the three
// scanners and regexp2 on the same texts.
//
// # Exact where Hugging Face's Unicode tables are old or new
//
// Hugging Face's regexes run in Oniguruma, whose Unicode is 16.0; Go 1.26's is 15.0. The Llama 3 and Qwen2
// scanners class the 5,004 code points that Unicode 15.1 and 16.0 made letters or numbers as Oniguruma does
// (onigExtra); the GPT-2 scanner keeps Go's classes, with which it matches tiktoken (see package tokenizer), and
// regexp2 uses Go's too. Hugging Face's NFC and the other forms come from the crate
// unicode-normalization-alignments, whose tables are Unicode 9.0, and sort every run of combining marks whole;
// x/text's norm (Unicode 15.0) gives the same except for text with one of the 244 characters that Unicode 10.0 to
// 15.0 added with a combining class or a decomposition, and for runs of more than 30 combining marks (the
// Stream-Safe Text Format), which normalize.go handles by the book. (?i) in Oniguruma, regexp2 and the scanners is
// Unicode simple case folding: "it'ſelf" splits as "it", "'ſ", "elf".
package pipeline
