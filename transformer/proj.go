package transformer

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ProjKind is a kind of projection inside a block. GPT-2's blocks have four, the query,
// key and value fused in one; the separate kinds are those of the Llama family (Llama,
// Qwen2), declared so that every projection of a supported model has one name.
type ProjKind uint8

// The projection kinds, each named after its Hugging Face module path inside a block.
const (
	AttnCAttn     ProjKind = iota // attn.c_attn: GPT-2's fused [q | k | v], C → 3C
	AttnCProj                     // attn.c_proj: GPT-2's attention output, C → C
	MLPCFc                        // mlp.c_fc: GPT-2's MLP input, C → Inner
	MLPCProj                      // mlp.c_proj: GPT-2's MLP output, Inner → C
	SelfAttnQProj                 // self_attn.q_proj: Llama's query
	SelfAttnKProj                 // self_attn.k_proj: Llama's key
	SelfAttnVProj                 // self_attn.v_proj: Llama's value
	SelfAttnOProj                 // self_attn.o_proj: Llama's attention output
	MLPGateProj                   // mlp.gate_proj: Llama's MLP gate
	MLPUpProj                     // mlp.up_proj: Llama's MLP input
	MLPDownProj                   // mlp.down_proj: Llama's MLP output
	numProjKinds
)

// projInfo is what names a kind: its module path and its family's list of blocks.
type projInfo struct{ module, blocks string }

// projKinds gives each kind its Hugging Face module path inside a block and the name of
// the list of blocks its family keeps them in (GPT-2's "h", Llama's "layers").
var projKinds = [numProjKinds]projInfo{
	AttnCAttn:     {"attn.c_attn", "h"},
	AttnCProj:     {"attn.c_proj", "h"},
	MLPCFc:        {"mlp.c_fc", "h"},
	MLPCProj:      {"mlp.c_proj", "h"},
	SelfAttnQProj: {"self_attn.q_proj", "layers"},
	SelfAttnKProj: {"self_attn.k_proj", "layers"},
	SelfAttnVProj: {"self_attn.v_proj", "layers"},
	SelfAttnOProj: {"self_attn.o_proj", "layers"},
	MLPGateProj:   {"mlp.gate_proj", "layers"},
	MLPUpProj:     {"mlp.up_proj", "layers"},
	MLPDownProj:   {"mlp.down_proj", "layers"},
}

// gpt2Kinds are the projections of a GPT-2 block, in checkpoint order.
var gpt2Kinds = []ProjKind{AttnCAttn, AttnCProj, MLPCFc, MLPCProj}

// String returns the kind's Hugging Face module path inside a block, e.g. "attn.c_attn",
// or "ProjKind(n)" for a value that is not a kind.
func (k ProjKind) String() string {
	if k >= numProjKinds {
		return fmt.Sprintf("ProjKind(%d)", uint8(k))
	}
	return projKinds[k].module
}

// Proj identifies one projection of a model: a kind in a block.
type Proj struct {
	Layer int      // the block, 0-based
	Kind  ProjKind // which of its projections
}

// String returns the projection's Hugging Face module name inside the base model, by
// which checkpoints and PEFT adapters key its tensors: "h.{Layer}.{Kind}" for GPT-2's
// kinds ("h.3.attn.c_attn"), "layers.{Layer}.{Kind}" for the Llama family's.
func (p Proj) String() string {
	blocks := "?"
	if p.Kind < numProjKinds {
		blocks = projKinds[p.Kind].blocks
	}
	return blocks + "." + strconv.Itoa(p.Layer) + "." + p.Kind.String()
}

// ParseProj returns the projection that Proj.String names as s ("h.3.attn.c_attn"). It
// is an error, quoting s, if s is not such a name exactly: an unknown module, blocks of
// another family than the module's, or a layer that is not a decimal number ≥ 0 without
// sign or leading zeros.
func ParseProj(s string) (Proj, error) {
	blocks, rest, ok := strings.Cut(s, ".")
	layer, module, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return Proj{}, fmt.Errorf("parse projection %q: want {blocks}.{layer}.{module}", s)
	}
	i := slices.IndexFunc(projKinds[:], func(k projInfo) bool { return k.module == module })
	if i < 0 {
		return Proj{}, fmt.Errorf("parse projection %q: unknown module %q", s, module)
	}
	k := ProjKind(i)
	if blocks != projKinds[k].blocks {
		return Proj{}, fmt.Errorf("parse projection %q: module %s belongs in blocks %q, not %q", s, module, projKinds[k].blocks, blocks)
	}
	n, err := strconv.Atoi(layer)
	if err != nil {
		return Proj{}, fmt.Errorf("parse projection %q: layer: %w", s, err)
	}
	if n < 0 || strconv.Itoa(n) != layer {
		return Proj{}, fmt.Errorf("parse projection %q: layer %q is not a block index", s, layer)
	}
	return Proj{Layer: n, Kind: k}, nil
}

// ProjKinds returns the kinds of projection each block of m has, in checkpoint order:
// for GPT-2 attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj; for the Llama family
// self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj.
func (m *Model) ProjKinds() []ProjKind {
	if m.Config.IsLlama() {
		return slices.Clone(llamaKinds)
	}
	return slices.Clone(gpt2Kinds)
}

// Projections returns every projection of m in checkpoint order: block after block, each
// block's in ProjKinds order.
func (m *Model) Projections() []Proj {
	kinds := m.ProjKinds()
	ps := make([]Proj, 0, len(m.Blocks)*len(kinds))
	for i := range m.Blocks {
		for _, k := range kinds {
			ps = append(ps, Proj{Layer: i, Kind: k})
		}
	}
	return ps
}

// Linear returns the projection at p, or nil if m has none there: p.Layer is outside
// [0, NumLayers), or p.Kind is not one of ProjKinds.
func (m *Model) Linear(p Proj) Linear {
	if s := m.slot(p); s != nil {
		return *s
	}
	return nil
}

// SetLinear puts l in the place of the projection at p, so that every pass of m runs l
// there (package lora wraps a projection in an adapter so). l must have the dimensions
// of the projection it replaces; it panics if m has no projection at p.
func (m *Model) SetLinear(p Proj, l Linear) {
	s := m.slot(p)
	if s == nil {
		panic(fmt.Sprintf("transformer: SetLinear: the model has no projection %v", p))
	}
	*s = l
}

// slot returns the field of m holding the projection at p, or nil.
func (m *Model) slot(p Proj) *Linear {
	if p.Layer < 0 || p.Layer >= len(m.Blocks) {
		return nil
	}
	return m.Blocks[p.Layer].slot(p.Kind)
}

// slot returns the field of blk holding the projection of kind k, or nil when blk's
// family has no such projection.
func (blk *Block) slot(k ProjKind) *Linear {
	var s *Linear
	switch k {
	case AttnCAttn:
		s = &blk.Attn.CAttn
	case AttnCProj:
		s = &blk.Attn.CProj
	case MLPCFc:
		s = &blk.MLP.CFc
	case MLPCProj:
		s = &blk.MLP.CProj
	case SelfAttnQProj:
		s = &blk.Attn.Q
	case SelfAttnKProj:
		s = &blk.Attn.K
	case SelfAttnVProj:
		s = &blk.Attn.V
	case SelfAttnOProj:
		s = &blk.Attn.O
	case MLPGateProj:
		s = &blk.MLP.Gate
	case MLPUpProj:
		s = &blk.MLP.Up
	case MLPDownProj:
		s = &blk.MLP.Down
	}
	if s == nil || *s == nil {
		return nil
	}
	return s
}
