package tokenizer

// GPT-2's byte-level alphabet (bytes_to_unicode in OpenAI's encoder.py): every byte has a printable rune, and
// vocabulary files spell tokens in those runes ("Ġthe" is the bytes " the"). Bytes that are printable Latin-1
// map to themselves; the other 68 map to U+0100 and up, in byte order.

var (
	// byteRune[b] is the rune that spells byte b in vocabulary files.
	byteRune [256]rune
	// runeByte[r] is the byte spelled by rune r, or -1; runes past its end spell no byte.
	runeByte [256 + 68]int16
	// byteOrder lists the bytes in GPT-2's id order (printable first, then the rest), so that a byte's
	// position in it is its id in GPT-2 and in tokenizers that Train makes.
	byteOrder [256]byte
)

func init() {
	for i := range runeByte {
		runeByte[i] = -1
	}
	n, k := 0, 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			byteRune[b] = rune(b)
			byteOrder[k] = byte(b)
			k++
		}
	}
	for b := range 256 {
		if byteRune[b] == 0 {
			byteRune[b] = rune(256 + n)
			byteOrder[k] = byte(b)
			n, k = n+1, k+1
		}
	}
	for b, r := range byteRune {
		runeByte[r] = int16(b)
	}
}

// byteLevel spells raw bytes in the byte-level alphabet, the form vocabulary files use.
func byteLevel(raw string) string {
	buf := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		buf[i] = byteRune[raw[i]]
	}
	return string(buf)
}

// rawBytes reverses byteLevel; ok is false when s has a rune outside the alphabet.
func rawBytes(s string) (raw string, ok bool) {
	buf := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0 || int(r) >= len(runeByte) || runeByte[r] < 0 {
			return "", false
		}
		buf = append(buf, byte(runeByte[r]))
	}
	return string(buf), true
}
