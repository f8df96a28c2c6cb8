package safetensors

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// maxOpenShards bounds the shard files a Checkpoint holds open at once (more are open only
// while that many reads are under way). A variable so that tests can lower it.
var maxOpenShards = 4

// Checkpoint is a checkpoint directory opened by OpenDir: one model.safetensors, or the
// shards that a model.safetensors.index.json names, seen as one set of tensors. Tensor
// data is read on demand. A Checkpoint is safe for concurrent use by several goroutines.
type Checkpoint struct {
	dir      string
	index    string // the index's path, or "" for a single model.safetensors
	shards   []*shard
	tensors  []TensorInfo   // every tensor, in Tensors order
	where    map[string]loc // tensor name → where it is
	metadata map[string]string

	mu     sync.Mutex // guards closed, tick, nopen and the shards' f, refs and used
	closed bool
	tick   uint64 // counts acquisitions, to find the least recently used shard
	nopen  int    // shards whose f is open
}

// loc locates a tensor of a Checkpoint: s.tensors[i].
type loc struct {
	s *shard
	i int
}

// shard is one file of a Checkpoint, as OpenDir validated it.
type shard struct {
	path      string
	stat      fs.FileInfo  // at OpenDir: a reopened file must be the same one
	tensors   []TensorInfo // at OpenDir, in file order
	dataStart int64

	f    *File  // open handle, or nil
	refs int    // reads using f
	used uint64 // Checkpoint.tick at its last use
}

// OpenDir opens the checkpoint in directory dir as Hugging Face's from_pretrained finds it:
// the single file model.safetensors if there is one (a directory of that name does not
// count), else the shards that model.safetensors.index.json names. A model.safetensors
// beside an index takes precedence, as in transformers, and the index and the shards are
// then not read: save_pretrained can leave a stale index behind when it writes one file.
// OpenDir reads and validates every file's header as Open does and reads no tensor data.
//
// The index is one JSON object whose "weight_map" maps each tensor name to the name of its
// shard file in dir ("model-00001-of-00002.safetensors"): a plain file name ending in
// ".safetensors", never a path; a "metadata" member, if present, must be an object and is
// not otherwise read (its total_size is not checked, as transformers does not check it).
// OpenDir opens each file the weight map names, once, in name order. Then:
//
//   - a tensor that the weight map lists must be in the shard it names: a tensor missing
//     from its shard is an error (transformers would leave such a weight missing and
//     randomly initialized, with at most a warning);
//   - a tensor may be in only one shard: one in two shards is an error (transformers
//     would take the last shard's copy);
//   - a tensor in a shard but not in the weight map is part of the checkpoint, as in
//     transformers, which loads every tensor of every shard it opens and uses the weight
//     map only to find the shards;
//   - files in dir that the weight map does not name, such as shards left behind by an
//     earlier save, are ignored, as in transformers.
//
// Every error is an *Error naming the file at fault (the index, a shard, or dir when it
// has neither file; that one matches fs.ErrNotExist) and, where one is concerned, the
// tensor; several mapping faults come back joined. OpenDir keeps at most a few shard
// files open at once and reopens others when ReadFloat32 needs them, checking that each
// is still the file it validated.
func OpenDir(dir string) (*Checkpoint, error) {
	if st, err := os.Stat(dir); err != nil {
		return nil, &Error{Op: "open", Path: dir, Err: pathErr(err)}
	} else if !st.IsDir() {
		return nil, &Error{Op: "open", Path: dir, Err: errors.New("not a directory")}
	}
	c := &Checkpoint{dir: dir, where: map[string]loc{}}
	single := filepath.Join(dir, ModelFile)
	if st, err := os.Stat(single); err == nil && !st.IsDir() {
		if err := c.addShard(single); err != nil {
			return nil, err
		}
		s := c.shards[0]
		c.tensors = s.tensors
		for i, t := range s.tensors {
			c.where[t.Name] = loc{s, i}
		}
		return c, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Op: "open", Path: single, Err: pathErr(err)}
	}

	c.index = filepath.Join(dir, IndexFile)
	weightMap, err := readIndex(c.index)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Op: "open", Path: dir, Err: fmt.Errorf("no %s or %s: %w", ModelFile, IndexFile, fs.ErrNotExist)}
	}
	if err != nil {
		return nil, err
	}
	files := slices.Sorted(maps.Values(weightMap))
	files = slices.Compact(files)
	for _, name := range files {
		if err := c.addShard(filepath.Join(dir, name)); err != nil {
			c.Close()
			var se *Error
			if errors.As(err, &se) && errors.Is(err, fs.ErrNotExist) {
				se.Err = fmt.Errorf("a shard that %s names is missing: %w", IndexFile, se.Err)
			}
			return nil, err
		}
	}
	if err := c.check(weightMap); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// readIndex reads and parses the index file at path.
func readIndex(path string) (map[string]string, error) {
	fail := func(tensor string, err error) error { return &Error{Op: "open", Path: path, Tensor: tensor, Err: err} }
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fail("", pathErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, fail("", pathErr(err))
	}
	if len(b) > maxIndexSize {
		return nil, fail("", fmt.Errorf("index exceeds the limit of %d bytes", maxIndexSize))
	}
	m, err := parseIndex(b)
	if err != nil {
		var te *tensorError
		if errors.As(err, &te) {
			return nil, fail(te.name, te.err)
		}
		return nil, fail("", err)
	}
	return m, nil
}

// addShard opens and validates the file at path and appends it to c.shards, keeping it
// open within the bound of maxOpenShards.
func (c *Checkpoint) addShard(path string) error {
	f, st, err := openFile(path)
	if err != nil {
		return err
	}
	s := &shard{path: path, stat: st, tensors: f.tensors, dataStart: f.dataStart, f: f}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.shards) == 0 {
		c.metadata = f.metadata
	}
	c.shards = append(c.shards, s)
	c.nopen++
	c.tick++
	s.used = c.tick
	c.evict()
	return nil
}

// check builds the union of the shards' tensors and checks it against the weight map:
// each listed tensor in its shard, no tensor in two shards.
func (c *Checkpoint) check(weightMap map[string]string) error {
	var errs []error
	for _, s := range c.shards {
		for i, t := range s.tensors {
			if prev, dup := c.where[t.Name]; dup {
				errs = append(errs, &Error{Op: "open", Path: s.path, Tensor: t.Name,
					Err: fmt.Errorf("the tensor is also in %s", prev.s.path)})
				continue
			}
			c.where[t.Name] = loc{s, i}
			c.tensors = append(c.tensors, t)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(weightMap)) {
		path := filepath.Join(c.dir, weightMap[name])
		l, ok := c.where[name]
		switch {
		case !ok:
			errs = append(errs, &Error{Op: "open", Path: path, Tensor: name,
				Err: fmt.Errorf("%s maps the tensor to this file, which does not have it", IndexFile)})
		case l.s.path != path:
			errs = append(errs, &Error{Op: "open", Path: path, Tensor: name,
				Err: fmt.Errorf("%s maps the tensor to this file, which does not have it; it is in %s", IndexFile, l.s.path)})
		}
	}
	return errors.Join(errs...)
}

// evict closes the least recently used idle shards while more than maxOpenShards are
// open. c.mu must be held.
func (c *Checkpoint) evict() {
	for c.nopen > maxOpenShards {
		var victim *shard
		for _, s := range c.shards {
			if s.f != nil && s.refs == 0 && (victim == nil || s.used < victim.used) {
				victim = s
			}
		}
		if victim == nil {
			return // all in use; release closes them
		}
		victim.f.Close() // a read-only file: nothing to lose
		victim.f = nil
		c.nopen--
	}
}

// acquire returns an open handle of s for one read, reopening the file if it was closed;
// release gives it back.
func (c *Checkpoint) acquire(s *shard, tensor string) (*File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, &Error{Op: "read", Path: s.path, Tensor: tensor, Err: os.ErrClosed}
	}
	if s.f == nil {
		f, st, err := openFile(s.path)
		if err != nil {
			return nil, err
		}
		if !os.SameFile(st, s.stat) || !st.ModTime().Equal(s.stat.ModTime()) || st.Size() != s.stat.Size() ||
			f.dataStart != s.dataStart || !slices.EqualFunc(f.tensors, s.tensors, sameInfo) {
			f.Close()
			return nil, &Error{Op: "read", Path: s.path, Tensor: tensor,
				Err: errors.New("the file was replaced or changed since OpenDir")}
		}
		s.f = f
		c.nopen++
	}
	c.tick++
	s.used = c.tick
	s.refs++
	c.evict()
	return s.f, nil
}

func (c *Checkpoint) release(s *shard) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.refs--
	if s.refs == 0 && c.closed && s.f != nil {
		s.f.Close()
		s.f = nil
		c.nopen--
		return
	}
	c.evict()
}

// sameInfo reports whether two descriptions of a tensor agree.
func sameInfo(a, b TensorInfo) bool {
	return a.Name == b.Name && a.DType == b.DType && a.Offsets == b.Offsets && slices.Equal(a.Shape, b.Shape)
}

// Close closes the files of c. Reads after Close fail; a read under way when Close is
// called completes, and its file is closed after it. Closing twice is harmless.
func (c *Checkpoint) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var errs []error
	for _, s := range c.shards {
		if s.f != nil && s.refs == 0 {
			errs = append(errs, s.f.Close())
			s.f = nil
			c.nopen--
		}
	}
	return errors.Join(errs...)
}

// Dir returns the directory that OpenDir opened.
func (c *Checkpoint) Dir() string { return c.dir }

// Files returns the paths of the safetensors files of c, in the order Tensors lists their
// tensors: model.safetensors alone, or the shards by name.
func (c *Checkpoint) Files() []string {
	out := make([]string, len(c.shards))
	for i, s := range c.shards {
		out[i] = s.path
	}
	return out
}

// Sharded reports whether c was opened through model.safetensors.index.json.
func (c *Checkpoint) Sharded() bool { return c.index != "" }

// Tensors returns the descriptions of all tensors of c: the files in Files order, and
// each file's tensors in file order (by data offset, which is name order in files that
// Write made). Offsets are relative to the data area of the tensor's own file. The slice
// is the caller's to keep.
func (c *Checkpoint) Tensors() []TensorInfo { return cloneInfos(c.tensors) }

// Tensor returns the description of the named tensor, and whether c has it.
func (c *Checkpoint) Tensor(name string) (TensorInfo, bool) {
	l, ok := c.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := l.s.tensors[l.i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Metadata returns a copy of the "__metadata__" pairs of the first file of c (Files
// order), or nil when it has none. save_pretrained writes {"format": "pt"} in every
// shard; the index's own "metadata" (total_size) is not returned.
func (c *Checkpoint) Metadata() map[string]string { return maps.Clone(c.metadata) }

// ReadFloat32 reads the named tensor into dst, from whichever file holds it, as
// File.ReadFloat32 does: F32, F16, BF16 or F64, len(dst) equal to its element count, one
// bounded scratch buffer. Errors name the file.
func (c *Checkpoint) ReadFloat32(name string, dst []float32) error {
	l, ok := c.where[name]
	if !ok {
		return &Error{Op: "read", Path: c.dir, Tensor: name, Err: errors.New("no such tensor in the checkpoint")}
	}
	f, err := c.acquire(l.s, name)
	if err != nil {
		return err
	}
	defer c.release(l.s)
	return f.ReadFloat32(name, dst)
}
