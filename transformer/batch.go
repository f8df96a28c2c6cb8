package transformer

import (
	"errors"
	"fmt"
)

// ErrNoTargets is returned by Loss when every target of a batch is IgnoreIndex.
var ErrNoTargets = errors.New("transformer: batch has no target that counts in the loss")

// Batch is B sequences of T tokens each (every row the same length, 1 ≤ T ≤ MaxPositions).
// Only IDs is required.
type Batch struct {
	IDs [][]int // (B, T) token ids in [0, V)
	// Targets (B, T) is what each position must predict (usually the next id) or
	// IgnoreIndex; needed by Loss. Padding and masked prompt tokens carry IgnoreIndex.
	Targets [][]int
	// Positions (B, T), if not nil, gives each token's position id (restarting at 0 for
	// each example packed into a row); nil means 0…T−1 in every row.
	Positions [][]int
	// Segments (B, T), if not nil, gives each token a segment id: a token then attends only
	// to earlier tokens of its row with the same id (block-diagonal causal mask, so packed
	// examples never see each other). nil means one segment per row.
	Segments [][]int
}

// validate checks the shapes and ranges of the batch against cfg; with targets, Targets
// must be present.
func (b Batch) validate(cfg Config, targets bool) error {
	if len(b.IDs) == 0 || len(b.IDs[0]) == 0 {
		return errors.New("transformer: empty batch")
	}
	T := len(b.IDs[0])
	if T > cfg.MaxPositions {
		return fmt.Errorf("transformer: sequence length %d exceeds n_positions %d", T, cfg.MaxPositions)
	}
	check := func(name string, m [][]int, lo, hi int, allow int) error {
		if m == nil {
			return nil
		}
		if len(m) != len(b.IDs) {
			return fmt.Errorf("transformer: batch has %d rows of ids but %d of %s", len(b.IDs), len(m), name)
		}
		for i, row := range m {
			if len(row) != T {
				return fmt.Errorf("transformer: %s row %d has length %d, want %d", name, i, len(row), T)
			}
			for t, v := range row {
				if (v < lo || v >= hi) && v != allow {
					return fmt.Errorf("transformer: %s[%d][%d] = %d is outside [0, %d)", name, i, t, v, hi)
				}
			}
		}
		return nil
	}
	noAllow := -1 << 62
	if err := check("ids", b.IDs, 0, cfg.VocabSize, noAllow); err != nil {
		return err
	}
	if targets && b.Targets == nil {
		return errors.New("transformer: batch has no targets")
	}
	if err := check("targets", b.Targets, 0, cfg.VocabSize, IgnoreIndex); err != nil {
		return err
	}
	if err := check("positions", b.Positions, 0, cfg.MaxPositions, noAllow); err != nil {
		return err
	}
	return check("segments", b.Segments, -1<<62, 1<<62, noAllow)
}

// flat returns the ids, positions and segment ids (nil when there are none) laid out
// row after row, (B·T).
func (b Batch) flat() (ids, pos, seg []int) {
	T := len(b.IDs[0])
	for i, row := range b.IDs {
		ids = append(ids, row...)
		if b.Positions != nil {
			pos = append(pos, b.Positions[i]...)
		} else {
			for t := range T {
				pos = append(pos, t)
			}
		}
		if b.Segments != nil {
			seg = append(seg, b.Segments[i]...)
		}
	}
	return ids, pos, seg
}

// countTargets returns how many targets are not IgnoreIndex.
func (b Batch) countTargets() int {
	n := 0
	for _, row := range b.Targets {
		for _, v := range row {
			if v != IgnoreIndex {
				n++
			}
		}
	}
	return n
}
