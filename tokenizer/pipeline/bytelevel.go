package pipeline

// GPT-2's byte-level alphabet (bytes_to_unicode in OpenAI's encoder.py): every byte has a printable rune, and
// vocabulary files spell tokens in those runes ("Ġthe" is the bytes " the"). Bytes that are printable Latin-1
// map to themselves; the other 68 map to U+0100 and up, in byte order.

var (
	// byteRune[b] is the rune that spells byte b in vocabulary files.
	byteRune [256]rune
	// runeByte[r] is the byte spelled by rune r, or -1; runes past its end spell no byte.
	runeByte [256 + 68]int16
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			byteRune[b] = rune(b)
		}
	}
	for b := range 256 {
		if byteRune[b] == 0 {
			byteRune[b] = rune(256 + n)
			n++
		}
	}
	for b, r := range byteRune {
		runeByte[r] = int16(b)
	}
}

// ByteRune returns the rune that spells byte b in the byte-level alphabet. Ordered by it, the bytes are in
// GPT-2's id order: the printable ones first, then the rest.
func ByteRune(b byte) rune { return byteRune[b] }

// ByteLevel spells raw bytes in the byte-level alphabet, the form vocabulary files use.
func ByteLevel(raw string) string {
	buf := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		buf[i] = byteRune[raw[i]]
	}
	return string(buf)
}

// RawBytes reverses ByteLevel; ok is false when s has a rune outside the alphabet.
func RawBytes(s string) (raw string, ok bool) {
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return "", false
		}
		buf = append(buf, byte(runeByte[r]))
	}
	return string(buf), true
}
