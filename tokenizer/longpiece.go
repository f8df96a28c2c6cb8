package tokenizer

import "github.com/llmtune/llmtune/internal/heap"

// maxQuadratic is the longest piece (in bytes) that appendPiece merges by scanning; longer pieces, such as a run
// of 10,000 spaces or digits, go to appendLongPiece, whose time grows as n log n instead of n².
const maxQuadratic = 64

// encodeState is scratch memory reused across pieces and calls (BPE.states).
type encodeState struct {
	sym   []int32
	rank  []uint64
	node  []node
	cands []pairCand // the buffer of appendLongPiece's heap
}

// node is one symbol of a long piece in a doubly linked list; dead nodes were merged into their left neighbour.
type node struct {
	id         int32
	prev, next int32 // -1 at the ends
	dead       bool
}

// pairCand is a candidate merge of node left with its right neighbour. Ordering by (merge, left) pops the
// lowest rank first and, among equal ranks, the leftmost, as the scan in appendPiece does.
type pairCand struct {
	merge uint64
	left  int32
}

func (c pairCand) less(d pairCand) bool {
	return c.merge < d.merge || c.merge == d.merge && c.left < d.left
}

// appendLongPiece is appendPiece for long pieces: the same merges in the same order, with a heap of candidate
// pairs that are checked when popped (a stale candidate's pair has changed, so its merge no longer matches).
func (t *BPE) appendLongPiece(ids []int, piece string, st *encodeState) []int {
	nodes := st.node[:0]
	for i := 0; i < len(piece); i++ {
		nodes = append(nodes, node{id: t.bytes[piece[i]], prev: int32(i - 1), next: int32(i + 1)})
	}
	nodes[len(nodes)-1].next = -1
	cands := st.cands[:0]
	for i := 0; i+1 < len(nodes); i++ {
		if m := t.merge(nodes[i].id, nodes[i+1].id); m != noMerge {
			cands = append(cands, pairCand{m, int32(i)})
		}
	}
	h := heap.New(cands, pairCand.less)
	for h.Len() > 0 {
		c := h.Pop()
		l := &nodes[c.left]
		if l.dead || l.next < 0 || t.merge(l.id, nodes[l.next].id) != c.merge {
			continue // stale
		}
		r := &nodes[l.next]
		l.id = int32(uint32(c.merge))
		r.dead = true
		l.next = r.next
		if r.next >= 0 {
			nodes[r.next].prev = c.left
			if m := t.merge(l.id, nodes[l.next].id); m != noMerge {
				h.Push(pairCand{m, c.left})
			}
		}
		if l.prev >= 0 {
			if m := t.merge(nodes[l.prev].id, l.id); m != noMerge {
				h.Push(pairCand{m, l.prev})
			}
		}
	}
	for i := int32(0); i >= 0; i = nodes[i].next {
		ids = append(ids, int(nodes[i].id))
	}
	st.node, st.cands = nodes, h.Items()
	return ids
}
