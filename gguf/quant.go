package gguf

import (
	"encoding/binary"
	"math"

	"github.com/llmtune/llmtune/transformer"
	"github.com/llmtune/llmtune/transformer/safetensors"
)

// encode appends data in type t to dst. F16 and BF16 round to nearest, ties to even, as numpy's astype(float16)
// and gguf-py's BF16 do; Q8_0 is ggml's quantize_row_q8_0_ref (and gguf-py's bit-exact copy of it): for each block
// of 32 values, d = max|x|/127 stored as float16, then q = round(x/d) (ties away from zero) as int8, the division
// done as a multiplication by 1/d in float32.
func encode(dst []byte, data []float32, t Type) []byte {
	switch t {
	case F32:
		for _, v := range data {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
		}
	case F16:
		for _, v := range data {
			dst = binary.LittleEndian.AppendUint16(dst, safetensors.Float32ToFloat16(v))
		}
	case BF16:
		for _, v := range data {
			dst = binary.LittleEndian.AppendUint16(dst, safetensors.Float32ToBFloat16(v))
		}
	case Q8_0:
		for i := 0; i < len(data); i += q8Block {
			dst = appendQ8Block(dst, data[i:i+q8Block])
		}
	}
	return dst
}

// appendQ8Block appends one Q8_0 block of 32 values: its float16 scale, then its 32 int8 values.
func appendQ8Block(dst []byte, x []float32) []byte {
	var q [q8Block]int8
	dst = binary.LittleEndian.AppendUint16(dst, transformer.QuantizeQ8Block(q[:], x))
	for _, v := range q {
		dst = append(dst, byte(v))
	}
	return dst
}

// decode returns the n values of type t in src (which holds exactly their bytes).
func decode(src []byte, t Type, n int) []float32 {
	out := make([]float32, n)
	switch t {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = safetensors.Float16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = safetensors.BFloat16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
	case Q8_0:
		for b := 0; b < n/q8Block; b++ {
			blk := src[b*(2+q8Block):]
			d := safetensors.Float16ToFloat32(binary.LittleEndian.Uint16(blk))
			for j := range q8Block {
				out[b*q8Block+j] = float32(int8(blk[2+j])) * d
			}
		}
	}
	return out
}
