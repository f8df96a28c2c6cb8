package transformer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// configKeys are the config.json keys (and the words for the family) that ParseConfig's
// errors name: each line of an error about a well-formed JSON object names one of them.
var configKeys = []string{
	"architecture", "model_type",
	"n_layer", "n_head", "n_embd", "n_positions", "vocab_size", "layer_norm_epsilon", "activation_function",
	"n_inner", "bos_token_id", "eos_token_id", "tie_word_embeddings", "scale_attn_weights",
	"scale_attn_by_inverse_layer_idx", "add_cross_attention",
	"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
	"head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling",
	"rope_parameters", "attention_bias", "mlp_bias", "use_sliding_window", "pretraining_tp",
}

// FuzzParseConfig feeds arbitrary bytes to ParseConfig as a config.json and checks that it
// never panics; that an error about a JSON object names, on each of its lines, the key it
// is about; and that what it accepts validates, and that MarshalJSON writes it as a
// config.json that parses back to the same Config (head_dim and num_key_value_heads,
// which a Llama-family config may leave out, are written explicitly) and writes the same
// bytes again. Seeded with every config.json of testdata and the hub's configs of
// config_test.go; go test runs those, go test -fuzz FuzzParseConfig searches for more.
func FuzzParseConfig(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "*", "*", "config.json"))
	require.NoError(f, err)
	more, err := filepath.Glob(filepath.Join("..", "testdata", "*", "config.json"))
	require.NoError(f, err)
	require.NotEmpty(f, paths)
	for _, p := range append(paths, more...) {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		smolLM2, llama32, qwen25, tinyLlama,
		`{}`, `null`, `[]`, `{"n_layer": 3, "resid_pdrop": 0.1, "some_new_key": [1]}`,
		`{"n_inner": 100, "tie_word_embeddings": false, "eos_token_id": [50256, 0]}`,
		`{"scale_attn_by_inverse_layer_idx": true, "n_head": 0}`,
		`{"model_type": "mistral"}`,
		`{"architectures": ["MistralForCausalLM"]}`,
		`{"architectures": [], "model_type": "qwen2", "use_sliding_window": true, "eos_token_id": null}`,
		`{"model_type": "llama", "rope_parameters": {"rope_type": "linear", "factor": 2, "rope_theta": 20000}}`,
		`{"model_type": "llama", "rope_scaling": {"type": "dynamic", "factor": 4}}`,
		`{"model_type": "llama", "rope_scaling": {"rope_type": "default"}, "num_attention_heads": 6, "num_key_value_heads": 4}`,
		`{"model_type": "llama", "head_dim": 7, "hidden_size": 30, "num_attention_heads": 4, "pretraining_tp": 2}`,
		`{"model_type": "llama", "eos_token_id": "x", "rms_norm_eps": 0, "rope_theta": -1}`,
		`{"model_type": "gpt2", "n_embd": 1e400}`,
		`{"n_layer": 1.5}`, `{"n_layer": 2`, "\xff",
	} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			checkConfigError(t, data, err)
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig(%q) = %+v, which does not validate: %v", data, c, err)
		}
		raw, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("MarshalJSON(%+v): %v", c, err)
		}
		back, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("ParseConfig(MarshalJSON(ParseConfig(%q))): %v\nwritten: %s", data, err, raw)
		}
		want := c
		if want.IsLlama() {
			want.NumKVHeads, want.HeadSize = want.KVHeads(), want.HeadDim()
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v\nwritten: %s", data, back, want, raw)
		}
		again, err := json.Marshal(back)
		if err != nil || string(again) != string(raw) {
			t.Fatalf("MarshalJSON after a round trip of %q: %s, %v; first %s", data, again, err, raw)
		}
	})
}

// checkConfigError checks an error of ParseConfig(data): for a JSON object, every line of
// it names a config.json key.
func checkConfigError(t *testing.T, data []byte, err error) {
	t.Helper()
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil || obj == nil {
		return // not a JSON object: encoding/json's syntax or type error, with its offset
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		named := false
		for _, k := range configKeys {
			if strings.Contains(line, k) {
				named = true
				break
			}
		}
		if !named {
			t.Fatalf("ParseConfig(%q): error line %q names no config.json key (whole error: %v)", data, line, err)
		}
	}
}
