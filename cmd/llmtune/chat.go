package main

import (
	"fmt"
	"slices"

	"github.com/llmtune/llmtune/tokenizer"
	"github.com/llmtune/llmtune/tokenizer/chat"
	"github.com/llmtune/llmtune/trainer/dataset"
)

// conversation is generate's chat mode: each input is a user turn, rendered with the
// turns before it by the chat template as transformers' apply_chat_template renders it
// (with the generation prompt), and encoded with its special tokens; generation ends at
// the end-of-turn token (the tokenizer's EOS and the model's eos_token_id list).
type conversation struct {
	tmpl   *chat.Template
	opts   chat.Options
	source string         // "the model's chat template", "ChatML" or "the recipe's chat template"
	chatml bool           // the template is ChatML (whose <|im_end|> may be plain text)
	system string         // the system message, "" for none
	turns  []chat.Message // the user and assistant turns so far (kept in a REPL session only)
}

// newConversation returns the chat mode for tok with the template src (as data.chat_template
// spells it: "" or tokenizer_default, chatml, or a Jinja template), or nil when src is ""
// and the tokenizer has no template.
func newConversation(tok *tokenizer.BPE, src, system string) (*conversation, error) {
	c := &conversation{system: system, chatml: src == dataset.ChatTemplateChatML}
	switch src {
	case "", dataset.ChatTemplateTokenizer:
		c.source = "the model's chat template"
	case dataset.ChatTemplateChatML:
		c.source = "ChatML"
	default:
		c.source = "the given chat template"
	}
	src = dataset.ChatTemplateSource(src, tok.ChatTemplate())
	if src == "" {
		return nil, nil
	}
	var err error
	if c.tmpl, err = chat.Parse(src); err != nil {
		return nil, fmt.Errorf("chat template: %w", err)
	}
	c.opts = dataset.ChatOptions(tok)
	return c, nil
}

// messages returns the conversation with input as the next user turn.
func (c *conversation) messages(input string) []chat.Message {
	var msgs []chat.Message
	if c.system != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: c.system})
	}
	msgs = append(msgs, c.turns...)
	return append(msgs, chat.Message{Role: "user", Content: input})
}

// prompt renders the conversation with input as the next user turn and the header of the
// assistant's reply.
func (c *conversation) prompt(input string) (string, error) {
	o := c.opts
	o.AddGenerationPrompt = true
	return c.tmpl.Render(c.messages(input), o)
}

// add records a finished exchange.
func (c *conversation) add(input, reply string) {
	c.turns = append(c.turns, chat.Message{Role: "user", Content: input}, chat.Message{Role: "assistant", Content: reply})
}

// reset forgets the turns (the system message stays).
func (c *conversation) reset() { c.turns = nil }

// stops adds ChatML's end-of-turn marker to the stop strings when the template is ChatML,
// whose "<|im_end|>" a tokenizer without it as a token writes as text.
func (c *conversation) stops(stop []string) []string {
	if c.chatml && !slices.Contains(stop, "<|im_end|>") {
		return append(slices.Clone(stop), "<|im_end|>")
	}
	return stop
}
