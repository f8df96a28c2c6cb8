package pipeline

import "golang.org/x/text/unicode/norm"

// Names of the text stages, for a runtime that rebuilds a tokenizer from a description rather than from
// tokenizer.json (llama.cpp's GGUF names its pre-tokenizer, say "gpt-2" or "qwen2", and has no normalizer).

// Name returns what the pre-tokenizer is, as one of the chains other runtimes know by name: "" for none,
// "gpt2" (GPT-2's ByteLevel pattern), "llama3" and "qwen2" (their Split patterns, then ByteLevel), "digits+gpt2"
// (Digits with individual_digits, then GPT-2's ByteLevel: SmolLM2), "metaspace" (SentencePiece's Metaspace with
// prepend_scheme always or first and no split), or "other" for any other chain.
func (p PreTokenizer) Name() string {
	switch p.Scan {
	case ScanWhole:
		if p.ByteLevel {
			return "bytes" // a ByteLevel that only maps bytes, with no pattern
		}
		return ""
	case ScanGPT2:
		return "gpt2"
	case ScanLlama3:
		if p.ByteLevel {
			return "llama3"
		}
	case ScanQwen2:
		if p.ByteLevel {
			return "qwen2"
		}
	case ScanChain:
		if len(p.steps) == 2 && p.ByteLevel {
			d, ok1 := p.steps[0].(digitsPre)
			b, ok2 := p.steps[1].(byteLevelPre)
			if ok1 && ok2 && d.individual && b.useRegex && !b.addPrefixSpace {
				return "digits+gpt2"
			}
		}
		if len(p.steps) == 1 && !p.ByteLevel {
			if m, ok := p.steps[0].(metaspacePre); ok && m.replacement == '▁' && !m.splits && m.scheme != prependNever {
				return "metaspace"
			}
		}
	}
	return "other"
}

// NormalizerName returns what n is, when other runtimes know it by name: "" for none, "nfc", "metaspace" for
// SentencePiece's legacy Prepend("▁") then Replace(" ", "▁") (Llama 2, Mistral), or "other".
func NormalizerName(n Normalizer) string {
	switch n := n.(type) {
	case nil:
		return ""
	case unicodeNorm:
		if n.form == norm.NFC {
			return "nfc"
		}
	case normSequence:
		if len(n) == 2 {
			p, ok1 := n[0].(prependNorm)
			r, ok2 := n[1].(replaceNorm)
			if l, ok3 := r.pattern.(literal); ok1 && ok2 && ok3 && p.prefix == "▁" && l == " " && r.content == "▁" {
				return "metaspace"
			}
		}
	}
	return "other"
}
