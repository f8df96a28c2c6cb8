package safetensors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// WriteDir saves tensors as the checkpoint in directory dir (created if needed), as
// Hugging Face's save_pretrained lays one out, for OpenDir and from_pretrained to read.
// Every tensor is converted to dtype (F32, F16 or BF16) and every file gets metadata as
// its "__metadata__" (save_pretrained writes {"format": "pt"}); each file is written as
// Write writes one, atomically.
//
// The tensors are assigned to shards in the order given (a model's parameter order, as
// save_pretrained walks its state dict), as huggingface_hub's split_torch_state_dict_
// into_shards assigns them: each joins the current shard unless that would take the
// shard's data over maxShardBytes, which then closes it and starts the next; a tensor
// bigger than maxShardBytes gets a shard of its own, placed when it is met (the tensors
// before and after it still share the current shard, which comes after it). With one
// shard, which maxShardBytes = 0 (no limit) always gives, WriteDir writes
// model.safetensors; with several, "model-00001-of-0000N.safetensors" and so on, and
// model.safetensors.index.json as transformers writes it: json.dumps(index, indent=2,
// sort_keys=True) + "\n", with "metadata" {"total_parameters": the tensors' element
// count, "total_size": their byte size in dtype} and "weight_map" {tensor name: shard}
// with the names sorted. DefaultMaxShardBytes is save_pretrained's default.
//
// WriteDir also removes what a previous save in dir left that does not belong to the new
// checkpoint: model.safetensors, model.safetensors.index.json, and files named like a
// shard ("model-" 5 digits "-of-" 5 digits ".safetensors"). It touches no other file. The
// order of the steps makes a crash or an error at any point leave dir with either the old
// checkpoint or the new one as OpenDir (and from_pretrained, which reads
// model.safetensors first) read it, or with no index and no model.safetensors, which
// OpenDir reports as a missing checkpoint; never with an index that names a mix of old
// and new shards:
//
//   - one file: write model.safetensors (from then on it is what a reader loads, whatever
//     else is in dir); then remove the index and the shard files.
//   - shards: remove an old index first (durably, before any shard of the same name can
//     be overwritten: until the new index exists, a reader finds an old
//     model.safetensors, or nothing); write the shards; write the index (from then on the
//     new checkpoint is what a reader loads, unless an old model.safetensors still takes
//     precedence: the old checkpoint, whole); remove model.safetensors, then the shard
//     files that the new index does not name.
//
// So an error returned after the new checkpoint is complete means only that a stale file
// could not be removed. It is an error, before anything is written, if Write would refuse
// the arguments (see Write) or maxShardBytes is negative; those errors name dir, and the
// others the file concerned.
func WriteDir(dir string, tensors []Tensor, metadata map[string]string, dtype DType, maxShardBytes int64) error {
	err := checkWrite(dir, tensors, metadata, dtype)
	if maxShardBytes < 0 {
		err = errors.Join(err, &Error{Op: "write", Path: dir, Err: fmt.Errorf("maxShardBytes %d is negative", maxShardBytes)})
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &Error{Op: "write", Path: dir, Err: pathErr(err)}
	}
	size := int64(dtype.Size())
	sizes := make([]int64, len(tensors))
	var params, total int64
	for i, t := range tensors {
		sizes[i] = int64(len(t.Data)) * size
		params += int64(len(t.Data))
		total += sizes[i]
	}
	groups := splitShards(sizes, maxShardBytes)
	if len(groups) == 1 {
		if err := Write(filepath.Join(dir, ModelFile), tensors, metadata, dtype); err != nil {
			return err
		}
		return clean(dir, IndexFile, nil)
	}

	index := filepath.Join(dir, IndexFile)
	if err := remove(index); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return &Error{Op: "write", Path: dir, Err: pathErr(err)}
	}
	file := make(map[string]string, len(tensors)) // tensor name → shard
	keep := make(map[string]bool, len(groups))
	for i, g := range groups {
		name := shardName(i, len(groups))
		keep[name] = true
		shard := make([]Tensor, len(g))
		for j, k := range g {
			shard[j] = tensors[k]
			file[tensors[k].Name] = name
		}
		if err := Write(filepath.Join(dir, name), shard, metadata, dtype); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(file))
	for name := range file {
		names = append(names, name)
	}
	slices.Sort(names)
	b := buildIndex(names, func(name string) string { return file[name] }, params, total)
	if err := atomicfile.WriteFile(index, b); err != nil {
		return &Error{Op: "write", Path: index, Err: err}
	}
	return clean(dir, ModelFile, keep)
}

// clean removes the file named single from dir, then every shard-named file not in keep,
// and syncs dir.
func clean(dir, single string, keep map[string]bool) error {
	if err := remove(filepath.Join(dir, single)); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return &Error{Op: "write", Path: dir, Err: pathErr(err)}
	}
	for _, e := range entries {
		if name := e.Name(); isShardName(name) && !keep[name] && !e.IsDir() {
			if err := remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return &Error{Op: "write", Path: dir, Err: pathErr(err)}
	}
	return nil
}

// remove removes the file at path, if there is one.
func remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Op: "write", Path: path, Err: fmt.Errorf("remove the file of an earlier save: %w", pathErr(err))}
	}
	return nil
}
