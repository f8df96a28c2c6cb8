package tokenizer

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// Files are the tokenizer files a Hugging Face model directory may hold.
var Files = []string{"tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"}

// CopyFiles copies those of Files that exist in directory src into directory dst (which
// must exist), each atomically, so that a model directory written elsewhere (a merged or
// fully fine-tuned model) is complete. An empty src copies nothing.
func CopyFiles(src, dst string) error {
	if src == "" {
		return nil
	}
	for _, name := range Files {
		data, err := os.ReadFile(filepath.Join(src, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(filepath.Join(dst, name), data); err != nil {
			return err
		}
	}
	return nil
}
