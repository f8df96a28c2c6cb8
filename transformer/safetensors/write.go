package safetensors

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// Tensor is a named float32 tensor for Write: Data holds its elements row-major, and
// len(Data) equals the product of Shape (1 for the scalar shape []).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Write stores tensors and metadata in a safetensors file at path, with every tensor
// converted to dtype: F32, F16 or BF16 (round to nearest even, as Float32ToFloat16 and
// Float32ToBFloat16 describe). The header lists "__metadata__" first (omitted when
// metadata is empty), then the tensors sorted by name, whose data lie contiguously in that
// order; it is padded with spaces to a multiple of 8 bytes, as the reference writer does.
// PEFT writes metadata {"format": "pt"}.
//
// The write is atomic (atomicfile.Write): the data go to a temporary file in path's
// directory, which is fsynced and renamed over path, and the directory is fsynced. On
// error the temporary file is removed and a file already at path is untouched. The new
// file keeps the permissions of the regular file it replaces, or gets 0644 less the
// umask, as with os.WriteFile.
//
// It is an error (every problem is reported, each an *Error) if dtype is not F32, F16 or
// BF16, a name is empty, repeats, is "__metadata__" or is not UTF-8, a dimension is
// negative, len(Data) differs from the shape's element count, or a metadata string is not
// UTF-8.
func Write(path string, tensors []Tensor, metadata map[string]string, dtype DType) error {
	if err := checkWrite(path, tensors, metadata, dtype); err != nil {
		return err
	}
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })
	header := buildHeader(tensors, order, metadata, dtype)

	err := atomicfile.Write(path, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, chunkSize)
		var lenBuf [8]byte
		binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
		if _, err := w.Write(lenBuf[:]); err != nil {
			return err
		}
		if _, err := w.Write(header); err != nil {
			return err
		}
		var scratch []byte
		for _, i := range order {
			if err := encode(w, tensors[i].Data, dtype, &scratch); err != nil {
				return err
			}
		}
		return w.Flush()
	})
	if err != nil {
		return &Error{Op: "write", Path: path, Err: err}
	}
	return nil
}

// checkWrite returns every problem of Write's arguments, joined, or nil.
func checkWrite(path string, tensors []Tensor, metadata map[string]string, dtype DType) error {
	var errs []error
	fail := func(tensor, format string, args ...any) {
		errs = append(errs, &Error{Op: "write", Path: path, Tensor: tensor, Err: fmt.Errorf(format, args...)})
	}
	if !dtype.IsWritable() {
		fail("", "dtype %q: want F32, F16 or BF16", dtype)
	}
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			fail("", "metadata %q: %q: not valid UTF-8", k, v)
		}
	}
	first := make(map[string]int, len(tensors)) // name → index of its first use
	for i, t := range tensors {
		switch j, seen := first[t.Name]; {
		case t.Name == "":
			fail("", "tensors[%d] has an empty name", i)
		case t.Name == metadataKey:
			fail(t.Name, "the name is reserved for the metadata")
		case !utf8.ValidString(t.Name):
			fail(t.Name, "the name is not valid UTF-8")
		case seen:
			fail(t.Name, "the name repeats (tensors[%d] and tensors[%d])", j, i)
		default:
			first[t.Name] = i
		}
		numel := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				fail(t.Name, "shape %v has a negative dimension", t.Shape)
				numel = -1
				break
			}
			if d > 0 && numel > math.MaxInt64/int64(d) {
				fail(t.Name, "shape %v: element count overflows", t.Shape)
				numel = -1
				break
			}
			numel *= int64(d)
		}
		if numel >= 0 && numel != int64(len(t.Data)) {
			fail(t.Name, "shape %v has %d elements, Data has %d", t.Shape, numel, len(t.Data))
		}
	}
	return errors.Join(errs...)
}

// buildHeader returns the JSON header, in the reference writer's spelling and padded with
// spaces to a multiple of 8 bytes.
func buildHeader(tensors []Tensor, order []int, metadata map[string]string, dtype DType) []byte {
	b := []byte{'{'}
	if len(metadata) > 0 {
		b = appendString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range slices.Sorted(maps.Keys(metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, metadata[k])
		}
		b = append(b, '}')
	}
	var off int64
	size := int64(dtype.Size())
	for n, i := range order {
		t := tensors[i]
		if n > 0 || len(metadata) > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendString(b, string(dtype))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		end := off + int64(len(t.Data))*size
		b = fmt.Appendf(b, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendString appends s as a JSON string, escaping as serde_json does: '"', '\\' and the
// control characters below U+0020, nothing else.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// encode writes data to w as little-endian dtype elements, converting through *scratch
// (at most chunkSize bytes, allocated on first use).
func encode(w io.Writer, data []float32, dtype DType, scratch *[]byte) error {
	if len(data) == 0 {
		return nil
	}
	if dtype == F32 && littleEndian {
		_, err := w.Write(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data)))
		return err
	}
	if *scratch == nil {
		*scratch = make([]byte, chunkSize)
	}
	size := dtype.Size()
	per := chunkSize / size
	for len(data) > 0 {
		chunk := data[:min(len(data), per)]
		data = data[len(chunk):]
		b := (*scratch)[:len(chunk)*size]
		switch dtype {
		case F32:
			for i, v := range chunk {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
		case F16:
			for i, v := range chunk {
				binary.LittleEndian.PutUint16(b[2*i:], Float32ToFloat16(v))
			}
		case BF16:
			for i, v := range chunk {
				binary.LittleEndian.PutUint16(b[2*i:], Float32ToBFloat16(v))
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
