package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dirNames returns the sorted names of the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// llamaTensors returns a small Llama-shaped state dict in parameter order, with values that
// tell the tensors apart.
func llamaTensors(seed uint64) []Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	mk := func(name string, shape ...int) Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		return Tensor{Name: name, Shape: append([]int{}, shape...), Data: data}
	}
	ts := []Tensor{mk("model.embed_tokens.weight", 32, 8)}
	for l := range 2 {
		p := fmt.Sprintf("model.layers.%d.", l)
		ts = append(ts,
			mk(p+"self_attn.q_proj.weight", 8, 8), mk(p+"self_attn.k_proj.weight", 4, 8),
			mk(p+"self_attn.v_proj.weight", 4, 8), mk(p+"self_attn.o_proj.weight", 8, 8),
			mk(p+"mlp.gate_proj.weight", 16, 8), mk(p+"mlp.up_proj.weight", 16, 8),
			mk(p+"mlp.down_proj.weight", 8, 16), mk(p+"input_layernorm.weight", 8),
			mk(p+"post_attention_layernorm.weight", 8))
	}
	return append(ts, mk("model.norm.weight", 8), mk("lm_head.weight", 32, 8), mk("scalar"), mk("empty", 0, 3))
}

// checkCheckpoint opens dir and checks that it holds exactly tensors, stored as dtype, with
// metadata.
func checkCheckpoint(t *testing.T, dir string, tensors []Tensor, metadata map[string]string, dtype DType) *Checkpoint {
	t.Helper()
	c, err := OpenDir(dir)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	assert.Equal(t, metadata, c.Metadata())
	require.Len(t, c.Tensors(), len(tensors))
	for _, tn := range tensors {
		info, ok := c.Tensor(tn.Name)
		if !assert.True(t, ok, tn.Name) {
			continue
		}
		assert.Equal(t, dtype, info.DType, tn.Name)
		assert.Equal(t, tn.Shape, info.Shape, tn.Name)
		got := make([]float32, len(tn.Data))
		require.NoError(t, c.ReadFloat32(tn.Name, got), tn.Name)
		assertFloats(t, converted(tn.Data, dtype), got, tn.Name)
	}
	return c
}

func TestWriteDirRoundTrip(t *testing.T) {
	tensors := llamaTensors(1)
	meta := map[string]string{"format": "pt"}
	for _, dtype := range []DType{F32, F16, BF16} {
		t.Run(string(dtype), func(t *testing.T) {
			// Unsharded: limit 0, and a limit that everything fits in.
			for _, limit := range []int64{0, DefaultMaxShardBytes} {
				dir := t.TempDir()
				require.NoError(t, WriteDir(dir, tensors, meta, dtype, limit))
				assert.Equal(t, []string{ModelFile}, dirNames(t, dir))
				c := checkCheckpoint(t, dir, tensors, meta, dtype)
				assert.False(t, c.Sharded())
				assert.Equal(t, []string{filepath.Join(dir, ModelFile)}, c.Files())
				assert.Equal(t, dir, c.Dir())
			}

			// Sharded: about 1 KiB a shard.
			dir := t.TempDir()
			require.NoError(t, WriteDir(dir, tensors, meta, dtype, 1024))
			c := checkCheckpoint(t, dir, tensors, meta, dtype)
			assert.True(t, c.Sharded())
			files := dirNames(t, dir)
			require.Greater(t, len(files), 2)
			n := len(files) - 1
			var want []string
			for i := range n {
				want = append(want, shardName(i, n))
			}
			assert.Equal(t, append(slices.Clone(want), IndexFile), files)
			var paths []string
			for _, w := range want {
				paths = append(paths, filepath.Join(dir, w))
			}
			assert.Equal(t, paths, c.Files())

			// Tensors: shard by shard, and by name within each, as Write orders them.
			var order []string
			for _, ti := range c.Tensors() {
				order = append(order, ti.Name)
			}
			var wantOrder []string
			for _, p := range paths {
				f, err := Open(p)
				require.NoError(t, err)
				size := int64(0)
				for _, ti := range f.Tensors() {
					wantOrder = append(wantOrder, ti.Name)
					size += ti.Offsets[1] - ti.Offsets[0]
				}
				assert.Equal(t, meta, f.Metadata(), "every shard carries the metadata")
				require.NoError(t, f.Close())
				if p != paths[len(paths)-1] {
					assert.LessOrEqual(t, size, int64(1024), p)
				}
			}
			assert.Equal(t, wantOrder, order)
		})
	}
}

// TestWriteDirIndexBytes pins the index to what Python's json.dumps(index, indent=2,
// sort_keys=True) + "\n" writes (the expected bytes were produced by Python 3.11 from the
// same weight map), and the split to huggingface_hub's.
func TestWriteDirIndexBytes(t *testing.T) {
	odd := "é \"q\"\\\n😀\x7f\x01"
	tensors := []Tensor{
		{Name: "model.embed_tokens.weight", Shape: []int{4, 2}, Data: make([]float32, 8)},              // 32 bytes: shard 1
		{Name: "model.layers.0.self_attn.q_proj.weight", Shape: []int{2, 2}, Data: make([]float32, 4)}, // 16: shard 2
		{Name: "model.layers.0.mlp.down_proj.weight", Shape: []int{2, 2}, Data: make([]float32, 4)},    // 16: shard 2 (32)
		{Name: odd, Shape: []int{1}, Data: []float32{1}},                                               // 4: shard 2 (36)
		{Name: "model.norm.weight", Shape: []int{2}, Data: make([]float32, 2)},                         // 8: shard 3
		{Name: "lm_head.weight", Shape: []int{4, 2}, Data: make([]float32, 8)},                         // 32: shard 3 (40, the limit)
	}
	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, tensors, nil, F32, 40))
	got, err := os.ReadFile(filepath.Join(dir, IndexFile))
	require.NoError(t, err)
	want := `{
  "metadata": {
    "total_parameters": 27,
    "total_size": 108
  },
  "weight_map": {
    "lm_head.weight": "model-00003-of-00003.safetensors",
    "model.embed_tokens.weight": "model-00001-of-00003.safetensors",
    "model.layers.0.mlp.down_proj.weight": "model-00002-of-00003.safetensors",
    "model.layers.0.self_attn.q_proj.weight": "model-00002-of-00003.safetensors",
    "model.norm.weight": "model-00003-of-00003.safetensors",
    "\u00e9 \"q\"\\\n\ud83d\ude00\u007f\u0001": "model-00002-of-00003.safetensors"
  }
}
`
	assert.Equal(t, want, string(got))

	// Standard JSON, which decoders read back to the same names.
	var decoded struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	require.NoError(t, json.Unmarshal(got, &decoded))
	assert.Equal(t, map[string]int64{"total_parameters": 27, "total_size": 108}, decoded.Metadata)
	assert.Equal(t, "model-00002-of-00003.safetensors", decoded.WeightMap[odd])
	m, err := parseIndex(got)
	require.NoError(t, err)
	assert.Equal(t, decoded.WeightMap, m)

	c := checkCheckpoint(t, dir, tensors, nil, F32)
	assert.Nil(t, c.Metadata())
	assert.Len(t, c.Files(), 3)
}

func TestSplitShards(t *testing.T) {
	for _, c := range []struct {
		name  string
		sizes []int64
		max   int64
		want  [][]int
	}{
		// huggingface_hub's docstring: [6GB, 6GB, 2GB, 6GB, 2GB, 2GB] at 10GB.
		{"docstring", []int64{6, 6, 2, 6, 2, 2}, 10, [][]int{{0}, {1, 2}, {3, 4, 5}}},
		{"exactly the limit", []int64{5, 5, 5}, 10, [][]int{{0, 1}, {2}}},
		// A tensor over the limit is a shard of its own at once; the open shard stays open.
		{"oversized in the middle", []int64{2, 20, 3}, 10, [][]int{{1}, {0, 2}}},
		{"oversized first", []int64{20, 3, 9}, 10, [][]int{{0}, {1}, {2}}},
		{"oversized last", []int64{3, 4, 11}, 10, [][]int{{2}, {0, 1}}},
		{"two oversized", []int64{11, 12}, 10, [][]int{{0}, {1}}},
		{"empty tensors", []int64{0, 10, 0, 1}, 10, [][]int{{0, 1, 2}, {3}}},
		{"no limit", []int64{6, 6, 60}, 0, [][]int{{0, 1, 2}}},
		{"no tensors", nil, 10, [][]int{nil}},
	} {
		assert.Equal(t, c.want, splitShards(c.sizes, c.max), c.name)
	}
}

func TestWriteDirTensorOverLimit(t *testing.T) {
	small := func(name string) Tensor { return Tensor{Name: name, Shape: []int{2}, Data: []float32{1, 2}} }
	big := Tensor{Name: "big", Shape: []int{100}, Data: make([]float32, 100)}
	for i := range big.Data {
		big.Data[i] = float32(i)
	}
	tensors := []Tensor{small("a"), big, small("c")}
	dir := t.TempDir()
	require.NoError(t, WriteDir(dir, tensors, nil, BF16, 16)) // big: 200 bytes
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	require.NoError(t, err)
	m, err := parseIndex(b)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"a":   "model-00002-of-00002.safetensors",
		"big": "model-00001-of-00002.safetensors",
		"c":   "model-00002-of-00002.safetensors",
	}, m)
	assert.Contains(t, string(b), `"total_size": 208`)
	checkCheckpoint(t, dir, tensors, nil, BF16)

	// One tensor over the limit and nothing else: one shard, so model.safetensors.
	dir = t.TempDir()
	require.NoError(t, WriteDir(dir, []Tensor{big}, nil, F32, 16))
	assert.Equal(t, []string{ModelFile}, dirNames(t, dir))
}

// shardedFixture writes a hand-made sharded checkpoint: shards maps file names to their
// tensors (nil: a corrupt file), and index is the index file's content.
func shardedFixture(t *testing.T, shards map[string][]string, index string) string {
	t.Helper()
	dir := t.TempDir()
	for file, names := range shards {
		if names == nil { // a corrupt file
			require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte("junk"), 0o644))
			continue
		}
		var ts []Tensor
		for _, n := range names {
			ts = append(ts, Tensor{Name: n, Shape: []int{1}, Data: []float32{float32(len(n))}})
		}
		require.NoError(t, Write(filepath.Join(dir, file), ts, map[string]string{"format": "pt", "file": file}, F32))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFile), []byte(index), 0o644))
	return dir
}

// indexJSON returns an index mapping tensor names to files: pairs name, file, ...
func indexJSON(pairs ...string) string {
	var b strings.Builder
	b.WriteString(`{"metadata": {"total_size": 8}, "weight_map": {`)
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: %q", pairs[i], pairs[i+1])
	}
	b.WriteString("}}")
	return b.String()
}

const (
	s1 = "model-00001-of-00002.safetensors"
	s2 = "model-00002-of-00002.safetensors"
)

func TestOpenDirLenient(t *testing.T) {
	// A tensor in a shard that the index does not list is part of the checkpoint, as in
	// transformers; a shard file the index does not name is not read.
	dir := shardedFixture(t, map[string][]string{
		s1:                                 {"a", "b"},
		s2:                                 {"c", "extra"},
		"model-00001-of-00003.safetensors": {"a", "stale"},
	}, indexJSON("a", s1, "b", s1, "c", s2))
	c, err := OpenDir(dir)
	require.NoError(t, err)
	defer c.Close()
	var names []string
	for _, ti := range c.Tensors() {
		names = append(names, ti.Name)
	}
	assert.Equal(t, []string{"a", "b", "c", "extra"}, names, "shards in name order, each in file order")
	dst := make([]float32, 1)
	require.NoError(t, c.ReadFloat32("extra", dst))
	assert.Equal(t, float32(5), dst[0])
	_, ok := c.Tensor("stale")
	assert.False(t, ok)
	assert.Equal(t, map[string]string{"format": "pt", "file": s1}, c.Metadata(), "the first shard's")
	assert.Equal(t, []string{filepath.Join(dir, s1), filepath.Join(dir, s2)}, c.Files())

	// Members other than weight_map and metadata are ignored; metadata may be absent.
	dir = shardedFixture(t, map[string][]string{s1: {"a"}, s2: {"b"}},
		`{"weight_map": {"b": "`+s2+`", "a": "`+s1+`"}, "format": {"x": [1, 2]}}`+"\n \t")
	c2, err := OpenDir(dir)
	require.NoError(t, err)
	assert.Len(t, c2.Tensors(), 2)
	require.NoError(t, c2.Close())

	// model.safetensors beside an index wins, as in from_pretrained; the index is not
	// read (here it names missing shards).
	dir = shardedFixture(t, map[string][]string{ModelFile: {"only"}}, indexJSON("a", s1))
	c3, err := OpenDir(dir)
	require.NoError(t, err)
	assert.False(t, c3.Sharded())
	_, ok = c3.Tensor("only")
	assert.True(t, ok)
	require.NoError(t, c3.Close())
}

func TestOpenDirErrors(t *testing.T) {
	type fixture struct {
		shards map[string][]string
		index  string
	}
	two := map[string][]string{s1: {"a", "b"}, s2: {"c"}}
	cases := []struct {
		name   string
		fx     fixture
		file   string // the file the (first) error names, relative to the directory
		tensor string
		substr []string
	}{
		{"missing shard", fixture{map[string][]string{s1: {"a"}}, indexJSON("a", s1, "c", s2)},
			s2, "", []string{"a shard that model.safetensors.index.json names is missing", "no such file"}},
		{"tensor absent from its shard", fixture{two, indexJSON("a", s1, "b", s1, "c", s2, "d", s2)},
			s2, "d", []string{"model.safetensors.index.json maps the tensor to this file, which does not have it"}},
		{"tensor in another shard", fixture{map[string][]string{s1: {"a", "b"}, s2: {"c", "d"}}, indexJSON("a", s1, "b", s1, "c", s1, "d", s2)},
			s1, "c", []string{"which does not have it; it is in ", s2}},
		{"tensor in two shards", fixture{map[string][]string{s1: {"a", "b"}, s2: {"b", "c"}}, indexJSON("a", s1, "b", s1, "c", s2)},
			s2, "b", []string{"the tensor is also in ", s1}},
		{"corrupt shard", fixture{map[string][]string{s1: {"a"}, "junk.safetensors": nil}, indexJSON("a", s1, "x", "junk.safetensors")},
			"junk.safetensors", "", []string{"file is 4 bytes, too short"}},
		{"invalid JSON", fixture{two, `{"weight_map": {"a": "` + s1 + `",}}`}, IndexFile, "", []string{"invalid index JSON at byte"}},
		{"truncated JSON", fixture{two, `{"weight_map": {"a": "` + s1}, IndexFile, "a", []string{"invalid index JSON: unexpected end of file"}},
		{"empty file", fixture{two, ``}, IndexFile, "", []string{"invalid index JSON: unexpected end of file"}},
		{"not an object", fixture{two, `["a"]`}, IndexFile, "", []string{"the index is '[', want an object"}},
		{"no weight_map", fixture{two, `{"metadata": {"total_size": 8}}`}, IndexFile, "", []string{`no "weight_map"`}},
		{"empty weight_map", fixture{two, `{"weight_map": {}}`}, IndexFile, "", []string{`"weight_map" is empty`}},
		{"weight_map not an object", fixture{two, `{"weight_map": ["a"]}`}, IndexFile, "", []string{`"weight_map" is '[', want an object`}},
		{"weight_map null", fixture{two, `{"weight_map": null}`}, IndexFile, "", []string{`"weight_map" is null, want an object`}},
		{"metadata not an object", fixture{two, `{"metadata": 5, "weight_map": {"a": "` + s1 + `"}}`}, IndexFile, "", []string{`"metadata" is not a JSON object`}},
		{"value not a string", fixture{two, `{"weight_map": {"a": 1}}`}, IndexFile, "a", []string{"weight_map value 1, want a file name string"}},
		{"value an object", fixture{two, `{"weight_map": {"a": {}}}`}, IndexFile, "a", []string{"weight_map value '{', want a file name string"}},
		{"tensor twice", fixture{two, `{"weight_map": {"a": "` + s1 + `", "a": "` + s2 + `"}}`}, IndexFile, "a", []string{"appears twice"}},
		{"key twice", fixture{two, `{"weight_map": {"a": "` + s1 + `"}, "weight_map": {}}`}, IndexFile, "", []string{`key "weight_map" appears twice`}},
		{"parent path", fixture{two, indexJSON("a", "../x.safetensors")}, IndexFile, "a", []string{"is a path"}},
		{"absolute path", fixture{two, indexJSON("a", "/etc/x.safetensors")}, IndexFile, "a", []string{"is a path"}},
		{"subdirectory", fixture{two, indexJSON("a", "sub/x.safetensors")}, IndexFile, "a", []string{"is a path"}},
		{"backslash", fixture{two, indexJSON("a", `..\x.safetensors`)}, IndexFile, "a", []string{"is a path"}},
		{"not safetensors", fixture{two, indexJSON("a", "pytorch_model-00001-of-00002.bin")}, IndexFile, "a", []string{"does not end in .safetensors"}},
		{"empty file name", fixture{two, indexJSON("a", "")}, IndexFile, "a", []string{"empty shard file name"}},
		{"trailing data", fixture{two, indexJSON("a", s1) + `{}`}, IndexFile, "", []string{"after the index object"}},
		{"invalid UTF-8", fixture{two, "{\"weight_map\": {\"\xff\": \"" + s1 + "\"}}"}, IndexFile, "", []string{"not valid UTF-8"}},
	}
	for _, c := range cases {
		dir := shardedFixture(t, c.fx.shards, c.fx.index)
		_, err := OpenDir(dir)
		if !assert.Errorf(t, err, c.name) {
			continue
		}
		var se *Error
		require.ErrorAs(t, err, &se, c.name)
		assert.Equal(t, "open", se.Op, c.name)
		assert.Equalf(t, filepath.Join(dir, c.file), se.Path, "%s: %v", c.name, err)
		assert.Equalf(t, c.tensor, se.Tensor, "%s: %v", c.name, err)
		for _, s := range c.substr {
			assert.Containsf(t, err.Error(), s, c.name)
		}
	}

	// Several mapping faults are reported together.
	dir := shardedFixture(t, map[string][]string{s1: {"a", "b"}, s2: {"b"}}, indexJSON("a", s1, "b", s1, "x", s2, "y", s1))
	_, err := OpenDir(dir)
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, 3, err.Error())
	assert.Contains(t, err.Error(), "tensor b: the tensor is also in")
	assert.Contains(t, err.Error(), "tensor x: model.safetensors.index.json maps")
	assert.Contains(t, err.Error(), "tensor y: model.safetensors.index.json maps")
}

func TestOpenDirNoCheckpoint(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644))
	_, err := OpenDir(dir)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.EqualError(t, err, "safetensors open "+dir+": no model.safetensors or model.safetensors.index.json: file does not exist")

	_, err = OpenDir(filepath.Join(dir, "missing"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = OpenDir(filepath.Join(dir, "config.json"))
	assert.ErrorContains(t, err, "not a directory")

	// A corrupt model.safetensors is an error, not a reason to try the index.
	require.NoError(t, os.WriteFile(filepath.Join(dir, ModelFile), []byte("junk"), 0o644))
	_, err = OpenDir(dir)
	assert.ErrorContains(t, err, "safetensors open "+filepath.Join(dir, ModelFile)+": file is 4 bytes")
}

func TestCheckpointReadErrors(t *testing.T) {
	dir := t.TempDir()
	tensors := llamaTensors(2)
	require.NoError(t, WriteDir(dir, tensors, nil, F16, 1024))
	c, err := OpenDir(dir)
	require.NoError(t, err)

	err = c.ReadFloat32("nope", nil)
	assert.EqualError(t, err, "safetensors read "+dir+": tensor nope: no such tensor in the checkpoint")
	err = c.ReadFloat32("lm_head.weight", make([]float32, 3))
	assert.ErrorContains(t, err, "safetensors read "+filepath.Join(dir, "model-0000"))
	assert.ErrorContains(t, err, "tensor lm_head.weight: dst has 3 elements, want 256")

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "twice")
	err = c.ReadFloat32("lm_head.weight", make([]float32, 256))
	assert.ErrorIs(t, err, os.ErrClosed)
	assert.ErrorContains(t, err, "safetensors read "+filepath.Join(dir, "model-0000"))
	_, ok := c.Tensor("lm_head.weight")
	assert.True(t, ok, "descriptions stay available")
}

// TestCheckpointOpenFiles reads a many-shard checkpoint with at most two files open,
// from several goroutines, and checks that a shard replaced after OpenDir is refused.
func TestCheckpointOpenFiles(t *testing.T) {
	defer func(n int) { maxOpenShards = n }(maxOpenShards)
	maxOpenShards = 2

	dir := t.TempDir()
	tensors := llamaTensors(3)
	require.NoError(t, WriteDir(dir, tensors, map[string]string{"format": "pt"}, BF16, 700))
	c := checkCheckpoint(t, dir, tensors, map[string]string{"format": "pt"}, BF16)
	require.Greater(t, len(c.Files()), 4)
	assert.LessOrEqual(t, c.nopen, 2)

	var wg sync.WaitGroup
	errs := make(chan error, 8*len(tensors))
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for _, i := range rng.Perm(len(tensors)) {
				tn := tensors[i]
				got := make([]float32, len(tn.Data))
				if err := c.ReadFloat32(tn.Name, got); err != nil {
					errs <- err
					continue
				}
				if !slices.Equal(got, converted(tn.Data, BF16)) {
					errs <- fmt.Errorf("%s: wrong values", tn.Name)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, c.nopen, 2, "idle handles beyond the bound are closed")

	// Close the first shard's handle, as eviction does, and replace the file with one of
	// the same header but other values: reopening it is refused.
	first := c.Files()[0]
	c.mu.Lock()
	if s := c.shards[0]; s.f != nil && s.refs == 0 {
		s.f.Close()
		s.f = nil
		c.nopen--
	}
	c.mu.Unlock()
	f, err := Open(first)
	require.NoError(t, err)
	var same []Tensor
	for _, ti := range f.Tensors() {
		same = append(same, Tensor{Name: ti.Name, Shape: ti.Shape, Data: make([]float32, ti.NumElements())})
	}
	require.NoError(t, f.Close())
	require.NoError(t, Write(first, same, map[string]string{"format": "pt"}, BF16))
	err = c.ReadFloat32(same[0].Name, make([]float32, len(same[0].Data)))
	assert.ErrorContains(t, err, "safetensors read "+first+": tensor "+same[0].Name+": the file was replaced or changed since OpenDir")
}

func TestWriteDirReplaces(t *testing.T) {
	dir := t.TempDir()
	// Files of others, and names that only look like shards, are left alone.
	others := []string{"config.json", "adapter_model.safetensors", "model-1-of-2.safetensors",
		"model-00001-of-00002.bin", "pytorch_model-00001-of-00002.safetensors"}
	for _, name := range others {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644))
	}
	withOthers := func(names ...string) []string { return slices.Sorted(slices.Values(append(names, others...))) }

	a, b, d := llamaTensors(10), llamaTensors(11), llamaTensors(12)
	// single → sharded (3+) → sharded (fewer) → single
	require.NoError(t, WriteDir(dir, a, nil, F32, 0))
	assert.Equal(t, withOthers(ModelFile), dirNames(t, dir))
	checkCheckpoint(t, dir, a, nil, F32)

	require.NoError(t, WriteDir(dir, b, nil, F32, 2048))
	var many []string
	for _, name := range dirNames(t, dir) {
		if isShardName(name) {
			many = append(many, name)
		}
	}
	require.Greater(t, len(many), 2)
	assert.Equal(t, withOthers(append(many, IndexFile)...), dirNames(t, dir), "model.safetensors removed")
	checkCheckpoint(t, dir, b, nil, F32)

	require.NoError(t, WriteDir(dir, d, nil, F32, 4096))
	assert.Equal(t, withOthers(shardName(0, 2), shardName(1, 2), IndexFile), dirNames(t, dir), "old shards removed")
	checkCheckpoint(t, dir, d, nil, F32)

	require.NoError(t, WriteDir(dir, a, map[string]string{"format": "pt"}, BF16, DefaultMaxShardBytes))
	assert.Equal(t, withOthers(ModelFile), dirNames(t, dir), "index and shards removed")
	checkCheckpoint(t, dir, a, map[string]string{"format": "pt"}, BF16)
}

// TestWriteDirInterrupted makes a save fail part way (a directory where it must write a
// file) and checks what OpenDir then finds: the old checkpoint whole, or no checkpoint,
// never a mix.
func TestWriteDirInterrupted(t *testing.T) {
	old, next := llamaTensors(20), llamaTensors(21)
	block := func(t *testing.T, path string) {
		require.NoError(t, os.MkdirAll(filepath.Join(path, "child"), 0o755))
	}

	t.Run("single to sharded", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, WriteDir(dir, old, nil, F32, 0))
		block(t, filepath.Join(dir, shardName(1, 2)))
		assert.Error(t, WriteDir(dir, next, nil, F32, 4096))
		checkCheckpoint(t, dir, old, nil, F32)
	})
	t.Run("sharded to sharded, same names", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, WriteDir(dir, old, nil, F32, 4096))
		require.NoError(t, os.Remove(filepath.Join(dir, shardName(1, 2))))
		block(t, filepath.Join(dir, shardName(1, 2)))
		err := WriteDir(dir, next, nil, F32, 4096)
		assert.ErrorContains(t, err, "safetensors write "+filepath.Join(dir, shardName(1, 2)))
		// Shard 1 is new, shard 2 is missing, and the index is gone: no checkpoint, not a
		// mixed one.
		_, err = OpenDir(dir)
		assert.ErrorIs(t, err, fs.ErrNotExist)
		assert.ErrorContains(t, err, "no model.safetensors or model.safetensors.index.json")
	})
	t.Run("sharded to single", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, WriteDir(dir, old, nil, F16, 1024))
		block(t, filepath.Join(dir, ModelFile))
		assert.Error(t, WriteDir(dir, next, nil, F16, 0))
		checkCheckpoint(t, dir, old, nil, F16)
	})
	t.Run("arguments refused", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, WriteDir(dir, old, nil, F32, 4096))
		before := dirNames(t, dir)
		bad := append(slices.Clone(next), Tensor{Name: "w", Shape: []int{3}})
		err := WriteDir(dir, bad, nil, F32, 4096)
		assert.ErrorContains(t, err, "safetensors write "+dir+": tensor w: shape [3] has 3 elements, Data has 0")
		err = WriteDir(dir, next, nil, F32, -1)
		assert.EqualError(t, err, "safetensors write "+dir+": maxShardBytes -1 is negative")
		err = WriteDir(dir, next, nil, F64, 4096)
		assert.ErrorContains(t, err, `dtype "F64"`)
		assert.Equal(t, before, dirNames(t, dir))
		checkCheckpoint(t, dir, old, nil, F32)
	})
	t.Run("new directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		require.NoError(t, WriteDir(dir, next, nil, F32, 4096))
		checkCheckpoint(t, dir, next, nil, F32)
	})
}

func TestAppendPyString(t *testing.T) {
	// Each expected value is Python's json.dumps of the input.
	for in, want := range map[string]string{
		"":                      `""`,
		"model.layers.0.weight": `"model.layers.0.weight"`,
		"a/b <&> ~":             `"a/b <&> ~"`,
		"\x00\x1f\x7f":          `"\u0000\u001f\u007f"`,
		"\t\n\r\b\f\"\\":        `"\t\n\r\b\f\"\\"`,
		"é中\u2028":              `"\u00e9\u4e2d\u2028"`,
		"😀𝄞":                    `"\ud83d\ude00\ud834\udd1e"`,
		"\uffff\U00010000":      `"\uffff\ud800\udc00"`,
	} {
		got := string(appendPyString(nil, in))
		assert.Equal(t, want, got, "%q", in)
		var back string
		require.NoError(t, json.Unmarshal([]byte(got), &back))
		assert.Equal(t, in, back)
	}
}

func TestIsShardName(t *testing.T) {
	for name, want := range map[string]bool{
		"model-00001-of-00002.safetensors":         true,
		"model-12345-of-99999.safetensors":         true,
		"model.safetensors":                        false,
		"model-0001-of-00002.safetensors":          false,
		"model-00001-of-00002.bin":                 false,
		"model-00001-of-0000a.safetensors":         false,
		"model-00001_of-00002.safetensors":         false,
		"xmodel-00001-of-00002.safetensors":        false,
		"model-00001-of-00002.safetensors.tmp1":    false,
		"pytorch_model-00001-of-00002.safetensors": false,
	} {
		assert.Equal(t, want, isShardName(name), name)
	}
	for i, n := range [][2]int{{0, 2}, {1, 2}, {41, 100}} {
		assert.True(t, isShardName(shardName(n[0], n[1])), i)
	}
	assert.Equal(t, "model-00002-of-00003.safetensors", shardName(1, 3))
}

func TestErrorsAreErrors(t *testing.T) {
	// OpenDir's joined errors still unwrap to *Error.
	dir := shardedFixture(t, map[string][]string{s1: {"a"}}, indexJSON("a", s1, "b", s1))
	_, err := OpenDir(dir)
	var se *Error
	require.True(t, errors.As(err, &se))
	assert.Equal(t, "b", se.Tensor)
}

func TestCheckpointCloseDuringRead(t *testing.T) {
	dir := t.TempDir()
	tensors := llamaTensors(4)
	require.NoError(t, WriteDir(dir, tensors, nil, F32, 0))
	c, err := OpenDir(dir)
	require.NoError(t, err)
	s := c.shards[0]
	f, err := c.acquire(s, "lm_head.weight") // a read under way
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.NotNil(t, s.f, "kept open for the read under way")
	require.NoError(t, f.ReadFloat32("lm_head.weight", make([]float32, 256)))
	c.release(s)
	assert.Nil(t, s.f, "closed when the read is done")
	assert.Zero(t, c.nopen)
	assert.ErrorIs(t, f.ReadFloat32("lm_head.weight", make([]float32, 256)), os.ErrClosed)
}
