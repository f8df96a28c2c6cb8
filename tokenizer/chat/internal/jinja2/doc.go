// Package jinja2 reads a chat template as Jinja2 3.1 does with transformers' settings and translates it for
// github.com/ardanlabs/jinja: lex.go is Jinja2's lexer (jinja2/lexer.py: newlines normalised, the final one
// dropped, -/+ whitespace control, lstrip_blocks and trim_blocks, raw blocks, comments, string literals
// decoded as Python's unicode-escape), parse.go its parser (jinja2/parser.py's precedence and node kinds)
// and emit.go the translation: every piece of text a string literal, and every operator, filter, test,
// attribute and item access, method call and {{ }} output a call of a function of pyvalue.Scope, so that
// the engine only runs if, for, set, macro, break and continue, each loop body in a fresh scope.
//
// Translate is its one entry point; a construct it cannot translate exactly is refused with an error
// wrapping pyvalue.ErrUnsupported. Package chat (tokenizer/chat's doc.go) says why and what is refused.
package jinja2
