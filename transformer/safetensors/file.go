package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"unicode/utf8"
	"unsafe"

	"github.com/llmtune/llmtune/internal/half"
)

const (
	// maxHeaderSize is the reference implementation's limit on the JSON header, in bytes.
	maxHeaderSize = 100_000_000
	// chunkSize bounds the scratch buffer of ReadFloat32 and Write, in bytes.
	chunkSize = 1 << 20
	// metadataKey is the header key of the free-form string→string metadata.
	metadataKey = "__metadata__"
)

// littleEndian reports whether the host stores numbers little-endian, as the format does;
// only then may F32 data move between a file and a []float32 without conversion.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// TensorInfo describes one tensor of a file, as its header declares it.
type TensorInfo struct {
	Name    string
	DType   DType
	Shape   []int    // row-major; [] for a scalar
	Offsets [2]int64 // byte range [begin, end) of the data, relative to the data area
}

// NumElements returns the product of the dimensions of t.Shape (1 for a scalar). For a
// TensorInfo from a File it cannot overflow: Open checked it.
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is an open safetensors file whose header has been read and validated; tensor data
// is read on demand. A File is safe for concurrent use by several goroutines, except
// Close.
type File struct {
	path      string
	r         io.ReaderAt
	closer    io.Closer // nil when the caller owns r
	dataStart int64     // file offset of the data area: 8 + header length
	tensors   []TensorInfo
	index     map[string]int
	metadata  map[string]string
}

// Open opens the safetensors file at path and reads and validates its header (see the
// package documentation for the rules); it reads no tensor data. Every error is an
// *Error; a missing file matches fs.ErrNotExist.
func Open(path string) (*File, error) {
	f, _, err := openFile(path)
	return f, err
}

// openFile is Open, also returning the status of the file it opened (OpenDir compares it
// when it reopens a shard).
func openFile(path string) (*File, fs.FileInfo, error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, nil, &Error{Op: "open", Path: path, Err: pathErr(err)}
	}
	st, err := osf.Stat()
	if err == nil && st.IsDir() {
		err = errors.New("is a directory")
	}
	if err != nil {
		osf.Close()
		return nil, nil, &Error{Op: "open", Path: path, Err: err}
	}
	f, err := newFile(path, osf, st.Size())
	if err != nil {
		osf.Close()
		return nil, nil, err
	}
	f.closer = osf
	return f, st, nil
}

// pathErr strips the *fs.PathError from an os error, whose path an *Error already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// newFile reads and validates the header of the size-byte safetensors file r, calling it
// path in errors.
func newFile(path string, r io.ReaderAt, size int64) (*File, error) {
	f := &File{path: path, r: r}
	fail := func(tensor, format string, args ...any) (*File, error) {
		return nil, &Error{Op: "open", Path: path, Tensor: tensor, Err: fmt.Errorf(format, args...)}
	}
	if size < 8 {
		return fail("", "file is %d bytes, too short for the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if err := f.readAt(lenBuf[:], 0); err != nil {
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > uint64(size-8) {
		return fail("", "header length %d exceeds file size %d", n, size)
	}
	if n > maxHeaderSize {
		return fail("", "header length %d exceeds the limit of %d bytes", n, maxHeaderSize)
	}
	header := make([]byte, n)
	if err := f.readAt(header, 8); err != nil {
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	f.dataStart = 8 + int64(n)

	tensors, metadata, err := parseHeader(header)
	if err != nil {
		var te *tensorError
		if errors.As(err, &te) {
			return nil, &Error{Op: "open", Path: path, Tensor: te.name, Err: te.err}
		}
		return nil, &Error{Op: "open", Path: path, Err: err}
	}

	// Sort by offsets (name breaks ties between empty tensors) and check that the byte
	// ranges tile the data area exactly: no overlap, no gap, nothing after the last.
	slices.SortFunc(tensors, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Offsets[0], b.Offsets[0]),
			cmp.Compare(a.Offsets[1], b.Offsets[1]), cmp.Compare(a.Name, b.Name))
	})
	var end int64
	for i, t := range tensors {
		if begin := t.Offsets[0]; begin != end {
			if i == 0 {
				return fail(t.Name, "data_offsets %s begin at %d, want 0: a gap of %d bytes at the start of the data area",
					fmtOffsets(t.Offsets), begin, begin)
			}
			prev := tensors[i-1]
			if begin < end {
				return fail(t.Name, "data_offsets %s overlap tensor %s at %s", fmtOffsets(t.Offsets), displayName(prev.Name), fmtOffsets(prev.Offsets))
			}
			return fail(t.Name, "data_offsets %s begin at %d, want %d: a gap of %d bytes after tensor %s at %s",
				fmtOffsets(t.Offsets), begin, end, begin-end, displayName(prev.Name), fmtOffsets(prev.Offsets))
		}
		end = t.Offsets[1]
	}
	if want := f.dataStart + end; size < want {
		return fail("", "truncated: file is %d bytes, want %d (8 + %d header + %d data)", size, want, n, end)
	} else if size > want {
		return fail("", "file is %d bytes, want %d (8 + %d header + %d data): %d stray bytes after the last tensor",
			size, want, n, end, size-want)
	}

	f.tensors = tensors
	f.metadata = metadata
	f.index = make(map[string]int, len(tensors))
	for i, t := range tensors {
		f.index[t.Name] = i
	}
	return f, nil
}

// tensorError is a header fault of one tensor, before the file's path is known.
type tensorError struct {
	name string
	err  error
}

func (e *tensorError) Error() string { return "tensor " + displayName(e.name) + ": " + e.err.Error() }

// parseHeader decodes and checks the JSON header: one object whose keys are tensor names
// (each once) and, optionally, "__metadata__". It checks each tensor on its own (dtype,
// shape, offsets, size); the caller checks how the tensors tile the data area.
func parseHeader(header []byte) ([]TensorInfo, map[string]string, error) {
	if !utf8.Valid(header) {
		return nil, nil, errors.New("invalid header JSON: not valid UTF-8")
	}
	if len(header) == 0 || header[0] != '{' {
		return nil, nil, errors.New("invalid header JSON: does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if _, err := dec.Token(); err != nil { // the '{' checked above
		return nil, nil, jsonError(err)
	}
	var (
		tensors  []TensorInfo
		metadata map[string]string
		seen     = make(map[string]bool)
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, jsonError(err)
		}
		name := tok.(string) // the decoder returns object keys as strings
		if seen[name] {
			return nil, nil, &tensorError{name, errors.New("invalid header JSON: key appears twice")}
		}
		seen[name] = true
		if name == metadataKey {
			if err := dec.Decode(&metadata); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", metadataKey, jsonError(err))
			}
			continue
		}
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, &tensorError{name, jsonError(err)}
		}
		t, err := parseTensor(name, raw)
		if err != nil {
			return nil, nil, &tensorError{name, err}
		}
		tensors = append(tensors, t)
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, nil, jsonError(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jsonError(err)
		}
		return nil, nil, fmt.Errorf("invalid header JSON: %s after the header object, want only spaces", tokenString(tok))
	}
	return tensors, metadata, nil
}

// parseTensor checks one header entry: {"dtype": "F32", "shape": [..], "data_offsets":
// [begin, end]}, with end - begin = numel·dtype size. Unknown fields are ignored, as the
// reference implementation does.
func parseTensor(name string, raw map[string]json.RawMessage) (TensorInfo, error) {
	t := TensorInfo{Name: name}
	if raw == nil {
		return t, errors.New("invalid header JSON: entry is null, want an object")
	}
	var (
		dtype   *string
		shape   *[]int64
		offsets *[]int64
	)
	for _, f := range []struct {
		key string
		dst any
	}{{"dtype", &dtype}, {"shape", &shape}, {"data_offsets", &offsets}} {
		msg, ok := raw[f.key]
		if !ok {
			return t, fmt.Errorf("missing %q", f.key)
		}
		if err := json.Unmarshal(msg, f.dst); err != nil {
			return t, fmt.Errorf("invalid %q: %w", f.key, err)
		}
	}
	if dtype == nil || shape == nil || offsets == nil {
		return t, errors.New(`"dtype", "shape" and "data_offsets" must not be null`)
	}

	t.DType = DType(*dtype)
	size := int64(t.DType.Size())
	if size == 0 {
		return t, fmt.Errorf("unknown dtype %q", *dtype)
	}
	numel := int64(1)
	t.Shape = make([]int, len(*shape))
	for i, d := range *shape {
		if d < 0 {
			return t, fmt.Errorf("shape %v has a negative dimension", *shape)
		}
		if d > 0 && numel > math.MaxInt64/d {
			return t, fmt.Errorf("shape %v: element count overflows", *shape)
		}
		numel *= d
		t.Shape[i] = int(d)
	}
	if numel > math.MaxInt64/size || numel > math.MaxInt {
		return t, fmt.Errorf("shape %v: byte size overflows", *shape)
	}
	if len(*offsets) != 2 {
		return t, fmt.Errorf("data_offsets %v has %d numbers, want 2", *offsets, len(*offsets))
	}
	t.Offsets = [2]int64{(*offsets)[0], (*offsets)[1]}
	if t.Offsets[0] < 0 || t.Offsets[1] < t.Offsets[0] {
		return t, fmt.Errorf("data_offsets %s: want 0 <= begin <= end", fmtOffsets(t.Offsets))
	}
	if got, want := t.Offsets[1]-t.Offsets[0], numel*size; got != want {
		return t, fmt.Errorf("data_offsets %s give %d bytes, want %d for %s %v", fmtOffsets(t.Offsets), got, want, t.DType, t.Shape)
	}
	return t, nil
}

// jsonError describes a JSON decoding error, with its byte position in the header when
// known.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid header JSON at byte %d: %w", se.Offset, err)
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("invalid header JSON: unexpected end of header")
	}
	return fmt.Errorf("invalid header JSON: %w", err)
}

// fmtOffsets formats data_offsets as the header spells them.
func fmtOffsets(o [2]int64) string { return fmt.Sprintf("[%d,%d]", o[0], o[1]) }

// readAt fills b from file offset off; a short read is a truncated file.
func (f *File) readAt(b []byte, off int64) error {
	n, err := f.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("truncated: read %d of %d bytes at offset %d: %w", n, len(b), off, io.ErrUnexpectedEOF)
	}
	return err
}

// Close closes the file. Reads after Close fail.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	if err := f.closer.Close(); err != nil {
		return &Error{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// Tensors returns the descriptions of all tensors in file order (by data offset), which is
// name order for files that Write made. The slice is the caller's to keep.
func (f *File) Tensors() []TensorInfo { return cloneInfos(f.tensors) }

// cloneInfos returns a copy of ts whose shapes the caller may change.
func cloneInfos(ts []TensorInfo) []TensorInfo {
	out := make([]TensorInfo, len(ts))
	for i, t := range ts {
		t.Shape = slices.Clone(t.Shape)
		out[i] = t
	}
	return out
}

// Tensor returns the description of the named tensor, and whether the file has it.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Metadata returns a copy of the header's "__metadata__" pairs, or nil when it has none.
// PEFT and safetensors' Python writer put {"format": "pt"} there.
func (f *File) Metadata() map[string]string {
	return maps.Clone(f.metadata)
}

// lookup returns the named tensor or an *Error for operation op.
func (f *File) lookup(op, name string) (TensorInfo, error) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, &Error{Op: op, Path: f.path, Tensor: name, Err: errors.New("no such tensor in the file")}
	}
	return f.tensors[i], nil
}

// Reader returns a reader over the raw bytes of the named tensor (row-major,
// little-endian, t.DType elements), for dtypes that ReadFloat32 does not convert.
func (f *File) Reader(name string) (*io.SectionReader, error) {
	t, err := f.lookup("read", name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, f.dataStart+t.Offsets[0], t.Offsets[1]-t.Offsets[0]), nil
}

// ReadFloat32 reads the named F32, F16, BF16 or F64 tensor into dst, which must have
// exactly NumElements elements, converting to float32 (F64 rounds to nearest). F32 data
// is read straight into dst's memory on little-endian hosts; other dtypes go through a
// scratch buffer of at most 1 MiB, so the caller's dst is the only full-size copy. On
// error dst may be partly written.
func (f *File) ReadFloat32(name string, dst []float32) error {
	t, err := f.lookup("read", name)
	if err != nil {
		return err
	}
	fail := func(err error) error { return &Error{Op: "read", Path: f.path, Tensor: name, Err: err} }
	if !t.DType.IsFloat32Readable() {
		return fail(fmt.Errorf("dtype %s cannot be read as float32", t.DType))
	}
	n := t.NumElements()
	if len(dst) != n {
		return fail(fmt.Errorf("dst has %d elements, want %d for %s %v", len(dst), n, t.DType, t.Shape))
	}
	if n == 0 {
		return nil
	}
	off := f.dataStart + t.Offsets[0]
	if t.DType == F32 && littleEndian {
		b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*n)
		if err := f.readAt(b, off); err != nil {
			return fail(err)
		}
		return nil
	}
	size := t.DType.Size()
	per := chunkSize / size // elements per chunk
	buf := make([]byte, min(n, per)*size)
	for done := 0; done < n; {
		k := min(n-done, per)
		b := buf[:k*size]
		if err := f.readAt(b, off+int64(done)*int64(size)); err != nil {
			return fail(err)
		}
		decode(dst[done:done+k], b, t.DType)
		done += k
	}
	return nil
}

// decode converts the little-endian elements of src, of dtype d, to float32 in dst;
// len(src) = len(dst)·d.Size().
func decode(dst []float32, src []byte, d DType) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range dst {
			if h := binary.LittleEndian.Uint16(src[2*i:]); half.IsNormal(h) {
				dst[i] = math.Float32frombits(half.NormalBits(h))
			} else {
				dst[i] = half.Special(h)
			}
		}
	case BF16:
		for i := range dst {
			dst[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}
}
