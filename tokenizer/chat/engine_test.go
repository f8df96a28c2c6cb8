package chat

import (
	"github.com/ardanlabs/jinja"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// The names the tests of this package use for the engine's values, which live in internal/pyvalue.

type pyError = pyvalue.Error

var (
	fromJSON = pyvalue.FromJSON
	isStr    = pyvalue.IsStr
)

type dumpOptions struct{ itemSep, keySep string }

func pyDumps(v jinja.Value, o dumpOptions) (string, error) {
	return pyvalue.Dumps(v, pyvalue.DumpOptions{ItemSep: o.itemSep, KeySep: o.keySep})
}
