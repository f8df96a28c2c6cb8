package reftest

// ByteTokenizer is a byte-level tokenizer for tests that need exact, readable ids: each
// byte is its own id (0…255) and EOS is 256. It has the methods the trainer, its data
// loader and the generator ask of a tokenizer.
type ByteTokenizer struct{}

// ByteEOS is ByteTokenizer's end-of-sequence id.
const ByteEOS = 256

// Encode returns one id per byte of s.
func (ByteTokenizer) Encode(s string) []int {
	ids := make([]int, len(s))
	for i := range len(s) {
		ids[i] = int(s[i])
	}
	return ids
}

// EOS returns ByteEOS.
func (ByteTokenizer) EOS() int { return ByteEOS }

// Decode returns the bytes of the ids below 256, dropping the others (EOS).
func (ByteTokenizer) Decode(ids []int) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id < ByteEOS {
			b = append(b, byte(id))
		}
	}
	return string(b)
}
