package tokenizer

import (
	"github.com/llmtune/llmtune/internal/heap"
	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// maxQuadratic is the most symbols that model.appendPiece merges by scanning; longer pieces, such as a run of
// 10,000 spaces or digits, go to mergeLong, whose time grows as n log n instead of n².
const maxQuadratic = 64

// encodeState is scratch memory reused across pieces and calls (BPE.states).
type encodeState struct {
	sym     []int32
	rank    []uint64
	node    []node
	cands   []pairCand       // the buffer of mergeLong's heap
	pieces  pipeline.Scratch // the general pre-tokenizers' pieces
	matches []addedMatch
}

// node is one symbol of a long piece in a doubly linked list; dead nodes were merged into their left neighbour.
type node struct {
	id         int32
	prev, next int32 // -1 at the ends
	dead       bool
}

// pairCand is a candidate merge of node left with its right neighbour. Ordering by (merge, left) pops the
// lowest rank first and, among equal ranks, the leftmost, as the scan in mergeShort does and as Hugging Face's
// heap (rank, then position) does.
type pairCand struct {
	merge uint64
	left  int32
}

func (c pairCand) less(d pairCand) bool {
	return c.merge < d.merge || c.merge == d.merge && c.left < d.left
}

// mergeLong is mergeShort for long pieces: the same merges in the same order, with a heap of candidate pairs
// that are checked when popped (a stale candidate's pair has changed, so its merge no longer matches).
func (m *model) mergeLong(ids []int, st *encodeState) []int {
	nodes := st.node[:0]
	for i, id := range st.sym {
		nodes = append(nodes, node{id: id, prev: int32(i - 1), next: int32(i + 1)})
	}
	nodes[len(nodes)-1].next = -1
	cands := st.cands[:0]
	for i := 0; i+1 < len(nodes); i++ {
		if mg := m.merge(nodes[i].id, nodes[i+1].id); mg != noMerge {
			cands = append(cands, pairCand{mg, int32(i)})
		}
	}
	h := heap.New(cands, pairCand.less)
	for h.Len() > 0 {
		c := h.Pop()
		l := &nodes[c.left]
		if l.dead || l.next < 0 || m.merge(l.id, nodes[l.next].id) != c.merge {
			continue // stale
		}
		r := &nodes[l.next]
		l.id = int32(uint32(c.merge))
		r.dead = true
		l.next = r.next
		if r.next >= 0 {
			nodes[r.next].prev = c.left
			if mg := m.merge(l.id, nodes[l.next].id); mg != noMerge {
				h.Push(pairCand{mg, c.left})
			}
		}
		if l.prev >= 0 {
			if mg := m.merge(nodes[l.prev].id, l.id); mg != noMerge {
				h.Push(pairCand{mg, l.prev})
			}
		}
	}
	for i := int32(0); i >= 0; i = nodes[i].next {
		ids = append(ids, int(nodes[i].id))
	}
	st.node, st.cands = nodes, h.Items()
	return ids
}

// appendShortPiece and appendLongPiece merge the bytes of a byte-level piece (of at least two bytes) with the scan
// and with the heap, for the tests that check that the two agree.
func (m *model) appendShortPiece(ids []int, piece string, st *encodeState) []int {
	st.sym = m.byteSymbols(st.sym[:0], piece)
	return m.mergeShort(ids, st)
}

func (m *model) appendLongPiece(ids []int, piece string, st *encodeState) []int {
	st.sym = m.byteSymbols(st.sym[:0], piece)
	return m.mergeLong(ids, st)
}

func (m *model) byteSymbols(sym []int32, piece string) []int32 {
	for i := 0; i < len(piece); i++ {
		sym = append(sym, m.bytes[piece[i]])
	}
	return sym
}
