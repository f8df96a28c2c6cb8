// Package safetensors reads and writes the Hugging Face safetensors format: the
// model.safetensors of a checkpoint (or its shards and their index) and the
// adapter_model.safetensors of a PEFT LoRA adapter.
//
// A file is an 8-byte little-endian length N, then N bytes of JSON header, then the data
// area. The header maps each tensor name to {"dtype", "shape", "data_offsets"} (offsets
// relative to the start of the data area) and may hold a "__metadata__" object of
// string→string pairs; it may end in spaces, and writers pad it to a multiple of 8 bytes.
// Tensors are stored row-major and little-endian.
//
// Open reads and validates only the header, with the rules of the reference
// implementation: the header is at most 100 MB and fits in the file, is one UTF-8 JSON
// object, every dtype is known, every dimension is non-negative, every tensor's byte size
// equals its element count times its dtype size, and the tensors' byte ranges are
// contiguous, do not overlap and cover exactly the data area. A truncated or corrupt file
// is an error (an *Error naming the file, the tensor and the fault), never a panic or a
// huge allocation. ReadFloat32 then streams one tensor into a caller's []float32
// (converting F16, BF16 and F64) through a bounded buffer, so loading a model holds about
// one float32 copy of it in memory, not two. Write stores []float32 tensors as F32, F16 or
// BF16 atomically (temporary file, fsync, rename).
//
// A checkpoint directory, as Hugging Face's save_pretrained writes one, holds either one
// model.safetensors or, for a model over max_shard_size (5 GB by default), shards
// "model-00001-of-00002.safetensors", ... and model.safetensors.index.json, whose
// "weight_map" names each tensor's shard. OpenDir opens either kind as from_pretrained
// finds it (model.safetensors first) and presents a Checkpoint: the union of the files'
// tensors, read like a File's, with every header validated and the index checked against
// the shards (a listed tensor missing from its shard, or a tensor in two shards, is an
// error; a shard's unlisted tensor belongs to the checkpoint, as in transformers). It
// holds a few files open at a time. WriteDir writes either kind, splitting tensors into
// shards as huggingface_hub does and writing the index byte for byte as transformers
// does; it writes the files in an order that a crash cannot turn into a checkpoint mixing
// old and new shards, and removes the files of an earlier save that do not belong.
//
// It is not a tensor library and not a model loader: it knows nothing of GPT-2 key names
// or shapes (package transformer and package lora check those), it does not memory-map
// files, and it reads only F32, F16, BF16 and F64 as numbers; other dtypes are described
// by the header and their raw bytes are available through File.Reader. Dtypes other than
// this package's constants, such as the sub-byte F4 and F6 types of newer versions of the
// format, are rejected as unknown.
//
// References: the format description and the reference Rust implementation,
// https://github.com/huggingface/safetensors (safetensors/src/tensor.rs); IEEE 754-2008
// binary16; bfloat16 as PyTorch rounds it (c10/util/BFloat16.h, round to nearest even);
// for checkpoint directories, huggingface_hub (serialization/_base.py,
// split_state_dict_into_shards_factory) and transformers (modeling_utils.py:
// save_pretrained, and from_pretrained's choice of files and loading of shards).
package safetensors
