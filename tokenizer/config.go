package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/llmtune/llmtune/tokenizer/pipeline"
)

// tokenizerConfig is the part of transformers' tokenizer_config.json that this package reads.
type tokenizerConfig struct {
	BOS          json.RawMessage `json:"bos_token"` // a string, an AddedToken object with content, or null
	EOS          json.RawMessage `json:"eos_token"`
	UNK          json.RawMessage `json:"unk_token"`
	PAD          json.RawMessage `json:"pad_token"`
	AddBOS       *bool           `json:"add_bos_token"`
	AddEOS       *bool           `json:"add_eos_token"`
	ChatTemplate json.RawMessage `json:"chat_template"` // a string, or a list of {"name", "template"}
}

// readConfig reads the tokenizer_config.json at path, if the file exists: eos_token sets EOS, bos_token BOS,
// add_bos_token and add_eos_token (when set) add or drop those tokens at the ends of EncodeForModel's template,
// and chat_template is kept.
func (t *BPE) readConfig(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	name := filepath.Base(path)
	var cfg tokenizerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, tok := range []struct {
		key  string
		raw  json.RawMessage
		id   *int
		name *string
	}{{"eos_token", cfg.EOS, &t.eos, &t.special.EOS}, {"bos_token", cfg.BOS, &t.bos, &t.special.BOS},
		{"unk_token", cfg.UNK, nil, &t.special.UNK}, {"pad_token", cfg.PAD, nil, &t.special.PAD}} {
		s, ok, err := configToken(tok.raw)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", name, tok.key, err)
		}
		if !ok {
			continue
		}
		*tok.name = s
		if tok.id == nil {
			continue
		}
		id, ok := t.ID(s)
		if !ok {
			id, ok = t.vocab[pipeline.ByteLevel(s)]
		}
		if !ok {
			return fmt.Errorf("%s: %s %q is not a token", name, tok.key, s)
		}
		*tok.id = id
	}
	if cfg.AddBOS != nil && t.bos >= 0 {
		has := len(t.post.before) > 0 && t.post.before[0] == t.bos
		switch {
		case *cfg.AddBOS && !has:
			t.post.before = append([]int{t.bos}, t.post.before...)
		case !*cfg.AddBOS && has:
			t.post.before = slices.Clone(t.post.before[1:])
		}
	}
	if cfg.AddEOS != nil && t.eos >= 0 {
		n := len(t.post.after)
		has := n > 0 && t.post.after[n-1] == t.eos
		switch {
		case *cfg.AddEOS && !has:
			t.post.after = append(slices.Clone(t.post.after), t.eos)
		case !*cfg.AddEOS && has:
			t.post.after = slices.Clone(t.post.after[:n-1])
		}
	}
	t.chatTemplate, err = chatTemplate(cfg.ChatTemplate)
	if err != nil {
		return fmt.Errorf("%s: chat_template: %w", name, err)
	}
	return nil
}

// configToken reads a special token of tokenizer_config.json: a string or an AddedToken object; ok is false for
// null or a missing key.
func configToken(raw json.RawMessage) (s string, ok bool, err error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, nil
	}
	var obj struct{ Content string }
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", false, errors.New("want a string or an object with content")
	}
	return obj.Content, true, nil
}

// chatTemplate reads chat_template: a string, or a list of named templates, of which the one named "default".
func chatTemplate(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var list []struct{ Name, Template string }
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New("want a string or a list of {name, template}")
	}
	for _, c := range list {
		if c.Name == "default" {
			return c.Template, nil
		}
	}
	return "", nil
}
