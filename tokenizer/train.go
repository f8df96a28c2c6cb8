package tokenizer

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/internal/heap"
	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// TrainOptions tunes Train. The zero value (or nil) trains with "<|endoftext|>" as the only added token, no
// minimum pair frequency, and no progress output.
type TrainOptions struct {
	// SpecialTokens are added tokens besides "<|endoftext|>", which is always the first (and EOS). Occurrences
	// in the training text are cut out, not learned from.
	SpecialTokens []string
	// MinFrequency stops training when the most frequent pair occurs fewer times than this; 0 or 1 merges
	// every pair that occurs at all.
	MinFrequency int
	// Progress, if not nil, receives a line after reading the files and at the end.
	Progress io.Writer
}

// trainChunk is how much text Train reads at a time.
const trainChunk = 1 << 20

// Train learns a byte-level BPE tokenizer of vocabSize tokens from the text files: GPT-2's pre-tokenizer splits
// the text, and the most frequent adjacent pair of tokens (ties: the smaller pair of ids) is merged, over and over,
// as Hugging Face's BpeTrainer does. Ids are GPT-2's layout: the 256 bytes, then one token per merge, then the
// added tokens, "<|endoftext|>" first. vocabSize counts all of them; it must leave room for at least the bytes
// and added tokens, and the result has fewer tokens when the text runs out of pairs. Files are read in chunks,
// never whole. Save writes the result as tokenizer.json.
func Train(files []string, vocabSize int, opts *TrainOptions) (*BPE, error) {
	if opts == nil {
		opts = &TrainOptions{}
	}
	specials := []string{EndOfText}
	for _, s := range opts.SpecialTokens {
		if s == "" {
			return nil, errors.New("train tokenizer: empty special token")
		}
		if !slices.Contains(specials, s) {
			specials = append(specials, s)
		}
	}
	if minSize := 256 + len(specials); vocabSize < minSize {
		return nil, fmt.Errorf("train tokenizer: vocabulary size %d, want at least %d (bytes and added tokens)",
			vocabSize, minSize)
	}
	counts := make(map[string]int)
	nbytes := 0
	for _, path := range files {
		n, err := countPieces(path, specials, counts, trainChunk)
		if err != nil {
			return nil, fmt.Errorf("train tokenizer: %w", err)
		}
		nbytes += n
	}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "tokenizer: read %d files, %d bytes, %d distinct pieces\n",
			len(files), nbytes, len(counts))
	}
	raw, merges := learnMerges(counts, vocabSize-len(specials), max(1, opts.MinFrequency))

	vocab := make(map[string]int, len(raw)+len(specials))
	for id, r := range raw {
		vocab[pipeline.ByteLevel(r)] = id
	}
	var added []addedToken
	for _, s := range specials {
		if _, ok := vocab[s]; ok {
			return nil, fmt.Errorf("train tokenizer: special token %q is also a learned token", s)
		}
		id := len(raw) + len(added)
		vocab[s] = id
		added = append(added, addedToken{ID: id, Content: s, Special: true})
	}
	named := make([][2]string, len(merges))
	for i, m := range merges {
		named[i] = [2]string{pipeline.ByteLevel(raw[m[0]]), pipeline.ByteLevel(raw[m[1]])}
	}
	t, err := newBPE(vocab, named, added)
	if err != nil { // a bug, not bad input: what Train builds is always valid
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	if opts.Progress != nil {
		fmt.Fprintf(opts.Progress, "tokenizer: %d merges, %d tokens\n", len(merges), t.VocabSize())
	}
	return t, nil
}

// countPieces adds the pre-tokenizer pieces of the file at path to counts, skipping the special tokens, and
// returns how many bytes it read. It reads chunk bytes at a time and cuts each chunk after a newline that a
// letter or digit follows: no piece spans such a place, so the pieces are those of the whole file.
func countPieces(path string, specials []string, counts map[string]int, chunk int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 0, chunk)
	total := 0
	for eof := false; !eof; {
		if cap(buf)-len(buf) < chunk/2 {
			buf = slices.Grow(buf, chunk)
		}
		n, err := io.ReadFull(f, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		total += n
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			eof = true
		case err != nil:
			return total, fmt.Errorf("read %s: %w", path, err)
		}
		text := string(buf)
		cut := len(text)
		if !eof {
			cut = safeCut(text, specials)
			if cut < 0 { // one long line: read more before cutting
				continue
			}
		}
		for seg := range splitSpecial(text, cut, specials) {
			// A segment that ends at a special token ends the text for the pattern's look-ahead, as in
			// EncodeWithSpecial; one that ends at cut sees the text after it, as in the whole file.
			scan := text[:seg[1]]
			if seg[1] == cut {
				scan = text
			}
			for i := seg[0]; i < seg[1]; {
				j := pipeline.GPT2End(scan, i)
				p := text[i:j]
				if c, ok := counts[p]; ok {
					counts[p] = c + 1
				} else {
					counts[strings.Clone(p)] = 1
				}
				i = j
			}
		}
		buf = append(buf[:0], text[cut:]...)
	}
	return total, nil
}

// safeCut returns the last place in text that follows a newline and holds an ASCII letter or digit, or -1. When
// that place is inside a special token, it returns the token's start instead, also a place where the pieces of
// the whole text split.
func safeCut(text string, specials []string) int {
	for i := len(text) - 1; i > 0; i-- {
		if text[i-1] != '\n' {
			continue
		}
		if c := text[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			continue
		}
		for _, s := range specials {
			lo := max(0, i-len(s)+1)
			if j := strings.Index(text[lo:min(len(text), i+len(s)-1)], s); j >= 0 && lo+j < i {
				return lo + j
			}
		}
		return i
	}
	return -1
}

// splitSpecial yields the [start, end) ranges of text[:cut] between occurrences of the special tokens.
func splitSpecial(text string, cut int, specials []string) func(yield func([2]int) bool) {
	return func(yield func([2]int) bool) {
		start := 0
		for start < cut {
			at, size := -1, 0
			for _, s := range specials {
				if i := strings.Index(text[start:cut], s); i >= 0 && (at < 0 || i < at || i == at && len(s) > size) {
					at, size = i, len(s)
				}
			}
			if at < 0 {
				break
			}
			if !yield([2]int{start, start + at}) {
				return
			}
			start += at + size
		}
		yield([2]int{start, cut})
	}
}

// pairCount is a heap entry of learnMerges: a pair and its count when pushed.
type pairCount struct {
	count       int
	left, right int32
}

// before orders the heap of learnMerges: most frequent first; ties: smaller pair first.
func (a pairCount) before(b pairCount) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.left < b.left || a.left == b.left && a.right < b.right
}

// byteOrder lists the bytes in GPT-2's id order, that of the runes that spell them (printable first, then the
// rest), so that a byte's position in it is its id in GPT-2 and in tokenizers that Train makes.
var byteOrder = func() (order [256]byte) {
	for b := range order {
		order[b] = byte(b)
	}
	slices.SortFunc(order[:], func(a, b byte) int { return cmp.Compare(pipeline.ByteRune(a), pipeline.ByteRune(b)) })
	return order
}()

// learnMerges runs BPE training on piece counts until there are size tokens, no pair is left, or the best pair
// occurs fewer than minCount times. It returns each token's bytes (ids 0..255 are the bytes in byteOrder) and the
// merges in order. Two merges can make the same bytes ("ab"+"c" and "a"+"bc"); they share one token, as in
// Hugging Face's trainer.
func learnMerges(counts map[string]int, size, minCount int) (raw []string, merges [][2]int32) {
	var byteID [256]int32
	for id, b := range byteOrder {
		raw = append(raw, string([]byte{b}))
		byteID[b] = int32(id)
	}
	idOf := make(map[string]int32, size)
	for id, r := range raw {
		idOf[r] = int32(id)
	}

	type word struct {
		sym   []int32
		count int
	}
	keys := make([]string, 0, len(counts))
	for p := range counts {
		if len(p) > 1 { // a one-byte piece has no pair
			keys = append(keys, p)
		}
	}
	slices.Sort(keys) // deterministic word order
	words := make([]word, len(keys))
	pairs := make(map[uint64]int)
	where := make(map[uint64][]int32) // pair → words that have (or had) it
	for w, p := range keys {
		sym := make([]int32, len(p))
		for i := 0; i < len(p); i++ {
			sym[i] = byteID[p[i]]
		}
		words[w] = word{sym, counts[p]}
		for i := 0; i+1 < len(sym); i++ {
			k := pairKey(sym[i], sym[i+1])
			pairs[k] += counts[p]
			if ws := where[k]; len(ws) == 0 || ws[len(ws)-1] != int32(w) {
				where[k] = append(ws, int32(w))
			}
		}
	}
	queue := make([]pairCount, 0, len(pairs))
	for k, c := range pairs {
		queue = append(queue, pairCount{c, int32(k >> 32), int32(uint32(k))})
	}
	h := heap.New(queue, pairCount.before)

	seen := make([]int32, len(words)) // seen[w] == merge number + 1 when word w was rewritten for it
	fresh := make(map[uint64]bool)
	for len(raw) < size && h.Len() > 0 {
		top := h.Pop()
		k := pairKey(top.left, top.right)
		if c := pairs[k]; c != top.count { // stale: requeue with the current count
			if c > 0 {
				h.Push(pairCount{c, top.left, top.right})
			}
			continue
		}
		if top.count < minCount {
			break
		}
		s := raw[top.left] + raw[top.right]
		id, ok := idOf[s]
		if !ok {
			id = int32(len(raw))
			raw = append(raw, s)
			idOf[s] = id
		}
		merges = append(merges, [2]int32{top.left, top.right})
		clear(fresh)
		for _, w := range where[k] {
			if seen[w] == int32(len(merges)) {
				continue
			}
			seen[w] = int32(len(merges))
			wd := &words[w]
			for i := 0; i+1 < len(wd.sym); i++ {
				pairs[pairKey(wd.sym[i], wd.sym[i+1])] -= wd.count
			}
			out := wd.sym[:0]
			for i := 0; i < len(wd.sym); i++ {
				if i+1 < len(wd.sym) && wd.sym[i] == top.left && wd.sym[i+1] == top.right {
					out = append(out, id)
					i++
				} else {
					out = append(out, wd.sym[i])
				}
			}
			wd.sym = out
			for i := 0; i+1 < len(out); i++ {
				pk := pairKey(out[i], out[i+1])
				pairs[pk] += wd.count
				if out[i] == id || out[i+1] == id {
					fresh[pk] = true
					if ws := where[pk]; len(ws) == 0 || ws[len(ws)-1] != w {
						where[pk] = append(ws, w)
					}
				}
			}
		}
		delete(where, k)
		for pk := range fresh {
			h.Push(pairCount{pairs[pk], int32(pk >> 32), int32(uint32(pk))})
		}
	}
	return raw, merges
}
