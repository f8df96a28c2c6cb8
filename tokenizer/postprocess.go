package tokenizer

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
