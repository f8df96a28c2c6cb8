package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// TensorInfo is a tensor of a file that Open read: its name, its shape in PyTorch's order (outermost first, the
// reverse of ggml's ne), its type, and where its data is, from the start of the data section.
type TensorInfo struct {
	Name   string
	Shape  []int
	Type   Type
	Offset int64
}

// Reader is a GGUF file opened for reading: its metadata and tensor infos are parsed, tensors are read on demand.
type Reader struct {
	Version   uint32
	KV        []KV
	Tensors   []TensorInfo
	DataStart int64 // where the data section starts
	Size      int64 // the file's size

	f *os.File
}

// maxCount bounds the counts a header may claim, so that a corrupt file cannot make Open allocate gigabytes.
const maxCount = 1 << 26

// Open reads the header of the GGUF file at path: version 3 (2 is read too), little-endian, every metadata value
// type, tensor infos. Arrays come back as slices of the element's Go type ([]string, []int32, ...). It is an error,
// naming the file, if the file is not GGUF or is cut short, or if a tensor's data lies outside the file.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f}
	if err := r.readHeader(); err != nil {
		f.Close()
		return nil, fmt.Errorf("gguf %s: %w", path, err)
	}
	return r, nil
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// Value returns the value of key, and whether the file has it.
func (r *Reader) Value(key string) (any, bool) {
	for _, kv := range r.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the info of the tensor called name, and whether the file has it.
func (r *Reader) Tensor(name string) (TensorInfo, bool) {
	for _, t := range r.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadFloat32 returns the values of the tensor called name, row-major, converted to float32 (Q8_0 dequantized).
func (r *Reader) ReadFloat32(name string) ([]float32, error) {
	t, ok := r.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("gguf: no tensor %s", name)
	}
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	buf := make([]byte, t.Type.Bytes(n))
	if _, err := r.f.ReadAt(buf, r.DataStart+t.Offset); err != nil {
		return nil, fmt.Errorf("gguf: tensor %s: %w", name, err)
	}
	return decode(buf, t.Type, n), nil
}

// dec reads little-endian values from a stream, keeping the first error.
type dec struct {
	r   io.Reader
	n   int64
	err error
	b   [8]byte
}

func (d *dec) read(n int) []byte {
	if d.err != nil {
		return d.b[:n]
	}
	if _, err := io.ReadFull(d.r, d.b[:n]); err != nil {
		d.err = err
	}
	d.n += int64(n)
	return d.b[:n]
}

func (d *dec) u8() uint8   { return d.read(1)[0] }
func (d *dec) u16() uint16 { return binary.LittleEndian.Uint16(d.read(2)) }
func (d *dec) u32() uint32 { return binary.LittleEndian.Uint32(d.read(4)) }
func (d *dec) u64() uint64 { return binary.LittleEndian.Uint64(d.read(8)) }

func (d *dec) count(what string) int {
	n := d.u64()
	if d.err == nil && n > maxCount {
		d.err = fmt.Errorf("%s count %d is too large", what, n)
	}
	return int(n)
}

func (d *dec) str() string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > 1<<30 {
		d.err = fmt.Errorf("string of %d bytes", n)
		return ""
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = err
	}
	d.n += int64(n)
	return string(b)
}

// value reads a value of type t.
func (d *dec) value(t ValueType) any {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		return int8(d.u8())
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		return int16(d.u16())
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return int32(d.u32())
	case TypeFloat32:
		return math.Float32frombits(d.u32())
	case TypeBool:
		return d.u8() != 0
	case TypeString:
		return d.str()
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return int64(d.u64())
	case TypeFloat64:
		return math.Float64frombits(d.u64())
	case TypeArray:
		et := ValueType(d.u32())
		n := d.count("array")
		if d.err != nil {
			return nil
		}
		return d.array(et, n)
	}
	if d.err == nil {
		d.err = fmt.Errorf("unknown value type %d", t)
	}
	return nil
}

// array reads n values of type et into a slice of their Go type.
func (d *dec) array(et ValueType, n int) any {
	switch et {
	case TypeString:
		return collect[string](d, et, n)
	case TypeInt32:
		return collect[int32](d, et, n)
	case TypeUint32:
		return collect[uint32](d, et, n)
	case TypeFloat32:
		return collect[float32](d, et, n)
	case TypeUint8:
		return collect[uint8](d, et, n)
	case TypeInt8:
		return collect[int8](d, et, n)
	case TypeUint16:
		return collect[uint16](d, et, n)
	case TypeInt16:
		return collect[int16](d, et, n)
	case TypeBool:
		return collect[bool](d, et, n)
	case TypeUint64:
		return collect[uint64](d, et, n)
	case TypeInt64:
		return collect[int64](d, et, n)
	case TypeFloat64:
		return collect[float64](d, et, n)
	}
	if d.err == nil {
		d.err = fmt.Errorf("array of value type %d", et)
	}
	return nil
}

func collect[T any](d *dec, et ValueType, n int) []T {
	out := make([]T, 0, min(n, 1<<16))
	for range n {
		v, _ := d.value(et).(T)
		if d.err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func (r *Reader) readHeader() error {
	st, err := r.f.Stat()
	if err != nil {
		return err
	}
	r.Size = st.Size()
	d := &dec{r: &readerAt{r: r.f}}
	if d.u32() != Magic {
		if d.err != nil {
			return d.err
		}
		return errors.New("not a GGUF file (bad magic)")
	}
	r.Version = d.u32()
	if d.err == nil && r.Version != 2 && r.Version != 3 {
		return fmt.Errorf("version %d, want 3", r.Version)
	}
	nt := d.count("tensor")
	nkv := d.count("key")
	for range nkv {
		if d.err != nil {
			break
		}
		k := d.str()
		v := d.value(ValueType(d.u32()))
		r.KV = append(r.KV, KV{k, v})
	}
	for range nt {
		if d.err != nil {
			break
		}
		t := TensorInfo{Name: d.str()}
		nd := int(d.u32())
		if d.err == nil && (nd < 1 || nd > 4) {
			return fmt.Errorf("tensor %s: %d dimensions", t.Name, nd)
		}
		t.Shape = make([]int, nd)
		for i := nd - 1; i >= 0; i-- {
			t.Shape[i] = int(d.u64())
		}
		t.Type = Type(d.u32())
		t.Offset = int64(d.u64())
		r.Tensors = append(r.Tensors, t)
	}
	if d.err != nil {
		return fmt.Errorf("header: %w", d.err)
	}
	align := int64(Alignment)
	if v, ok := r.Value("general.alignment"); ok {
		a, ok := v.(uint32)
		if !ok || a == 0 || a&(a-1) != 0 {
			return fmt.Errorf("general.alignment = %v, want a power of two (uint32)", v)
		}
		align = int64(a)
	}
	r.DataStart = (d.n + align - 1) / align * align
	for _, t := range r.Tensors {
		n := 1
		for _, s := range t.Shape {
			n *= s
		}
		size := t.Type.Bytes(n)
		if size < 0 {
			return fmt.Errorf("tensor %s: type %v is not supported", t.Name, t.Type)
		}
		if t.Offset%align != 0 || r.DataStart+t.Offset+size > r.Size {
			return fmt.Errorf("tensor %s: data at %d (+%d bytes) lies outside the file of %d bytes or is not aligned",
				t.Name, r.DataStart+t.Offset, size, r.Size)
		}
	}
	return nil
}

// readerAt reads a file from the start, buffered.
type readerAt struct {
	r   io.ReaderAt
	off int64
	buf []byte
	pos int
}

func (ra *readerAt) Read(p []byte) (int, error) {
	if ra.pos == len(ra.buf) {
		if ra.buf == nil {
			ra.buf = make([]byte, 0, 1<<16)
		}
		n, err := ra.r.ReadAt(ra.buf[:cap(ra.buf)], ra.off)
		if n == 0 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		ra.buf, ra.pos = ra.buf[:n], 0
		ra.off += int64(n)
	}
	n := copy(p, ra.buf[ra.pos:])
	ra.pos += n
	return n, nil
}
