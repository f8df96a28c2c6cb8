// Package gguf writes llama.cpp's GGUF files (version 3) and reads them back: a whole model with its tokenizer,
// for llama.cpp, ollama and LM Studio, or a LoRA adapter that llama.cpp applies with --lora.
//
//	f, err := gguf.Model(model, tok, gguf.Options{Type: gguf.F16, Name: "translator"})
//	err = f.WriteFile("model.gguf")              // atomically: temporary file, fsync, rename
//	f, err = gguf.Adapter(ad, model, gguf.Options{Type: gguf.F32})
//	r, err := gguf.Open("model.gguf")            // metadata, tensor infos; ReadFloat32 dequantizes
//
// # The format
//
// format.go writes what gguf-py's GGUFWriter writes (gguf-py/gguf/gguf_writer.py and constants.py in
// llama.cpp): little-endian; "GGUF", version 3, the tensor and key counts as uint64; each key as a uint64-length
// string, its value type (uint32) and value, arrays as element type, uint64 count and elements; each tensor's
// name, dimension count, dimensions in ggml's order (innermost first: [in, out] for an [out, in] weight), type and
// offset; the data section at a multiple of 32 bytes (general.alignment, written too), each tensor's data padded
// to 32. Metadata values are typed by their Go type as gguf-py types Python values: counts uint32, float keys
// float32, token types an INT32 array, scores a FLOAT32 array. Tensor types: F32, F16, BF16 (round to nearest
// even, as numpy and gguf-py) and Q8_0, blocks of 32 values as one float16 scale d = max|x|/127 and 32 int8
// round(x/d), bit for bit ggml's quantize_row_q8_0_ref.
//
// # Models
//
// model.go maps a transformer.Model as convert_hf_to_gguf.py maps the Hugging Face checkpoint (GPT2Model,
// LlamaModel, Qwen2Model there): llama.cpp's architecture and tensor names (token_embd, position_embd,
// blk.N.attn_norm, attn_qkv or attn_q/k/v, attn_output, ffn_norm, ffn_gate/up/down, output_norm, output), the
// keys of TextModel.set_gguf_parameters, GPT-2's Conv1D weights transposed, llama's q/k rows permuted for
// llama.cpp's pairwise RoPE, Llama 3 rope scaling as rope_freqs, and which tensors stay F32 whatever the file
// type (TensorType). vocab.go writes the tokenizer: byte-level BPE as tokenizer.ggml.model "gpt2" with merges and
// the pre-tokenizer's llama.cpp name (gpt-2, llama-bpe, qwen2, smollm; any other is refused by name), and
// SentencePiece-style BPE with byte fallback as "llama" with token types and scores that make llama.cpp's
// SentencePiece merging follow the BPE ranks. adapter.go writes PEFT's A and B under llama.cpp's names.
//
// The files are checked by llama.cpp itself, not by this package: testdata/gguf/gen_golden.mjs loads the
// exported test models in llama.cpp (the node-llama-cpp package) and records its token ids and greedy
// continuations, which cmd/llmtune's export tests compare with llmtune's.
package gguf
