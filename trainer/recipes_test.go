package trainer

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestShippedRecipes loads and validates every recipe under recipes/: a schema change
// that breaks one fails here, not in front of a user.
func TestShippedRecipes(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "recipes", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, paths, "no recipe found under recipes/")
	for _, p := range paths {
		r, err := LoadRecipe(p)
		if assert.NoError(t, err, "LoadRecipe(%s)", p) {
			assert.NoError(t, r.Validate(), "LoadRecipe(%s).Validate()", p)
		}
	}
}
