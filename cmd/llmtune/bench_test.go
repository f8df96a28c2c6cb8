package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRoundDigits checks that bench's JSON figures come out with the decimals asked for.
func TestRoundDigits(t *testing.T) {
	for _, c := range []struct {
		v    float64
		n    int
		want string
	}{
		{36.09 / 100, 4, "0.3609"}, // 0.36090000000000005 before
		{0.45899999999999996, 4, "0.459"},
		{1.0 / 3, 4, "0.3333"},
		{217.849, 2, "217.85"},
		{1959.98, 2, "1959.98"},
		{0, 2, "0"},
	} {
		got, err := json.Marshal(roundDigits(c.v, c.n))
		assert.NoError(t, err)
		assert.Equal(t, c.want, string(got), "roundDigits(%v, %d)", c.v, c.n)
	}
}
