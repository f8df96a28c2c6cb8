package transformer

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProjNames(t *testing.T) {
	for _, tt := range []struct {
		p    Proj
		want string
	}{
		{Proj{0, AttnCAttn}, "h.0.attn.c_attn"},
		{Proj{3, AttnCProj}, "h.3.attn.c_proj"},
		{Proj{11, MLPCFc}, "h.11.mlp.c_fc"},
		{Proj{1, MLPCProj}, "h.1.mlp.c_proj"},
		{Proj{0, SelfAttnQProj}, "layers.0.self_attn.q_proj"},
		{Proj{2, SelfAttnKProj}, "layers.2.self_attn.k_proj"},
		{Proj{2, SelfAttnVProj}, "layers.2.self_attn.v_proj"},
		{Proj{2, SelfAttnOProj}, "layers.2.self_attn.o_proj"},
		{Proj{27, MLPGateProj}, "layers.27.mlp.gate_proj"},
		{Proj{5, MLPUpProj}, "layers.5.mlp.up_proj"},
		{Proj{5, MLPDownProj}, "layers.5.mlp.down_proj"},
	} {
		assert.Equal(t, tt.want, tt.p.String(), "Proj%+v.String()", tt.p)
		got, err := ParseProj(tt.want)
		if assert.NoError(t, err, "ParseProj(%q)", tt.want) {
			assert.Equal(t, tt.p, got, "ParseProj(%q)", tt.want)
		}
	}
	assert.Equal(t, "ProjKind(200)", ProjKind(200).String(), "ProjKind(200).String()")
	for k := range numProjKinds {
		assert.NotEmpty(t, projKinds[k].module, "projKinds[%d] has no module name", k)
	}
}

func TestParseProjErrors(t *testing.T) {
	for _, tt := range []struct{ s, want string }{
		{"", "want {blocks}.{layer}.{module}"},
		{"h.3", "want {blocks}.{layer}.{module}"},
		{"h.3.attn.c_atn", `unknown module "attn.c_atn"`},
		{"h.3.c_attn", `unknown module "c_attn"`},
		{"layers.3.attn.c_attn", `module attn.c_attn belongs in blocks "h", not "layers"`},
		{"h.3.self_attn.q_proj", `module self_attn.q_proj belongs in blocks "layers", not "h"`},
		{"h.x.attn.c_attn", `layer: strconv.Atoi: parsing "x": invalid syntax`},
		{"h..attn.c_attn", "layer: strconv.Atoi"},
		{"h.99999999999999999999.attn.c_attn", "value out of range"},
		{"h.-1.attn.c_attn", `layer "-1" is not a block index`},
		{"h.+1.attn.c_attn", `layer "+1" is not a block index`},
		{"h.03.attn.c_attn", `layer "03" is not a block index`},
	} {
		_, err := ParseProj(tt.s)
		if assert.Error(t, err, "ParseProj(%q)", tt.s) {
			assert.ErrorContains(t, err, tt.want, "ParseProj(%q)", tt.s)
			assert.ErrorContains(t, err, "parse projection "+`"`+tt.s+`"`, "ParseProj(%q)", tt.s)
		}
	}
}

func TestModelProjections(t *testing.T) {
	m, err := New(tinyConfig(), nil)
	require.NoError(t, err)
	ps := m.Projections()
	require.Len(t, ps, 2*4)
	var want []string // the projections' weights, in checkpoint order
	for _, p := range m.Params() {
		name, ok := strings.CutSuffix(p.Name, ".weight")
		if _, err := ParseProj(name); ok && err == nil {
			want = append(want, name)
		}
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
		assert.IsType(t, &Conv1D{}, m.Linear(p), "m.Linear(%v)", p)
	}
	assert.Equal(t, want, got, "m.Projections() is not in checkpoint order")
	assert.Equal(t, []ProjKind{AttnCAttn, AttnCProj, MLPCFc, MLPCProj}, m.ProjKinds(), "m.ProjKinds()")
	assert.Same(t, m.Blocks[1].MLP.CFc, m.Linear(Proj{1, MLPCFc}), "m.Linear(h.1.mlp.c_fc)")

	for _, p := range []Proj{{2, AttnCAttn}, {-1, AttnCAttn}, {0, SelfAttnQProj}, {0, ProjKind(200)}} {
		assert.Nil(t, m.Linear(p), "m.Linear(%v)", p)
		assert.Panics(t, func() { m.SetLinear(p, NewConv1D(16, 16)) }, "m.SetLinear(%v, …)", p)
	}
	c := NewConv1D(16, 16)
	m.SetLinear(Proj{0, AttnCProj}, c)
	assert.Same(t, c, m.Blocks[0].Attn.CProj, "m.SetLinear(h.0.attn.c_proj, c) did not put c in the block")
	assert.Same(t, c, m.Linear(Proj{0, AttnCProj}), "m.Linear(h.0.attn.c_proj) after SetLinear")
}
