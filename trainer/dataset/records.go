package dataset

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/llmtune/llmtune/internal/heap"
)

// records reads a data file record by record: non-blank lines of a .jsonl file, or
// blank-line-separated paragraphs of a .txt file, through a bufio.Reader whose lines are
// limited to MaxLineBytes, so memory stays flat whatever the file's size.
type records struct {
	path  string
	f     *os.File
	r     *bufio.Reader
	txt   bool
	line  int    // lines read so far
	index int    // records returned so far
	buf   []byte // the current line when it spans several buffer fills
	para  []byte // the current paragraph (.txt)
}

// openRecords opens path for reading records.
func openRecords(path string, txt bool) (*records, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &records{path: path, f: f, r: bufio.NewReaderSize(f, 64<<10), txt: txt}, nil
}

// Close closes the file.
func (rr *records) Close() error { return rr.f.Close() }

// next returns the next record (valid until the following call), the line it starts on
// and its index, or io.EOF after the last. A file with no record at all is an error.
func (rr *records) next() (rec []byte, line, index int, err error) {
	if rr.txt {
		rec, line, err = rr.nextParagraph()
	} else {
		for {
			rec, err = rr.readLine()
			if err != nil || len(bytes.TrimSpace(rec)) > 0 {
				break
			}
		}
		line = rr.line
	}
	if err == io.EOF && rr.index == 0 {
		err = fmt.Errorf("%s: empty file: no examples", rr.path)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	rr.index++
	return rec, line, rr.index - 1, nil
}

// nextParagraph returns the next run of non-blank lines joined with "\n".
func (rr *records) nextParagraph() ([]byte, int, error) {
	rr.para = rr.para[:0]
	start := 0
	for {
		l, err := rr.readLine()
		if err == io.EOF && start > 0 {
			return rr.para, start, nil
		}
		if err != nil {
			return nil, 0, err
		}
		if len(bytes.TrimSpace(l)) == 0 {
			if start > 0 {
				return rr.para, start, nil
			}
			continue
		}
		if start == 0 {
			start = rr.line
		} else {
			rr.para = append(rr.para, '\n')
		}
		if len(rr.para)+len(l) > MaxLineBytes {
			return nil, 0, fmt.Errorf("%s:%d: paragraph longer than %d MiB: separate examples with blank lines",
				rr.path, start, MaxLineBytes>>20)
		}
		rr.para = append(rr.para, l...)
	}
}

// readLine returns the next line without its "\n" or "\r\n" (and, on line 1, without a
// UTF-8 byte-order mark), or io.EOF at the end of the file.
func (rr *records) readLine() ([]byte, error) {
	rr.buf = rr.buf[:0]
	var l []byte
	for {
		chunk, err := rr.r.ReadSlice('\n')
		if len(rr.buf)+len(chunk) > MaxLineBytes {
			return nil, fmt.Errorf("%s:%d: line longer than %d MiB", rr.path, rr.line+1, MaxLineBytes>>20)
		}
		if err == bufio.ErrBufferFull {
			rr.buf = append(rr.buf, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", rr.path, err)
		}
		if len(rr.buf) > 0 {
			l = append(rr.buf, chunk...)
			rr.buf = l
		} else {
			l = chunk
		}
		if err == io.EOF && len(l) == 0 {
			return nil, io.EOF
		}
		break
	}
	rr.line++
	l = bytes.TrimSuffix(l, []byte("\n"))
	l = bytes.TrimSuffix(l, []byte("\r"))
	if rr.line == 1 {
		l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf"))
	}
	return l, nil
}

// split says which records of a file belong to a dataset when an evaluation set is held
// out of it: record i is held out when (hash(seed, i), i) ≤ the threshold pair.
type split struct {
	held     *holdout
	keepHeld bool // this dataset is the held-out part
}

// holdout is the threshold: the largest (hash, index) pair among the held-out records.
type holdout struct {
	seed  uint64
	hash  uint64
	index int
}

// keep reports whether record index belongs to the dataset; a nil split keeps all.
func (s *split) keep(index int) bool {
	if s == nil {
		return true
	}
	h := recordHash(s.held.seed, index)
	held := h < s.held.hash || (h == s.held.hash && index <= s.held.index)
	return held == s.keepHeld
}

// newSplit finds the holdout threshold of d's file for val_set_size size (a fraction
// below 1, else a count) and returns the training side's split.
func newSplit(d *Dataset, seed uint64, size float64) (*split, error) {
	count := func(visit func(i int)) (int, error) {
		rr, err := openRecords(d.Path, d.txt)
		if err != nil {
			return 0, err
		}
		defer rr.Close()
		for {
			_, _, i, err := rr.next()
			if err == io.EOF {
				return rr.index, nil
			}
			if err != nil {
				return 0, err
			}
			visit(i)
		}
	}
	n := int(size)
	if size < 1 {
		total, err := count(func(int) {})
		if err != nil {
			return nil, err
		}
		n = int(math.Ceil(size * float64(total)))
	}
	h := heap.New[hashPair](nil, func(a, b hashPair) bool { return b.less(a) }) // max-heap: the root is the largest kept pair
	total, err := count(func(i int) {
		p := hashPair{recordHash(seed, i), i}
		if h.Len() < n {
			h.Push(p)
		} else if p.less(h.Peek()) {
			h.Replace(p)
		}
	})
	if err != nil {
		return nil, err
	}
	if n >= total {
		return nil, fmt.Errorf("data %s: val_set_size %g holds out %d of the %d examples, leaving none to train on", d.Path, size, n, total)
	}
	top := h.Peek()
	return &split{held: &holdout{seed: seed, hash: top.hash, index: top.index}}, nil
}

// recordHash mixes the seed and a record index (SplitMix64).
func recordHash(seed uint64, index int) uint64 {
	return splitMix64(splitMix64(seed) ^ uint64(index))
}

// splitMix64 is the SplitMix64 finaliser (Steele, Lea, Flood 2014).
func splitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// hashPair orders records by hash, then index.
type hashPair struct {
	hash  uint64
	index int
}

// less orders by hash, then index.
func (p hashPair) less(q hashPair) bool {
	return p.hash < q.hash || (p.hash == q.hash && p.index < q.index)
}
