package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmtune/llmtune/transformer/generate"
)

// TestSettingsCoverOptions: every key of generate.Options is a setting, named as in a
// recipe, and flagProblems can name its flag.
func TestSettingsCoverOptions(t *testing.T) {
	typ := reflect.TypeFor[generate.Options]()
	for i := range typ.NumField() {
		key := typ.Field(i).Tag.Get("yaml")
		s, ok := findSetting(key)
		if assert.True(t, ok, "findSetting(%q)", key) {
			assert.Equal(t, key, s.name)
			assert.Equal(t, strings.ReplaceAll(key, "_", "-"), s.flag)
		}
	}
}

func TestSettingSet(t *testing.T) {
	for _, c := range []struct {
		name, value string
		want        string // the setting's value afterwards, or
		wantErr     string // the error
	}{
		{"temperature", "0.7", "0.7", ""},
		{"temperature", " 1e-1 ", "0.1", ""},
		{"temperature", "-0.5", "", "temperature: must be ≥ 0 (0 = greedy), got -0.5"},
		{"temperature", "+Inf", "", "temperature: must be ≥ 0 (0 = greedy), got +Inf"},
		{"temperature", "warm", "", `temperature: "warm" is not a number`},
		{"top-k", "40", "40", ""},
		{"top_k", "-2", "", "top_k: must be ≥ 0 (0 = off), got -2"},
		{"top_k", "4.5", "", `top_k: "4.5" is not an integer`},
		{"top_p", "1", "1", ""},
		{"top_p", "0", "", "top_p: must be in (0, 1], got 0"},
		{"repetition_penalty", "1.3", "1.3", ""},
		{"repetition_penalty", "-1", "", "repetition_penalty: must be > 0 (1 = off), got -1"},
		{"max_new_tokens", "1", "1", ""},
		{"max-new-tokens", "0", "", "max_new_tokens: must be ≥ 1, got 0"},
		{"seed", "18446744073709551615", "18446744073709551615", ""},
		{"seed", "-1", "", `seed: "-1" is not a seed (an integer ≥ 0)`},
		{"stop", `\n\n`, `["\n\n"]`, ""},
		{"stop", "", "[]", ""},
		{"stop", `\x`, "", `stop: bad escape in "\\x" (use \n, \t, \\ …)`},
	} {
		s, ok := findSetting(c.name)
		require.True(t, ok, "findSetting(%q)", c.name)
		before := defaultSettings()
		got, err := before.set(s, c.value)
		if c.wantErr != "" {
			assert.EqualError(t, err, c.wantErr, "set(%s, %q)", c.name, c.value)
			continue
		}
		if assert.NoError(t, err, "set(%s, %q)", c.name, c.value) {
			assert.Equal(t, c.want, s.get(&got), "set(%s, %q)", c.name, c.value)
			assert.Equal(t, defaultSettings(), before, "set(%s, %q) leaves its receiver alone", c.name, c.value)
		}
	}
}

// TestSettingFlags: the flags apply in order over the recipe's settings; the first
// --stop replaces the recipe's list, "" clears it.
func TestSettingFlags(t *testing.T) {
	recipe := genSettings{Options: generate.DefaultOptions(), Seed: 3}
	recipe.Temperature, recipe.Stop = 0.9, []string{"zzz"}
	for _, c := range []struct {
		args []string
		want func(*genSettings)
	}{
		{nil, func(*genSettings) {}},
		{[]string{"--seed", "5", "--top-k", "7"}, func(g *genSettings) { g.Seed, g.TopK = 5, 7 }},
		{[]string{"--temperature", "0", "--temperature", "0.5"}, func(g *genSettings) { g.Temperature = 0.5 }},
		{[]string{"--stop", "a", "--stop", `\t`}, func(g *genSettings) { g.Stop = []string{"a", "\t"} }},
		{[]string{"--stop", ""}, func(g *genSettings) { g.Stop = nil }},
		{[]string{"--stop", "", "--stop", "b"}, func(g *genSettings) { g.Stop = []string{"b"} }},
	} {
		fs := flag.NewFlagSet("generate", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		vals := settingFlags(fs)
		require.NoError(t, fs.Parse(c.args))
		got := recipe
		got.Stop = append([]string(nil), recipe.Stop...)
		require.NoError(t, vals.apply(&got), "apply %q", c.args)
		want := recipe
		want.Stop = append([]string(nil), recipe.Stop...)
		c.want(&want)
		assert.Equal(t, want, got, "apply %q", c.args)
	}
}
