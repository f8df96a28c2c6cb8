package layout

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/llmtune/llmtune/"

// allowed lists, for each package of the module (relative to the module root), the
// packages of the module it may depend on, directly or not. internal/ packages other
// than the test helpers are infrastructure any package may use.
var allowed = map[string][]string{
	"transformer/kernels":             {},
	"transformer/safetensors":         {},
	"tokenizer/pipeline":              {},
	"tokenizer":                       {"tokenizer/pipeline"},
	"tokenizer/chat/internal/pyvalue": {},
	"tokenizer/chat/internal/jinja2":  {"tokenizer/chat/internal/pyvalue"},
	"tokenizer/chat":                  {"tokenizer/chat/internal/jinja2", "tokenizer/chat/internal/pyvalue"},
	"transformer":                     {"transformer/kernels", "transformer/safetensors"},
	"transformer/generate":            {"transformer", "transformer/kernels", "transformer/safetensors"},
	"lora":                            {"transformer", "transformer/kernels", "transformer/safetensors"},
	"trainer/optim":                   {},
	"trainer/sacrebleu":               {},
	"trainer/chart":                   {},
	"trainer/dataset":                 {"transformer", "transformer/generate", "transformer/kernels", "transformer/safetensors", "tokenizer", "tokenizer/pipeline", "tokenizer/chat", "tokenizer/chat/internal/jinja2", "tokenizer/chat/internal/pyvalue"},
	"gguf":                            {"lora", "tokenizer", "tokenizer/pipeline", "transformer", "transformer/kernels", "transformer/safetensors"},
}

// infrastructure are the internal packages any package may import.
var infrastructure = []string{"internal/atomicfile", "internal/heap", "internal/half"}

// yamlPackages are module paths of YAML libraries: only the recipe (package trainer)
// and what is above it may parse YAML.
var yamlPackages = []string{"go.yaml.in/yaml", "gopkg.in/yaml", "github.com/goccy/go-yaml", "sigs.k8s.io/yaml"}

func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// TestDependencyDirection runs `go list -deps` on each low package: it must depend on no
// package of the module outside its allowed list (so never on lora, trainer, its
// sub-packages or cmd unless listed) and on no YAML library.
func TestDependencyDirection(t *testing.T) {
	for pkg, ok := range allowed {
		out, err := exec.Command(goTool(t), "list", "-deps", module+pkg).CombinedOutput()
		require.NoError(t, err, "go list -deps %s: %s", pkg, out)
		for _, dep := range strings.Fields(string(out)) {
			for _, y := range yamlPackages {
				assert.False(t, strings.HasPrefix(dep, y), "%s depends on the YAML package %s", pkg, dep)
			}
			rel, ours := strings.CutPrefix(dep, module)
			if !ours || rel == pkg || slices.Contains(infrastructure, rel) {
				continue
			}
			assert.True(t, slices.Contains(ok, rel), "%s depends on %s, which is not in its allowed list %v", pkg, rel, ok)
		}
	}
}

// TestAllowedCoversLowPackages keeps the table honest: every package it names exists.
func TestAllowedCoversLowPackages(t *testing.T) {
	var pkgs []string
	for pkg := range allowed {
		pkgs = append(pkgs, module+pkg)
	}
	out, err := exec.Command(goTool(t), append([]string{"list"}, pkgs...)...).CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	assert.Len(t, strings.Fields(string(out)), len(allowed))
}
