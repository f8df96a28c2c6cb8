package jinja2

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// The emitter writes the parsed template back as a template for github.com/ardanlabs/jinja in which that
// engine only runs the statements (if, for, set, macro, break, continue) and calls functions: every piece
// of text is a string literal, every operator, filter, test, attribute or item access and every {{ }}
// output is a call to one of the functions of pyvalue.Scope, which follow Python's and Jinja2's semantics.
// There is no text between tags, so the engine's own whitespace handling has nothing to act on.

var loopAttrs = []string{"cycle", "first", "index", "index0", "last", "length", "nextitem", "previtem", "revindex", "revindex0"}

// Translate reads a chat template as Jinja2 does and returns its translation for github.com/ardanlabs/jinja,
// to be rendered with pyvalue.Scope. A syntax error is an error; a construct that would not render exactly
// as in Jinja2 is an error wrapping pyvalue.ErrUnsupported that names it.
func Translate(src string) (string, error) {
	segs, err := lex(src)
	if err != nil {
		return "", err
	}
	p := &stmtParser{segs: segs}
	nodes, err := p.body()
	if err != nil {
		return "", err
	}
	e := &emitter{params: map[string][]string{}}
	if err := collectMacros(nodes, &e.macros, e.params); err != nil {
		return "", err
	}
	for _, m := range e.macros {
		if slices.Contains(pyvalue.Globals, m) || slices.Contains(e.macros[:slices.Index(e.macros, m)], m) {
			return "", unsupported(0, "the macro name %q", m)
		}
	}
	if err := e.nodes(nodes); err != nil {
		return "", err
	}
	return e.b.String(), nil
}

type emitter struct {
	b      strings.Builder
	macros []string
	params map[string][]string // each macro's parameters
	loops  []string            // alias of `loop` for each enclosing for body, innermost last
	breaks []string            // namespace holding the break flag of each enclosing for body
	n      int
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (e *emitter) nodes(ns []node) error {
	for _, n := range ns {
		if err := e.node(n); err != nil {
			return err
		}
	}
	return nil
}

func (e *emitter) node(n node) error {
	switch n := n.(type) {
	case *dataNode:
		e.b.WriteString("{{ " + quote(n.s) + " }}")
	case *outputNode:
		x, err := e.expr(n.x)
		if err != nil {
			return err
		}
		e.b.WriteString("{{ __str(" + x + ") }}")
	case *ifNode:
		for i, c := range n.conds {
			x, err := e.expr(c)
			if err != nil {
				return err
			}
			if i == 0 {
				e.b.WriteString("{% if __bool(" + x + ") %}")
			} else {
				e.b.WriteString("{% elif __bool(" + x + ") %}")
			}
			if err := e.nodes(n.bodies[i]); err != nil {
				return err
			}
		}
		if len(n.bodies) > len(n.conds) {
			e.b.WriteString("{% else %}")
			if err := e.nodes(n.bodies[len(n.conds)]); err != nil {
				return err
			}
		}
		e.b.WriteString("{% endif %}")
	case *forNode:
		return e.forLoop(n)
	case *setNode:
		x, err := e.expr(n.x)
		if err != nil {
			return err
		}
		if n.attr != "" {
			e.b.WriteString("{% set " + n.target + "." + n.attr + " = " + x + " %}")
		} else {
			e.b.WriteString("{% set " + n.target + " = " + x + " %}")
		}
	case *setBlockNode:
		e.b.WriteString("{% set " + n.target + " %}")
		if err := e.nodes(n.body); err != nil {
			return err
		}
		e.b.WriteString("{% endset %}")
	case *macroNode:
		var ps []string
		for i, p := range n.params {
			if n.defaults[i] == nil {
				ps = append(ps, p)
				continue
			}
			d, err := e.expr(n.defaults[i])
			if err != nil {
				return err
			}
			ps = append(ps, p+"="+d)
		}
		e.b.WriteString("{% macro " + n.name + "(" + strings.Join(ps, ", ") + ") %}")
		loops, breaks := e.loops, e.breaks
		e.loops, e.breaks = nil, nil
		err := e.nodes(n.body)
		e.loops, e.breaks = loops, breaks
		if err != nil {
			return err
		}
		e.b.WriteString("{% endmacro %}")
	case *breakNode:
		if len(e.breaks) == 0 {
			return unsupported(0, "break outside a for loop")
		}
		e.b.WriteString("{% set " + e.breaks[len(e.breaks)-1] + ".v = true %}{% break %}")
	case *continueNode:
		if len(e.loops) == 0 {
			return unsupported(0, "continue outside a for loop")
		}
		e.b.WriteString("{% continue %}")
	default:
		return fmt.Errorf("chat: internal error: node %T", n)
	}
	return nil
}

// forLoop runs the body inside a one-item loop of its own, so that each iteration starts from a fresh
// scope as in Jinja2 (a set in one iteration is not seen by the next); `loop` in the body is the outer
// loop's, under an alias, and break is carried out of the inner loop by a flag.
func (e *emitter) forLoop(n *forNode) error {
	e.n++
	alias, brk := fmt.Sprintf("__loop%d", e.n), fmt.Sprintf("__break%d", e.n)
	iter, err := e.expr(n.iter)
	if err != nil {
		return err
	}
	head := "{% for " + strings.Join(n.targets, ", ") + " in __iter(" + iter
	if len(n.targets) == 2 {
		head += ", 2"
	}
	head += ")"
	if n.filter != nil {
		f, err := e.expr(n.filter)
		if err != nil {
			return err
		}
		head += " if __bool(" + f + ")"
	}
	e.b.WriteString("{% set " + brk + " = __namespace(__kw('v'), false) %}" + head + " %}")
	e.b.WriteString("{% for " + alias + " in [loop] %}")
	e.loops, e.breaks = append(e.loops, alias), append(e.breaks, brk)
	err = e.nodes(n.body)
	e.loops, e.breaks = e.loops[:len(e.loops)-1], e.breaks[:len(e.breaks)-1]
	if err != nil {
		return err
	}
	e.b.WriteString("{% endfor %}{% if " + brk + ".v %}{% break %}{% endif %}")
	if n.els != nil {
		e.b.WriteString("{% else %}")
		if err := e.nodes(n.els); err != nil {
			return err
		}
	}
	e.b.WriteString("{% endfor %}")
	return nil
}

func (e *emitter) list(xs []expr) (string, error) {
	var parts []string
	for _, x := range xs {
		s, err := e.expr(x)
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", "), nil
}

func (e *emitter) args(first []string, xs []expr, kws []kwarg) (string, error) {
	s, err := e.list(xs)
	if err != nil {
		return "", err
	}
	parts := first
	if s != "" {
		parts = append(parts, s)
	}
	for _, kw := range kws {
		v, err := e.expr(kw.v)
		if err != nil {
			return "", err
		}
		parts = append(parts, kw.name+"="+v)
	}
	return strings.Join(parts, ", "), nil
}

func (e *emitter) expr(x expr) (string, error) {
	switch x := x.(type) {
	case *constExpr:
		switch v := x.v.(type) {
		case nil:
			return "none", nil
		case bool:
			return strconv.FormatBool(v), nil
		case int64:
			return strconv.FormatInt(v, 10), nil
		case floatLit:
			return "__float(" + quote(string(v)) + ")", nil
		case string:
			return quote(v), nil
		}
	case *nameExpr:
		if x.name == "loop" && len(e.loops) > 0 {
			return e.loops[len(e.loops)-1], nil
		}
		return x.name, nil
	case *listExpr:
		s, err := e.list(x.items)
		if x.tuple {
			return "__tuple(" + s + ")", err
		}
		return "[" + s + "]", err
	case *dictExpr:
		var parts []string
		for i, k := range x.keys {
			v, err := e.expr(x.vals[i])
			if err != nil {
				return "", err
			}
			parts = append(parts, quote(k), v)
		}
		return "__dict(" + strings.Join(parts, ", ") + ")", nil
	case *getattrExpr:
		if n, ok := x.x.(*nameExpr); ok && n.name == "loop" && !slices.Contains(loopAttrs, x.name) {
			return "", unsupported(0, "loop.%s", x.name)
		}
		o, err := e.expr(x.x)
		return "__getattr(" + o + ", " + quote(x.name) + ")", err
	case *getitemExpr:
		s, err := e.list([]expr{x.x, x.key})
		return "__getitem(" + s + ")", err
	case *sliceExpr:
		parts := []expr{x.x, x.start, x.stop, x.step}
		for i := range parts {
			if parts[i] == nil {
				parts[i] = &constExpr{v: nil}
			}
		}
		s, err := e.list(parts)
		return "__slice(" + s + ")", err
	case *callExpr:
		switch fn := x.fn.(type) {
		case *getattrExpr:
			if !slices.Contains(pyvalue.Methods, fn.name) {
				return "", unsupported(0, "the method .%s()", fn.name)
			}
			o, err := e.expr(fn.x)
			if err != nil {
				return "", err
			}
			a, err := e.args([]string{o, quote(fn.name)}, x.args, x.kwargs)
			return "__call(" + a + ")", err
		case *nameExpr:
			switch {
			case slices.Contains(e.macros, fn.name):
				// Jinja2 raises TypeError for these calls; the engine underneath would bind what it can.
				ps := e.params[fn.name]
				if len(x.args) > len(ps) {
					return "", unsupported(0, "calling the macro %s with more arguments than parameters", fn.name)
				}
				for _, kw := range x.kwargs {
					if i := slices.Index(ps, kw.name); i < 0 || i < len(x.args) {
						return "", unsupported(0, "calling the macro %s with the keyword argument %s", fn.name, kw.name)
					}
				}
				a, err := e.args(nil, x.args, x.kwargs)
				return fn.name + "(" + a + ")", err
			case fn.name == "namespace" || fn.name == "dict":
				// Keyword arguments become ordered pairs: the engine passes them as a Go map.
				a, err := e.args(nil, x.args, nil)
				if err != nil {
					return "", err
				}
				parts := []string{}
				if a != "" {
					parts = append(parts, a)
				}
				for _, kw := range x.kwargs {
					v, err := e.expr(kw.v)
					if err != nil {
						return "", err
					}
					parts = append(parts, "__kw("+quote(kw.name)+")", v)
				}
				name := "__namespace"
				if fn.name == "dict" {
					name = "__dictcall"
				}
				return name + "(" + strings.Join(parts, ", ") + ")", nil
			case slices.Contains(pyvalue.Globals, fn.name):
				a, err := e.args(nil, x.args, x.kwargs)
				return "__" + fn.name + "(" + a + ")", err
			}
			return "", unsupported(0, "calling %s()", fn.name)
		}
		return "", unsupported(0, "calling the result of an expression")
	case *filterExpr:
		if !slices.Contains(pyvalue.Filters, x.name) {
			return "", unsupported(0, "the filter %q", x.name)
		}
		o, err := e.expr(x.x)
		if err != nil {
			return "", err
		}
		a, err := e.args([]string{quote(x.name), o}, x.args, x.kwargs)
		return "__filter(" + a + ")", err
	case *testExpr:
		if !slices.Contains(pyvalue.Tests, x.name) {
			return "", unsupported(0, "the test %q", x.name)
		}
		o, err := e.expr(x.x)
		if err != nil {
			return "", err
		}
		a, err := e.args([]string{quote(x.name), o}, x.args, nil)
		if x.not {
			return "(not __test(" + a + "))", err
		}
		return "__test(" + a + ")", err
	case *unaryExpr:
		o, err := e.expr(x.x)
		switch x.op {
		case "not":
			return "(not __bool(" + o + "))", err
		case "-":
			return "__neg(" + o + ")", err
		}
		return "__pos(" + o + ")", err
	case *binExpr:
		l, err := e.expr(x.l)
		if err != nil {
			return "", err
		}
		r, err := e.expr(x.r)
		if err != nil {
			return "", err
		}
		// Python's truthiness, not the engine's, picks the operand (the engine counts an empty tuple or
		// Markup string as true); the left operand is evaluated twice, which no expression can observe.
		if x.op == "and" {
			return "(" + r + " if __bool(" + l + ") else " + l + ")", nil
		}
		if x.op == "or" {
			return "(" + l + " if __bool(" + l + ") else " + r + ")", nil
		}
		return "__bin(" + quote(x.op) + ", " + l + ", " + r + ")", nil
	case *compareExpr:
		parts := []string{}
		f, err := e.expr(x.first)
		if err != nil {
			return "", err
		}
		parts = append(parts, f)
		for i, op := range x.ops {
			r, err := e.expr(x.rest[i])
			if err != nil {
				return "", err
			}
			parts = append(parts, quote(op), r)
		}
		return "__compare(" + strings.Join(parts, ", ") + ")", nil
	case *concatExpr:
		s, err := e.list(x.parts)
		return "__concat(" + s + ")", err
	case *condExpr:
		t, err := e.expr(x.then)
		if err != nil {
			return "", err
		}
		c, err := e.expr(x.cond)
		if err != nil {
			return "", err
		}
		els := "__undefined()"
		if x.els != nil {
			if els, err = e.expr(x.els); err != nil {
				return "", err
			}
		}
		return "(" + t + " if __bool(" + c + ") else " + els + ")", nil
	}
	return "", fmt.Errorf("chat: internal error: expression %T", x)
}

// usesName reports whether the nodes read the variable name anywhere.
func usesName(ns []node, name string) bool {
	found := false
	var walk func(x expr)
	walk = func(x expr) {
		switch x := x.(type) {
		case *nameExpr:
			found = found || x.name == name
		case *listExpr:
			for _, it := range x.items {
				walk(it)
			}
		case *dictExpr:
			for _, v := range x.vals {
				walk(v)
			}
		case *getattrExpr:
			walk(x.x)
		case *getitemExpr:
			walk(x.x)
			walk(x.key)
		case *sliceExpr:
			walk(x.x)
			walk(x.start)
			walk(x.stop)
			walk(x.step)
		case *callExpr:
			walk(x.fn)
			for _, a := range x.args {
				walk(a)
			}
			for _, kw := range x.kwargs {
				walk(kw.v)
			}
		case *filterExpr:
			walk(x.x)
			for _, a := range x.args {
				walk(a)
			}
			for _, kw := range x.kwargs {
				walk(kw.v)
			}
		case *testExpr:
			walk(x.x)
			for _, a := range x.args {
				walk(a)
			}
		case *unaryExpr:
			walk(x.x)
		case *binExpr:
			walk(x.l)
			walk(x.r)
		case *compareExpr:
			walk(x.first)
			for _, r := range x.rest {
				walk(r)
			}
		case *concatExpr:
			for _, p := range x.parts {
				walk(p)
			}
		case *condExpr:
			walk(x.then)
			walk(x.cond)
			walk(x.els)
		}
	}
	var visit func(ns []node)
	visit = func(ns []node) {
		for _, n := range ns {
			switch n := n.(type) {
			case *outputNode:
				walk(n.x)
			case *ifNode:
				for _, c := range n.conds {
					walk(c)
				}
				for _, b := range n.bodies {
					visit(b)
				}
			case *forNode:
				walk(n.iter)
				walk(n.filter)
				visit(n.body)
				visit(n.els)
			case *setNode:
				walk(n.x)
			case *setBlockNode:
				visit(n.body)
			case *macroNode:
				visit(n.body)
			}
		}
	}
	visit(ns)
	return found
}

// collectMacros lists the names of the macros a template defines.
func collectMacros(ns []node, out *[]string, params map[string][]string) error {
	for _, n := range ns {
		switch n := n.(type) {
		case *macroNode:
			for _, special := range []string{"varargs", "kwargs", "caller"} {
				if usesName(n.body, special) && !slices.Contains(n.params, special) {
					return unsupported(0, "the macro %s uses %s", n.name, special)
				}
			}
			*out = append(*out, n.name)
			params[n.name] = n.params
			if err := collectMacros(n.body, out, params); err != nil {
				return err
			}
		case *ifNode:
			for _, b := range n.bodies {
				if err := collectMacros(b, out, params); err != nil {
					return err
				}
			}
		case *forNode:
			for _, b := range [][]node{n.body, n.els} {
				if err := collectMacros(b, out, params); err != nil {
					return err
				}
			}
		case *setBlockNode:
			if err := collectMacros(n.body, out, params); err != nil {
				return err
			}
		}
	}
	return nil
}
