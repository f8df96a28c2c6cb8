package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// Magic, Version and Alignment are the GGUF constants of gguf-py/gguf/constants.py: the file starts with "GGUF",
// version 3, and each tensor's data starts at a multiple of Alignment from the start of the data section.
const (
	Magic     = 0x46554747 // "GGUF" read as a little-endian uint32
	Version   = 3
	Alignment = 32
	// QuantizationVersion is GGML_QUANT_VERSION, written as general.quantization_version.
	QuantizationVersion = 2
)

// Type is a tensor's data type, ggml's GGMLQuantizationType.
type Type uint32

// The tensor types this package writes and reads.
const (
	F32  Type = 0
	F16  Type = 1
	Q8_0 Type = 8
	BF16 Type = 30
)

// q8Block is the number of values in a Q8_0 block; a block is a float16 scale and that many int8.
const q8Block = 32

func (t Type) String() string {
	switch t {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case Q8_0:
		return "Q8_0"
	case BF16:
		return "BF16"
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// ParseType returns the type named s, in either case ("f16", "Q8_0"), among those this package writes.
func ParseType(s string) (Type, error) {
	for _, t := range []Type{F32, F16, BF16, Q8_0} {
		if equalFold(s, t.String()) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("tensor type %q: want f32, f16, bf16 or q8_0", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// FileType returns the general.file_type of a model whose matrices are of type t (llama.cpp's llama_ftype:
// ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q8_0 7, MOSTLY_BF16 32).
func (t Type) FileType() uint32 {
	switch t {
	case F16:
		return 1
	case Q8_0:
		return 7
	case BF16:
		return 32
	}
	return 0
}

// Bytes returns the size of n values of type t; for Q8_0, n must be a multiple of 32.
func (t Type) Bytes(n int) int64 {
	switch t {
	case F32:
		return 4 * int64(n)
	case F16, BF16:
		return 2 * int64(n)
	case Q8_0:
		return int64(n/q8Block) * (2 + q8Block)
	}
	return -1
}

// ValueType is the type of a metadata value, gguf-py's GGUFValueType.
type ValueType uint32

// The metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// KV is one metadata key and its value. Value is one of uint8, int8, uint16, int16, uint32, int32, float32, bool,
// string, uint64, int64, float64, or a slice of one of them (an array); gguf-py writes Python ints as INT32 in
// arrays (token types) and floats as FLOAT32 (scores), so a key's Go type decides its GGUF type.
type KV struct {
	Key   string
	Value any
}

// Tensor is one tensor to write. Shape is in PyTorch's (row-major) order, outermost first: a [out, in] weight
// has Shape {out, in}; the file stores it reversed, as ggml's ne (ne[0] = in). Data returns the values, row-major,
// when the tensor is written (so that a transformed copy lives only while it is written); it is called once.
type Tensor struct {
	Name  string
	Shape []int
	Type  Type
	Data  func() ([]float32, error)
}

func (t Tensor) numElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// nbytes returns the size of the tensor's data, unpadded.
func (t Tensor) nbytes() int64 { return t.Type.Bytes(t.numElements()) }

// File is a GGUF file to write: metadata in order, then tensors in order, each tensor's data aligned to
// Alignment.
type File struct {
	KV      []KV
	Tensors []Tensor
}

// Add appends a key and its value.
func (f *File) Add(key string, value any) { f.KV = append(f.KV, KV{key, value}) }

// check reports the problems that would make the file invalid: a duplicate key or tensor name, a value of a type
// GGUF cannot hold, an empty array, a tensor of an unknown type or with an empty shape, a Q8_0 tensor whose rows
// are not a multiple of 32.
func (f *File) check() error {
	var errs []error
	keys := map[string]bool{}
	for _, kv := range f.KV {
		if keys[kv.Key] {
			errs = append(errs, fmt.Errorf("gguf: duplicate key %s", kv.Key))
		}
		keys[kv.Key] = true
		if _, _, err := valueType(kv.Value); err != nil {
			errs = append(errs, fmt.Errorf("gguf: key %s: %w", kv.Key, err))
		}
	}
	names := map[string]bool{}
	for _, t := range f.Tensors {
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("gguf: duplicate tensor %s", t.Name))
		}
		names[t.Name] = true
		switch {
		case len(t.Shape) == 0 || len(t.Shape) > 4 || slices.ContainsFunc(t.Shape, func(d int) bool { return d <= 0 }):
			errs = append(errs, fmt.Errorf("gguf: tensor %s: shape %v", t.Name, t.Shape))
		case t.Type.Bytes(1) < 0 && t.Type != Q8_0:
			errs = append(errs, fmt.Errorf("gguf: tensor %s: type %v is not supported", t.Name, t.Type))
		case t.Type == Q8_0 && t.Shape[len(t.Shape)-1]%q8Block != 0:
			errs = append(errs, fmt.Errorf("gguf: tensor %s: Q8_0 needs rows of a multiple of %d values, not %d",
				t.Name, q8Block, t.Shape[len(t.Shape)-1]))
		}
	}
	return errors.Join(errs...)
}

// valueType returns the GGUF type of a metadata value and, for an array, of its elements.
func valueType(v any) (ValueType, ValueType, error) {
	elem := func(v any) (ValueType, bool) {
		switch v.(type) {
		case uint8:
			return TypeUint8, true
		case int8:
			return TypeInt8, true
		case uint16:
			return TypeUint16, true
		case int16:
			return TypeInt16, true
		case uint32:
			return TypeUint32, true
		case int32:
			return TypeInt32, true
		case float32:
			return TypeFloat32, true
		case bool:
			return TypeBool, true
		case string:
			return TypeString, true
		case uint64:
			return TypeUint64, true
		case int64:
			return TypeInt64, true
		case float64:
			return TypeFloat64, true
		}
		return 0, false
	}
	if t, ok := elem(v); ok {
		return t, 0, nil
	}
	var n int
	var et ValueType
	switch a := v.(type) {
	case []uint8:
		n, et = len(a), TypeUint8
	case []int8:
		n, et = len(a), TypeInt8
	case []uint16:
		n, et = len(a), TypeUint16
	case []int16:
		n, et = len(a), TypeInt16
	case []uint32:
		n, et = len(a), TypeUint32
	case []int32:
		n, et = len(a), TypeInt32
	case []float32:
		n, et = len(a), TypeFloat32
	case []bool:
		n, et = len(a), TypeBool
	case []string:
		n, et = len(a), TypeString
	case []uint64:
		n, et = len(a), TypeUint64
	case []int64:
		n, et = len(a), TypeInt64
	case []float64:
		n, et = len(a), TypeFloat64
	default:
		return 0, 0, fmt.Errorf("a value of Go type %T has no GGUF type", v)
	}
	if n == 0 {
		return 0, 0, errors.New("an empty array (gguf-py refuses them)")
	}
	return TypeArray, et, nil
}

// WriteFile writes the file to path atomically (a temporary file in the same directory, fsynced, renamed): a
// failure leaves whatever was at path untouched. The file is checked first; nothing is written if it is invalid.
func (f *File) WriteFile(path string) error {
	if err := f.check(); err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if err := f.write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// Write writes the file to w (see WriteFile).
func (f *File) Write(w io.Writer) error {
	if err := f.check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := f.write(bw); err != nil {
		return err
	}
	return bw.Flush()
}

// enc appends little-endian values.
type enc struct{ b []byte }

func (e *enc) u32(v uint32)      { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *enc) u64(v uint64)      { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *enc) str(s string)      { e.u64(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) pad(n int)         { e.b = append(e.b, make([]byte, n)...) }
func padding(n int64) int64      { return (Alignment - n%Alignment) % Alignment }
func (e *enc) f32(v float32)     { e.u32(math.Float32bits(v)) }
func (e *enc) f64(v float64)     { e.u64(math.Float64bits(v)) }
func (e *enc) u16(v uint16)      { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *enc) boolean(v bool)    { e.b = append(e.b, map[bool]byte{false: 0, true: 1}[v]) }
func (e *enc) vtype(t ValueType) { e.u32(uint32(t)) }

// value appends v (without its type).
func (e *enc) value(v any) {
	switch v := v.(type) {
	case uint8:
		e.b = append(e.b, v)
	case int8:
		e.b = append(e.b, byte(v))
	case uint16:
		e.u16(v)
	case int16:
		e.u16(uint16(v))
	case uint32:
		e.u32(v)
	case int32:
		e.u32(uint32(v))
	case float32:
		e.f32(v)
	case bool:
		e.boolean(v)
	case string:
		e.str(v)
	case uint64:
		e.u64(v)
	case int64:
		e.u64(uint64(v))
	case float64:
		e.f64(v)
	default:
		_, et, _ := valueType(v)
		e.vtype(et)
		rv := sliceValues(v)
		e.u64(uint64(len(rv)))
		for _, x := range rv {
			e.value(x)
		}
	}
}

// sliceValues returns the elements of a slice of one of the value types.
func sliceValues(v any) []any {
	var out []any
	add := func(n int, at func(int) any) {
		out = make([]any, n)
		for i := range n {
			out[i] = at(i)
		}
	}
	switch a := v.(type) {
	case []uint8:
		add(len(a), func(i int) any { return a[i] })
	case []int8:
		add(len(a), func(i int) any { return a[i] })
	case []uint16:
		add(len(a), func(i int) any { return a[i] })
	case []int16:
		add(len(a), func(i int) any { return a[i] })
	case []uint32:
		add(len(a), func(i int) any { return a[i] })
	case []int32:
		add(len(a), func(i int) any { return a[i] })
	case []float32:
		add(len(a), func(i int) any { return a[i] })
	case []bool:
		add(len(a), func(i int) any { return a[i] })
	case []string:
		add(len(a), func(i int) any { return a[i] })
	case []uint64:
		add(len(a), func(i int) any { return a[i] })
	case []int64:
		add(len(a), func(i int) any { return a[i] })
	case []float64:
		add(len(a), func(i int) any { return a[i] })
	}
	return out
}

// header returns everything before the data section: magic, version, counts, metadata, tensor infos, padding.
func (f *File) header() []byte {
	var e enc
	e.u32(Magic)
	e.u32(Version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.KV)))
	for _, kv := range f.KV {
		e.str(kv.Key)
		t, _, _ := valueType(kv.Value)
		e.vtype(t)
		e.value(kv.Value)
	}
	var off int64
	for _, t := range f.Tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Shape)))
		for i := len(t.Shape) - 1; i >= 0; i-- {
			e.u64(uint64(t.Shape[i]))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(off))
		n := t.nbytes()
		off += n + padding(n)
	}
	e.pad(int(padding(int64(len(e.b)))))
	return e.b
}

// Size returns the size of the file Write would write.
func (f *File) Size() int64 {
	n := int64(len(f.header()))
	for _, t := range f.Tensors {
		b := t.nbytes()
		n += b + padding(b)
	}
	return n
}

// write writes the header, then each tensor's data, encoded, padded to Alignment.
func (f *File) write(w io.Writer) error {
	if _, err := w.Write(f.header()); err != nil {
		return err
	}
	var buf []byte
	for _, t := range f.Tensors {
		data, err := t.Data()
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", t.Name, err)
		}
		if len(data) != t.numElements() {
			return fmt.Errorf("gguf: tensor %s: %d values for shape %v", t.Name, len(data), t.Shape)
		}
		buf = encode(buf[:0], data, t.Type)
		buf = append(buf, make([]byte, padding(int64(len(buf))))...)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
