package tokenizer

import (
	"fmt"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// The post-processor of tokenizer.json ("post_processor"), for EncodeForModel: Hugging Face's
// encode(text, add_special_tokens=True) puts the template's special tokens around the ids of a single text.
// TemplateProcessing's single template, BertProcessing's and RobertaProcessing's [cls] $A [sep], and Sequence are
// read; ByteLevel changes only offsets, which this package does not compute.

// template is the special tokens a post-processor puts before and after the ids of a text.
type template struct {
	before, after []int
}

// wrap returns the template of this one applied after inner (a Sequence of processors).
func (t template) wrap(inner template) template {
	return template{append(append([]int(nil), t.before...), inner.before...),
		append(append([]int(nil), inner.after...), t.after...)}
}

// buildPostProcessor returns the special tokens that the post-processor c puts around a single text.
func buildPostProcessor(c *hfPostProcessor, path string) (template, error) {
	if c == nil {
		return template{}, nil
	}
	switch c.Type {
	case "ByteLevel":
		return template{}, nil
	case "TemplateProcessing":
		var t template
		seen := false
		for i, p := range c.Single {
			switch {
			case p.Sequence != nil && p.Sequence.ID == "A" && !seen:
				seen = true
			case p.SpecialToken != nil:
				sp, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return t, fmt.Errorf("%s: TemplateProcessing: special token %q is not in special_tokens", path,
						p.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, sp.IDs...)
				} else {
					t.before = append(t.before, sp.IDs...)
				}
			default:
				return t, fmt.Errorf("%s: TemplateProcessing: single[%d]: want SpecialToken or Sequence A once", path, i)
			}
		}
		return t, nil
	case "BertProcessing", "RobertaProcessing":
		cls, okC := templateToken(c.Cls)
		sep, okS := templateToken(c.Sep)
		if !okC || !okS {
			return template{}, fmt.Errorf("%s: %s: want cls and sep as [token, id]", path, c.Type)
		}
		return template{[]int{cls}, []int{sep}}, nil
	case "Sequence":
		var t template
		for i, p := range c.Processors {
			pt, err := buildPostProcessor(p, fmt.Sprintf("%s.processors[%d]", path, i))
			if err != nil {
				return t, err
			}
			t = pt.wrap(t)
		}
		return t, nil
	}
	return template{}, pipeline.Unsupported("%s.type %q is not supported", path, c.Type)
}

// templateToken reads the id of [token, id].
func templateToken(v []any) (int, bool) {
	if len(v) != 2 {
		return 0, false
	}
	id, ok := v[1].(float64)
	return int(id), ok && id >= 0 && id == float64(int(id))
}
