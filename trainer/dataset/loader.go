package dataset

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/llmtune/llmtune/transformer"
)

// LoaderConfig says how a Loader turns a Dataset's examples into batches.
type LoaderConfig struct {
	// BatchSize is the number of rows per batch (≥ 1). The last batch of an epoch may
	// have fewer.
	BatchSize int
	// Packing puts several examples into each row of up to MaxSeqLen tokens; without it a
	// row holds one example.
	Packing bool
	// ShuffleBuffer is the size of the bounded shuffle buffer in examples; 0 or 1 keeps
	// the file order.
	ShuffleBuffer int
	// Seed, with the epoch number, seeds the shuffle of each epoch.
	Seed uint64
	// Epochs is how many passes Next makes before io.EOF; 0 repeats the data forever (for
	// a run bounded by max_steps).
	Epochs int
	// MaxExamples, when > 0, uses only the first MaxExamples usable examples of the file
	// (before shuffling), e.g. eval.max_examples.
	MaxExamples int
}

// DataState is the position of a Loader: the epoch, and how many batches of it have been
// returned. A checkpoint saves it (it marshals to JSON as {"epoch":…, "batch":…}) and a
// resumed run passes it to Dataset.Loader to get exactly the batches an uninterrupted
// run would have.
//
// Resume works by replay: everything random in an epoch derives from (seed, epoch), so
// a restored Loader re-reads the epoch from the start of the file, rebuilds the same
// shuffle and packing, and skips Batch batches without building them. That costs one
// tokenizing pass over the part of the epoch already trained on, which is small next to
// training on it, and needs no file offsets or buffer contents in the checkpoint; it
// does need the same data file and loader settings.
type DataState struct {
	Epoch int `json:"epoch"` // 0-based epoch of the next batch
	Batch int `json:"batch"` // batches of that epoch already returned
}

// Stats counts what a Loader did in the current epoch (they restart at each epoch, and a
// restored Loader counts the replayed part too, so they match an uninterrupted run).
type Stats struct {
	Epoch      int // the epoch counted
	Examples   int // examples placed into batches
	Truncated  int // of those, examples longer than max_seq_len, cut to their first max_seq_len tokens
	Dropped    int // examples skipped with no token to learn (empty text, or a prompt filling max_seq_len)
	Batches    int // batches returned (or skipped when restoring)
	Rows       int // rows in those batches
	Tokens     int // real tokens in those rows (padding excluded)
	LossTokens int // targets that count in the loss
	PadTokens  int // padding tokens
}

// Loader iterates over batches of a Dataset, epoch after epoch, reading the file as a
// stream: memory holds the shuffle buffer (at most ShuffleBuffer examples of at most
// MaxSeqLen tokens, 4 bytes each), one batch and one line, whatever the file's size.
//
// Within an epoch, examples pass in file order through a bounded shuffle buffer (each
// output is a uniformly random pick among the buffered examples, replaced by the next one
// read, as tf.data's shuffle), seeded from (Seed, epoch), so every epoch has its own
// order and the same seed gives the same batches.
//
// Each example's targets are its next tokens: target t is ids[t+1]; the target of an
// example's last token is transformer.IgnoreIndex (nothing of the example follows it), as
// is every target that is a prompt token when TrainOnInputs is false, and every padding
// target. The EOS that ends each example is a target and counts in the loss.
//
// Without packing, a row is one example and a batch is as long as its longest example;
// shorter rows are padded with EOS ids whose targets are IgnoreIndex; Positions and
// Segments are nil (positions 0…T−1, one segment per row). With packing, examples are
// placed whole, in order, into rows of at most MaxSeqLen tokens: a row is closed when the
// next example does not fit, and that example starts the next row, so no example is ever
// split across rows (a longer one was truncated first). Positions restart at 0 for each
// example and Segments number the examples of a row 0, 1, …, so attention is
// block-diagonal; padding at the end of a row has segment −1. A packed batch is as long
// as its longest row.
type Loader struct {
	d     *Dataset
	cfg   LoaderConfig
	state DataState
	stats Stats
	ep    *epoch // the epoch being read; nil between epochs
	done  bool   // every epoch has been returned
	err   error  // the error that stopped the Loader
}

// Loader returns an iterator over batches, positioned at state (the zero DataState is the
// start). Restoring a state replays the file up to it (see DataState). The Loader must be
// closed.
func (d *Dataset) Loader(cfg LoaderConfig, state DataState) (*Loader, error) {
	if cfg.BatchSize < 1 {
		return nil, fmt.Errorf("data %s: batch size must be ≥ 1, got %d", d.Path, cfg.BatchSize)
	}
	if state.Epoch < 0 || state.Batch < 0 {
		return nil, fmt.Errorf("data %s: invalid data state %+v", d.Path, state)
	}
	l := &Loader{d: d, cfg: cfg, state: state}
	if cfg.Epochs > 0 && state.Epoch >= cfg.Epochs {
		l.done = true
		return l, nil
	}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

// Next returns the next batch, moving on to the next epoch at the end of one, or io.EOF
// after the last epoch. An error in the data (naming file, line and field) stops the
// Loader.
func (l *Loader) Next() (transformer.Batch, error) {
	for !l.done && l.err == nil {
		if l.ep == nil {
			if l.err = l.open(); l.err != nil {
				break
			}
		}
		rows, err := l.ep.nextRows()
		if err == io.EOF {
			if l.state.Batch == 0 {
				l.err = fmt.Errorf("data %s: no example to train on in epoch %d", l.d.Path, l.state.Epoch)
				break
			}
			l.ep.close()
			l.ep = nil
			l.state = DataState{Epoch: l.state.Epoch + 1}
			l.done = l.cfg.Epochs > 0 && l.state.Epoch >= l.cfg.Epochs
			continue
		}
		if err != nil {
			l.err = err
			break
		}
		l.state.Batch++
		l.count(rows)
		return l.batch(rows), nil
	}
	if l.err != nil {
		return transformer.Batch{}, l.err
	}
	return transformer.Batch{}, io.EOF
}

// State returns the position to save: restoring it yields the batches that Next would
// return from here.
func (l *Loader) State() DataState { return l.state }

// Stats returns the counts of the current epoch so far.
func (l *Loader) Stats() Stats { return l.stats }

// Close releases the file of the current epoch.
func (l *Loader) Close() error {
	if l.ep != nil {
		err := l.ep.close()
		l.ep = nil
		return err
	}
	return nil
}

// ScanEpoch reads a whole epoch as a Loader with cfg would, without building batches,
// and returns its Stats: Batches is the number of batches in the epoch (what a schedule
// needs to know the total steps; with packing it varies a little between epochs, since
// the order changes how examples fill rows).
func (d *Dataset) ScanEpoch(cfg LoaderConfig, epoch int) (Stats, error) {
	cfg.Epochs = 0
	l, err := d.Loader(cfg, DataState{Epoch: epoch})
	if err != nil {
		return Stats{}, err
	}
	defer l.Close()
	if err := l.skip(-1); err != nil {
		return Stats{}, err
	}
	return l.stats, nil
}

// open starts the epoch of l.state and skips the batches it has already returned.
func (l *Loader) open() error {
	rr, err := openRecords(l.d.Path, l.d.txt)
	if err != nil {
		return err
	}
	l.ep = &epoch{d: l.d, cfg: l.cfg, rr: rr, stats: &l.stats}
	if l.cfg.ShuffleBuffer > 1 {
		salt := splitMix64(uint64(l.state.Epoch) ^ 0x5348554646 /* "SHUFF" */)
		l.ep.rng = rand.New(rand.NewPCG(l.cfg.Seed, salt))
	}
	l.stats = Stats{Epoch: l.state.Epoch}
	if err := l.skip(l.state.Batch); err != nil {
		l.Close()
		return err
	}
	return nil
}

// skip consumes n batches of the current epoch without building them, counting them in
// Stats; n < 0 consumes the whole epoch.
func (l *Loader) skip(n int) error {
	for i := 0; n < 0 || i < n; i++ {
		rows, err := l.ep.nextRows()
		if err == io.EOF && n < 0 {
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("data %s: cannot restore data state %+v: epoch %d has only %d batches (did the data or the batch settings change?)",
				l.d.Path, l.state, l.state.Epoch, i)
		}
		if err != nil {
			return err
		}
		l.count(rows)
	}
	return nil
}

// count adds a batch of rows to the stats.
func (l *Loader) count(rows [][]tokens) {
	s := &l.stats
	s.Batches++
	s.Rows += len(rows)
	T := rowsLen(rows)
	for _, row := range rows {
		n := 0
		for _, tk := range row {
			s.Examples++
			if tk.truncated {
				s.Truncated++
			}
			s.LossTokens += tk.lossTokens()
			n += len(tk.ids)
		}
		s.Tokens += n
		s.PadTokens += T - n
	}
}

// batch builds the (B, T) batch of rows, T being the longest row; see Loader.
func (l *Loader) batch(rows [][]tokens) transformer.Batch {
	T := rowsLen(rows)
	eos := l.d.tok.EOS()
	b := transformer.Batch{IDs: make([][]int, len(rows)), Targets: make([][]int, len(rows))}
	if l.cfg.Packing {
		b.Positions = make([][]int, len(rows))
		b.Segments = make([][]int, len(rows))
	}
	for r, row := range rows {
		ids, tgt := make([]int, 0, T), make([]int, 0, T)
		var pos, seg []int
		for s, tk := range row {
			for t, id := range tk.ids {
				ids = append(ids, int(id))
				if tk.trains(t + 1) {
					tgt = append(tgt, int(tk.ids[t+1]))
				} else {
					tgt = append(tgt, transformer.IgnoreIndex)
				}
				if l.cfg.Packing {
					pos = append(pos, t)
					seg = append(seg, s)
				}
			}
		}
		for p := 0; len(ids) < T; p++ {
			ids = append(ids, eos)
			tgt = append(tgt, transformer.IgnoreIndex)
			if l.cfg.Packing {
				pos = append(pos, p)
				seg = append(seg, -1)
			}
		}
		b.IDs[r], b.Targets[r] = ids, tgt
		if l.cfg.Packing {
			b.Positions[r], b.Segments[r] = pos, seg
		}
	}
	return b
}

// rowsLen returns the length of the longest row.
func rowsLen(rows [][]tokens) int {
	T := 0
	for _, row := range rows {
		n := 0
		for _, tk := range row {
			n += len(tk.ids)
		}
		T = max(T, n)
	}
	return T
}

// epoch is one pass over the file: records → examples → tokens → shuffle buffer → rows.
type epoch struct {
	d       *Dataset
	cfg     LoaderConfig
	rr      *records
	rng     *rand.Rand // nil: no shuffling
	buf     []tokens   // the shuffle buffer
	eof     bool       // the file is exhausted (or MaxExamples reached)
	used    int        // usable examples read
	pending *tokens    // packing: the example that did not fit in the last row
	stats   *Stats
}

// close closes the epoch's file.
func (e *epoch) close() error { return e.rr.Close() }

// read returns the next usable example of the file in file order, or io.EOF.
func (e *epoch) read() (tokens, error) {
	for {
		if e.cfg.MaxExamples > 0 && e.used >= e.cfg.MaxExamples {
			return tokens{}, io.EOF
		}
		rec, line, idx, err := e.rr.next()
		if err != nil {
			return tokens{}, err
		}
		if !e.d.split.keep(idx) {
			continue
		}
		ex, err := e.d.parse(rec, line)
		if err != nil {
			return tokens{}, err
		}
		tk, ok := e.d.tokenize(ex)
		if !ok {
			e.stats.Dropped++
			continue
		}
		e.used++
		return tk, nil
	}
}

// next returns the next example out of the shuffle buffer, or io.EOF.
func (e *epoch) next() (tokens, error) {
	size := max(e.cfg.ShuffleBuffer, 1)
	for !e.eof && len(e.buf) < size {
		tk, err := e.read()
		if errors.Is(err, io.EOF) {
			e.eof = true
			break
		}
		if err != nil {
			return tokens{}, err
		}
		e.buf = append(e.buf, tk)
	}
	if len(e.buf) == 0 {
		return tokens{}, io.EOF
	}
	i := 0
	if e.rng != nil {
		i = e.rng.IntN(len(e.buf))
	}
	tk := e.buf[i]
	last := len(e.buf) - 1
	if e.rng != nil {
		e.buf[i] = e.buf[last]
	} else {
		copy(e.buf, e.buf[1:]) // file order; the buffer holds one example
	}
	e.buf[last] = tokens{}
	e.buf = e.buf[:last]
	return tk, nil
}

// nextRows returns up to BatchSize rows, or io.EOF when the epoch has no example left.
func (e *epoch) nextRows() ([][]tokens, error) {
	var rows [][]tokens
	for len(rows) < e.cfg.BatchSize {
		row, err := e.nextRow()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, io.EOF
	}
	return rows, nil
}

// nextRow returns the examples of one row: one without packing, else as many as fit in
// MaxSeqLen tokens, taken in order.
func (e *epoch) nextRow() ([]tokens, error) {
	var row []tokens
	n := 0
	for {
		var tk tokens
		if e.pending != nil {
			tk, e.pending = *e.pending, nil
		} else {
			var err error
			tk, err = e.next()
			if err == io.EOF && len(row) > 0 {
				return row, nil
			}
			if err != nil {
				return nil, err
			}
		}
		if len(row) > 0 && n+len(tk.ids) > e.d.MaxSeqLen {
			e.pending = &tk
			return row, nil
		}
		row = append(row, tk)
		n += len(tk.ids)
		if !e.cfg.Packing || n == e.d.MaxSeqLen {
			return row, nil
		}
	}
}
