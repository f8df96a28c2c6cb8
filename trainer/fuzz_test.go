package trainer

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// recipeKeyLine is a line of Validate's problems: a key path of the recipe, then ": ".
var recipeKeyLine = regexp.MustCompile(`^(base_model|output_dir|adapter(\.[a-z_]+)?|data\.[a-z_]+|train\.[a-z_0-9]+|eval\.[a-z_]+|generation\.[a-z_]+): `)

// FuzzParseRecipe feeds arbitrary YAML and up to two arbitrary dot-path overrides to
// ParseRecipe. It checks that it never panics; that every line of an error is printable
// text that says where its problem is: the file and line, the override, the recipe (a YAML syntax error), or,
// after "invalid recipe NAME:", the key path; and that a recipe it accepts is written by
// YAML to a document that ParseRecipe reads back to the same recipe and that YAML writes
// again byte for byte. Seeded with the shipped recipes, the schema with every key set,
// and the overrides of the README and the tests; go test runs the seeds, go test -fuzz
// FuzzParseRecipe searches for more.
func FuzzParseRecipe(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "recipes", "*.yaml"))
	require.NoError(f, err)
	paths = append(paths, filepath.Join("..", "testdata", "trainer", "recipe.yaml"))
	var docs []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		docs = append(docs, string(b))
	}
	docs = append(docs, minimal, withAdapter, "", "{}", "- a\n- b\n", minimal+"---\nseed: 1\n",
		"base_model: &m x\noutput_dir: *m\ndata: {train: a.txt, eval: b.txt}\nadapter: {}\n",
		minimal+"seed: -1\ntrain:\n  batch_size: eight\n  epochs: 1.5\nadapter:\n  target_modules: q\n",
		minimal+"  template: \"a\\nb {prompt}\"\n  val_set_size: 0.5\ntrain: {lr_scheduler: cosine_with_restarts, warmup_ratio: 2}\ngeneration: {stop: [\"\\n\\n\"], top_p: 0}\n",
		// Values with a newline in a type error and in a problem of Validate.
		minimal+"seed: \"a\\nb\"\ngeneration: {stop: \"\\u2028\"}\n",
		"base_model: m\noutput_dir: o\ndata: {train: \"a\\nb.csv\", eval: \"c\\rd.txt\", format: source_target}\n")
	overrides := [][]string{
		nil,
		{"train.learning_rate=1e-3", "adapter.r=16"},
		{"~adapter"},
		{"adapter.target_modules=[q,k,v]", "adapter.target_modules.1=k"},
		{"~adapter.target_modules.0", "adapter={r: 4, alpha: 32}"},
		{"data.format=source_target", `data.template="Q: {source}\nA: {target}"`},
		{"~train.learning_rate", `generation.stop=["\n", "###"]`},
		{"train.resume_from_checkpoint=auto", "train.resume_from_checkpoint="},
		{"output_dir=runs/y", "seed=7"},
		{"data.eval=", "data.val_set_size=0.1"},
		{"train..epochs=1", "~train.epochs=1"},
		{"adapter.target_modules.5=q", "train=3"},
		{"eval.metrics.0=loss", "adapter.layers_to_transform=[0, 0]"},
	}
	for i, doc := range docs {
		for j, ovs := range overrides {
			if (i+j)%3 != 0 && j != 0 {
				continue // a third of the pairs is plenty
			}
			ovs = append(ovs, "", "")
			f.Add(doc, uint8(j), ovs[0], ovs[1])
		}
	}

	f.Fuzz(func(t *testing.T, doc string, n uint8, ov1, ov2 string) {
		const name = "fuzz.yaml"
		ovs := []string{ov1, ov2}[:n%3]
		r, err := ParseRecipe([]byte(doc), name, ovs...)
		if err != nil {
			checkRecipeError(t, name, err)
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRecipe accepted a recipe that does not validate: %v", err)
		}
		out, err := r.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		back, err := ParseRecipe(out, "config.yaml")
		if err != nil {
			t.Fatalf("ParseRecipe(YAML()): %v\nrecipe %q with %q\nwritten:\n%s", err, doc, ovs, out)
		}
		if got, want := normalRecipe(back), normalRecipe(r); !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseRecipe(YAML()) = %+v\nwant %+v\nrecipe %q with %q\nwritten:\n%s", got, want, doc, ovs, out)
		}
		again, err := back.YAML()
		if err != nil || string(again) != string(out) {
			t.Fatalf("YAML after a round trip (%v):\n%s\nfirst:\n%s", err, again, out)
		}
	})
}

// normalRecipe returns a copy of r with its empty lists nil: YAML writes nil and empty
// alike.
func normalRecipe(r *Recipe) Recipe {
	c := *r
	if len(c.Generation.Stop) == 0 {
		c.Generation.Stop = nil
	}
	if len(c.Eval.Metrics) == 0 {
		c.Eval.Metrics = nil
	}
	if c.Adapter != nil {
		a := *c.Adapter
		if len(a.Layers) == 0 {
			a.Layers = nil
		}
		if len(a.Targets) == 0 {
			a.Targets = nil
		}
		c.Adapter = &a
	}
	return c
}

// checkRecipeError checks that each line of an error of ParseRecipe(…, name, …) says
// where its problem is.
func checkRecipeError(t *testing.T, name string, err error) {
	t.Helper()
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		if strings.ContainsFunc(l, func(r rune) bool { return !strconv.IsPrint(r) }) {
			t.Fatalf("line %q of error %q is not printable text", l, err)
		}
	}
	at := func(line string) bool {
		return strings.HasPrefix(line, name+":") || strings.HasPrefix(line, `override "`)
	}
	switch first := lines[0]; {
	case first == "invalid recipe "+name+":":
		if len(lines) == 1 {
			t.Fatalf("error %q lists no problem", err)
		}
		for _, l := range lines[1:] {
			if !recipeKeyLine.MatchString(l) {
				t.Fatalf("line %q of error %q does not start with a key path", l, err)
			}
		}
	case strings.HasPrefix(first, "recipe "+name+": "):
		if len(lines) > 1 {
			t.Fatalf("error %q is not one line", err)
		}
	case at(first):
		for _, l := range lines[1:] {
			if !at(l) {
				t.Fatalf("line %q of error %q names neither the file nor an override", l, err)
			}
		}
	default:
		t.Fatalf("error %q does not say where", err)
	}
}
