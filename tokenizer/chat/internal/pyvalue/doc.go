// Package pyvalue gives the values of a chat template rendered by github.com/ardanlabs/jinja the semantics
// they have in Python and Jinja2 3.1 under transformers' ImmutableSandboxedEnvironment: str() and repr(),
// truthiness, equality and ordering, the str methods on Python's whitespace (python.go); the filters and
// tests of jinja2/filters.py and jinja2/tests.py (filters.go); json.dumps as transformers' tojson calls it,
// and JSON decoded as json.loads gives it (json.go); and the functions a translation of package jinja2
// calls, registered by Scope: the sandbox's getattr and getitem, Python's operators, method calls, for-loop
// iteration, range, raise_exception and strftime_now (runtime.go).
//
// An exception Jinja2 would raise is an *Error naming its Python class; a value whose Python result this
// package does not reproduce is an error wrapping ErrUnsupported: it never guesses.
package pyvalue
