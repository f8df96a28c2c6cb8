package safetensors

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// f32 returns the float32 with the given bits.
func f32(bits uint32) float32 { return math.Float32frombits(bits) }

// conversionCases pins Float32ToFloat16 and Float32ToBFloat16 to the bit patterns that
// PyTorch 1.13 produces with tensor.to(torch.float16 / torch.bfloat16), except NaN → BF16,
// where this package follows c10::BFloat16 (0x7fc0) and PyTorch's vectorized path writes
// 0xffff.
var conversionCases = []struct {
	name string
	in   float32
	f16  uint16
	bf16 uint16
}{
	{"0", 0, 0x0000, 0x0000},
	{"-0", f32(0x80000000), 0x8000, 0x8000},
	{"1", 1, 0x3c00, 0x3f80},
	{"-2", -2, 0xc000, 0xc000},
	{"1/3", 1.0 / 3, 0x3555, 0x3eab},
	{"0.1", 0.1, 0x2e66, 0x3dcd},
	{"f16 max 65504", 65504, 0x7bff, 0x4780},
	{"65519 rounds down to f16 max", 65519, 0x7bff, 0x4780},
	{"65520 ties to even: f16 Inf", 65520, 0x7c00, 0x4780},
	{"65536", 65536, 0x7c00, 0x4780},
	{"1e6 overflows f16", 1e6, 0x7c00, 0x4974},
	{"-1e6 overflows f16", -1e6, 0xfc00, 0xc974},
	{"f32 max overflows both", math.MaxFloat32, 0x7c00, 0x7f80},
	{"bf16 max", f32(0x7f7f0000), 0x7c00, 0x7f7f},
	{"bf16 max + half ulp ties to Inf", f32(0x7f7f8000), 0x7c00, 0x7f80},
	{"+Inf", float32(math.Inf(1)), 0x7c00, 0x7f80},
	{"-Inf", float32(math.Inf(-1)), 0xfc00, 0xff80},
	{"NaN", f32(0x7fc00000), 0x7e00, 0x7fc0},
	{"-NaN", f32(0xffc00000), 0xfe00, 0x7fc0},
	{"signaling NaN with low payload", f32(0x7f800001), 0x7e00, 0x7fc0},
	{"f16 smallest subnormal 2^-24", 0x1p-24, 0x0001, 0x3380},
	{"2^-25 ties to even: 0", 0x1p-25, 0x0000, 0x3300},
	{"1.5·2^-25 rounds up", 1.5 * 0x1p-25, 0x0001, 0x3340},
	{"3·2^-25 ties to even: 2", 3 * 0x1p-25, 0x0002, 0x33c0},
	{"5·2^-25 ties to even: 2", 5 * 0x1p-25, 0x0002, 0x3420},
	{"f16 largest subnormal", 1023 * 0x1p-24, 0x03ff, 0x3880},
	{"f16 smallest normal 2^-14", 0x1p-14, 0x0400, 0x3880},
	{"1+2^-11 ties to even (f16)", 1 + 0x1p-11, 0x3c00, 0x3f80},
	{"1+3·2^-11 ties to even (f16)", 1 + 3*0x1p-11, 0x3c02, 0x3f80},
	{"1+2^-8 ties to even (bf16)", 1 + 0x1p-8, 0x3c04, 0x3f80},
	{"1+3·2^-8 ties to even (bf16)", 1 + 3*0x1p-8, 0x3c0c, 0x3f82},
	{"1+2^-8+2^-20 rounds up (bf16)", 1 + 0x1p-8 + 0x1p-20, 0x3c04, 0x3f81},
	{"f32 subnormal 1e-40", f32(0x000116c2), 0x0000, 0x0001},
	{"f32 smallest subnormal", f32(1), 0x0000, 0x0000},
}

func TestFloat32ToFloat16(t *testing.T) {
	for _, c := range conversionCases {
		got := Float32ToFloat16(c.in)
		assert.Equalf(t, c.f16, got, "%s: Float32ToFloat16(%g) = %#04x, want %#04x", c.name, c.in, got, c.f16)
	}
}

func TestFloat32ToBFloat16(t *testing.T) {
	for _, c := range conversionCases {
		got := Float32ToBFloat16(c.in)
		assert.Equalf(t, c.bf16, got, "%s: Float32ToBFloat16(%g) = %#04x, want %#04x", c.name, c.in, got, c.bf16)
	}
}

// float16Value computes the value of binary16 bits h from the definition, in float64.
func float16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * math.Ldexp(mant, -24)
	}
	return sign * math.Ldexp(1+mant/1024, exp-15)
}

func TestFloat16ToFloat32AllValues(t *testing.T) {
	bad := 0
	for i := 0; i <= 0xffff && bad < 10; i++ {
		h := uint16(i)
		got := Float16ToFloat32(h)
		want := float16Value(h)
		if math.IsNaN(want) {
			if !assert.Truef(t, got != got, "Float16ToFloat32(%#04x) = %g, want NaN", h, got) {
				bad++
			}
			// The payload and sign survive.
			assert.Equal(t, uint32(h&0x8000)<<16|0x7f800000|uint32(h&0x3ff)<<13, math.Float32bits(got))
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Errorf("Float16ToFloat32(%#04x) = %g, want %g", h, got, want)
			bad++
		}
		// Every binary16 value is exact in float32, so it converts back to itself.
		if back := Float32ToFloat16(got); back != h {
			t.Errorf("Float32ToFloat16(Float16ToFloat32(%#04x)) = %#04x", h, back)
			bad++
		}
	}
}

func TestBFloat16ToFloat32AllValues(t *testing.T) {
	for i := 0; i <= 0xffff; i++ {
		b := uint16(i)
		got := BFloat16ToFloat32(b)
		require.Equal(t, uint32(b)<<16, math.Float32bits(got))
		if got == got {
			require.Equalf(t, b, Float32ToBFloat16(got), "Float32ToBFloat16(BFloat16ToFloat32(%#04x))", b)
		}
	}
}

// checkMidpoints checks round-to-nearest-even on every pair of neighbouring positive
// finite values lo, hi of a 16-bit format (and their negatives): the midpoint goes to the
// one with an even pattern, and one float32 ulp either side goes to the nearer one.
func checkMidpoints(t *testing.T, name string, toFloat func(uint16) float32, fromFloat func(float32) uint16, maxFinite uint16) {
	t.Helper()
	bad := 0
	for h := uint16(0); h <= maxFinite && bad < 10; h++ {
		lo := float64(toFloat(h))
		var hi float64
		if h < maxFinite {
			hi = float64(toFloat(h + 1))
		} else { // the next value if the exponent range went on; h+1 is +Inf
			hi = lo + (lo - float64(toFloat(h-1)))
		}
		mid := float32((lo + hi) / 2) // exact: 1 bit more than the 16-bit format
		require.Equal(t, (lo+hi)/2, float64(mid))
		even := h
		if h&1 == 1 {
			even = h + 1
		}
		below := math.Nextafter32(mid, 0)
		above := math.Nextafter32(mid, float32(math.Inf(1)))
		for _, c := range []struct {
			in   float32
			want uint16
		}{{mid, even}, {below, h}, {above, h + 1}} {
			if got := fromFloat(c.in); got != c.want {
				t.Errorf("%s: from(%g) = %#04x, want %#04x", name, c.in, got, c.want)
				bad++
			}
			if got := fromFloat(-c.in); got != c.want|0x8000 {
				t.Errorf("%s: from(%g) = %#04x, want %#04x", name, -c.in, got, c.want|0x8000)
				bad++
			}
		}
	}
}

func TestFloat32ToFloat16Midpoints(t *testing.T) {
	// 0x7bff + 1 is 0x7c00, +Inf: the midpoint 65520 and above overflow.
	checkMidpoints(t, "F16", Float16ToFloat32, Float32ToFloat16, 0x7bff)
}

func TestFloat32ToBFloat16Midpoints(t *testing.T) {
	checkMidpoints(t, "BF16", BFloat16ToFloat32, Float32ToBFloat16, 0x7f7f)
}

func TestDTypeSize(t *testing.T) {
	sizes := map[DType]int{
		F64: 8, F32: 4, F16: 2, BF16: 2, F8E5M2: 1, F8E4M3: 1,
		I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
		"F4": 0, "f32": 0, "": 0,
	}
	for d, want := range sizes {
		assert.Equalf(t, want, d.Size(), "DType(%q).Size()", d)
		var got DType
		err := got.UnmarshalText([]byte(d))
		if want == 0 {
			assert.Errorf(t, err, "UnmarshalText(%q)", d)
		} else if assert.NoErrorf(t, err, "UnmarshalText(%q)", d) {
			assert.Equal(t, d, got)
		}
	}
	for _, d := range []DType{F64, F32, F16, BF16} {
		assert.True(t, d.IsFloat32Readable(), d)
	}
	for _, d := range []DType{I64, U8, BOOL, F8E4M3} {
		assert.False(t, d.IsFloat32Readable(), d)
	}
}
