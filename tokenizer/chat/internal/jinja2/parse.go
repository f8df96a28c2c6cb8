package jinja2

import (
	"fmt"
	"slices"
	"strings"

	"github.com/llmtune/llmtune/tokenizer/chat/internal/pyvalue"
)

// unsupported is the error for a construct that is not rendered exactly as Jinja2 does: it wraps
// pyvalue.ErrUnsupported and names the construct and its line (0: no line).
func unsupported(line int, format string, args ...any) error {
	if line == 0 {
		return fmt.Errorf("chat: %w: %s", pyvalue.ErrUnsupported, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("chat: %w on line %d: %s", pyvalue.ErrUnsupported, line, fmt.Sprintf(format, args...))
}

// expr is a parsed Jinja2 expression (the node kinds of jinja2/nodes.py this package renders).
type expr interface{}

type (
	constExpr struct{ v any } // string, int64, float64 (as written), bool, nil (none)
	nameExpr  struct{ name string }
	listExpr  struct {
		items []expr
		tuple bool
	}
	dictExpr struct {
		keys []string
		vals []expr
	}
	getattrExpr struct {
		x    expr
		name string
	}
	getitemExpr struct{ x, key expr }
	sliceExpr   struct{ x, start, stop, step expr } // nil parts are absent
	callExpr    struct {
		fn     expr
		args   []expr
		kwargs []kwarg
	}
	filterExpr struct {
		x      expr
		name   string
		args   []expr
		kwargs []kwarg
	}
	testExpr struct {
		x    expr
		name string
		args []expr
		not  bool
	}
	unaryExpr struct {
		op string
		x  expr
	} // "not", "-", "+"
	binExpr struct {
		op   string
		l, r expr
	}
	compareExpr struct {
		first expr
		ops   []string
		rest  []expr
	}
	concatExpr struct{ parts []expr }
	condExpr   struct{ then, cond, els expr } // els nil: undefined
)

type kwarg struct {
	name string
	v    expr
}

// exprParser follows jinja2/parser.py's precedence: condexpr < or < and < not < compare < + - < ~ <
// * / // % < ** < unary - + < postfix (. [] ()) < filters and tests.
type exprParser struct {
	toks []token
	pos  int
	line int
}

func (p *exprParser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *exprParser) isOp(op string) bool {
	t := p.peek()
	return t != nil && t.kind == tokOp && t.text == op
}

func (p *exprParser) isName(name string) bool {
	t := p.peek()
	return t != nil && t.kind == tokName && t.text == name
}

func (p *exprParser) errorf(format string, args ...any) error {
	return syntaxError(p.line, format, args...)
}

func (p *exprParser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.errorf("expected %q", op)
	}
	p.pos++
	return nil
}

func (p *exprParser) expression(condexpr bool) (expr, error) {
	x, err := p.or()
	if err != nil || !condexpr {
		return x, err
	}
	for p.isName("if") {
		p.pos++
		cond, err := p.or()
		if err != nil {
			return nil, err
		}
		var els expr
		if p.isName("else") {
			p.pos++
			if els, err = p.expression(true); err != nil {
				return nil, err
			}
		}
		x = &condExpr{then: x, cond: cond, els: els}
	}
	return x, nil
}

// keywordChain parses operands joined by the keyword operator kw, left to right.
func (p *exprParser) keywordChain(next func() (expr, error), kw string) (expr, error) {
	x, err := next()
	for err == nil && p.isName(kw) {
		p.pos++
		var r expr
		r, err = next()
		x = &binExpr{op: kw, l: x, r: r}
	}
	return x, err
}

func (p *exprParser) or() (expr, error)  { return p.keywordChain(p.and, "or") }
func (p *exprParser) and() (expr, error) { return p.keywordChain(p.not, "and") }

func (p *exprParser) not() (expr, error) {
	if p.isName("not") {
		p.pos++
		x, err := p.not()
		return &unaryExpr{op: "not", x: x}, err
	}
	return p.compare()
}

func (p *exprParser) compare() (expr, error) {
	x, err := p.math1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{first: x}
	for {
		var op string
		switch t := p.peek(); {
		case t == nil:
		case t.kind == tokOp && slices.Contains([]string{"==", "!=", "<", "<=", ">", ">="}, t.text):
			op = t.text
			p.pos++
		case p.isName("in"):
			op = "in"
			p.pos++
		case p.isName("not") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokName && p.toks[p.pos+1].text == "in":
			op = "not in"
			p.pos += 2
		}
		if op == "" {
			break
		}
		r, err := p.math1()
		if err != nil {
			return nil, err
		}
		c.ops = append(c.ops, op)
		c.rest = append(c.rest, r)
	}
	if len(c.ops) == 0 {
		return x, nil
	}
	return c, nil
}

func (p *exprParser) binary(next func() (expr, error), ops ...string) (expr, error) {
	x, err := next()
	for err == nil {
		t := p.peek()
		if t == nil || t.kind != tokOp || !slices.Contains(ops, t.text) {
			break
		}
		p.pos++
		var r expr
		r, err = next()
		x = &binExpr{op: t.text, l: x, r: r}
	}
	return x, err
}

func (p *exprParser) math1() (expr, error) { return p.binary(p.concat, "+", "-") }

func (p *exprParser) concat() (expr, error) {
	x, err := p.math2()
	if err != nil || !p.isOp("~") {
		return x, err
	}
	c := &concatExpr{parts: []expr{x}}
	for p.isOp("~") {
		p.pos++
		r, err := p.math2()
		if err != nil {
			return nil, err
		}
		c.parts = append(c.parts, r)
	}
	return c, nil
}

func (p *exprParser) math2() (expr, error) { return p.binary(p.pow, "*", "/", "//", "%") }
func (p *exprParser) pow() (expr, error) {
	return p.binary(func() (expr, error) { return p.unary(true) }, "**")
}

func (p *exprParser) unary(withFilter bool) (expr, error) {
	var x expr
	var err error
	switch {
	case p.isOp("-"), p.isOp("+"):
		op := p.peek().text
		p.pos++
		var operand expr
		operand, err = p.unary(false)
		x = &unaryExpr{op: op, x: operand}
	default:
		x, err = p.primary()
	}
	if err == nil {
		x, err = p.postfix(x)
	}
	if err != nil || !withFilter {
		return x, err
	}
	return p.filters(x)
}

func (p *exprParser) primary() (expr, error) {
	t := p.peek()
	if t == nil {
		return nil, p.errorf("unexpected end of expression")
	}
	p.line = t.line
	p.pos++
	switch t.kind {
	case tokName:
		switch t.text {
		case "true", "True":
			return &constExpr{v: true}, nil
		case "false", "False":
			return &constExpr{v: false}, nil
		case "none", "None":
			return &constExpr{v: nil}, nil
		}
		if strings.HasPrefix(t.text, "__") || t.text == "null" {
			return nil, unsupported(t.line, "the name %q", t.text)
		}
		return &nameExpr{name: t.text}, nil
	case tokString:
		s := t.text
		for p.peek() != nil && p.peek().kind == tokString {
			s += p.peek().text
			p.pos++
		}
		return &constExpr{v: s}, nil
	case tokInt:
		var n int64
		if _, err := fmt.Sscan(t.text, &n); err != nil || len(t.text) > 18 {
			return nil, unsupported(t.line, "the integer %s", t.text)
		}
		return &constExpr{v: n}, nil
	case tokFloat:
		return &constExpr{v: floatLit(t.text)}, nil
	}
	switch t.text {
	case "(":
		if p.isOp(")") {
			p.pos++
			return &listExpr{tuple: true}, nil
		}
		x, err := p.expression(true)
		if err != nil {
			return nil, err
		}
		if p.isOp(",") {
			items := []expr{x}
			for p.isOp(",") {
				p.pos++
				if p.isOp(")") {
					break
				}
				it, err := p.expression(true)
				if err != nil {
					return nil, err
				}
				items = append(items, it)
			}
			x = &listExpr{items: items, tuple: true}
		}
		return x, p.expectOp(")")
	case "[":
		l := &listExpr{}
		return l, p.commaSeparated("]", func() error {
			it, err := p.expression(true)
			l.items = append(l.items, it)
			return err
		})
	case "{":
		d := &dictExpr{}
		return d, p.commaSeparated("}", func() error {
			k, err := p.expression(true)
			if err != nil {
				return err
			}
			ks, _ := k.(*constExpr)
			key, isStr := "", false
			if ks != nil {
				key, isStr = ks.v.(string)
			}
			if !isStr {
				return unsupported(p.line, "a dict literal with a key that is not a string literal")
			}
			d.keys = append(d.keys, key)
			if err := p.expectOp(":"); err != nil {
				return err
			}
			v, err := p.expression(true)
			d.vals = append(d.vals, v)
			return err
		})
	}
	return nil, p.errorf("unexpected %q", t.text)
}

// commaSeparated parses items separated by commas, a trailing comma allowed, up to closer, and consumes it.
func (p *exprParser) commaSeparated(closer string, item func() error) error {
	for n := 0; !p.isOp(closer); n++ {
		if p.peek() == nil {
			return p.errorf("expected %q", closer)
		}
		if n > 0 {
			if err := p.expectOp(","); err != nil {
				return err
			}
			if p.isOp(closer) {
				break
			}
		}
		if err := item(); err != nil {
			return err
		}
	}
	p.pos++
	return nil
}

// floatLit is a float literal as written; it is converted at render time.
type floatLit string

func (p *exprParser) postfix(x expr) (expr, error) {
	for {
		switch {
		case p.isOp("."):
			p.pos++
			t := p.peek()
			if t == nil || t.kind != tokName && t.kind != tokInt {
				return nil, p.errorf("expected name or number after '.'")
			}
			p.pos++
			if t.kind == tokInt {
				n, err := p.intOf(t)
				if err != nil {
					return nil, err
				}
				x = &getitemExpr{x: x, key: &constExpr{v: n}}
				continue
			}
			if strings.HasPrefix(t.text, "_") {
				return nil, unsupported(t.line, "the attribute %q", t.text)
			}
			x = &getattrExpr{x: x, name: t.text}
		case p.isOp("["):
			p.pos++
			var err error
			if x, err = p.subscript(x); err != nil {
				return nil, err
			}
		case p.isOp("("):
			var err error
			if x, err = p.call(x); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

func (p *exprParser) intOf(t *token) (int64, error) {
	var n int64
	if _, err := fmt.Sscan(t.text, &n); err != nil {
		return 0, unsupported(t.line, "the integer %s", t.text)
	}
	return n, nil
}

func (p *exprParser) subscript(x expr) (expr, error) {
	var parts [3]expr
	i := 0
	for {
		if p.isOp("]") {
			p.pos++
			break
		}
		if p.isOp(":") {
			if i == 2 {
				return nil, p.errorf("too many ':' in a subscript")
			}
			i++
			p.pos++
			continue
		}
		if parts[i] != nil {
			return nil, unsupported(p.line, "a tuple subscript")
		}
		e, err := p.expression(true)
		if err != nil {
			return nil, err
		}
		parts[i] = e
	}
	if i == 0 {
		if parts[0] == nil {
			return nil, p.errorf("empty subscript")
		}
		return &getitemExpr{x: x, key: parts[0]}, nil
	}
	return &sliceExpr{x: x, start: parts[0], stop: parts[1], step: parts[2]}, nil
}

func (p *exprParser) callArgs() ([]expr, []kwarg, error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	var args []expr
	var kwargs []kwarg
	for !p.isOp(")") {
		if len(args)+len(kwargs) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, err
			}
			if p.isOp(")") {
				break
			}
		}
		if p.isOp("*") || p.isOp("**") {
			return nil, nil, unsupported(p.line, "*args or **kwargs in a call")
		}
		t := p.peek()
		if t != nil && t.kind == tokName && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tokOp && p.toks[p.pos+1].text == "=" {
			p.pos += 2
			v, err := p.expression(true)
			if err != nil {
				return nil, nil, err
			}
			kwargs = append(kwargs, kwarg{name: t.text, v: v})
			continue
		}
		if len(kwargs) > 0 {
			return nil, nil, p.errorf("positional argument after a keyword argument")
		}
		v, err := p.expression(true)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, v)
	}
	p.pos++
	return args, kwargs, nil
}

func (p *exprParser) call(fn expr) (expr, error) {
	args, kwargs, err := p.callArgs()
	return &callExpr{fn: fn, args: args, kwargs: kwargs}, err
}

func (p *exprParser) dottedName() (string, error) {
	t := p.peek()
	if t == nil || t.kind != tokName {
		return "", p.errorf("expected a name")
	}
	p.pos++
	name := t.text
	for p.isOp(".") {
		return "", unsupported(t.line, "the dotted name %s.…", name)
	}
	return name, nil
}

func (p *exprParser) filters(x expr) (expr, error) {
	for {
		switch {
		case p.isOp("|"):
			p.pos++
			name, err := p.dottedName()
			if err != nil {
				return nil, err
			}
			f := &filterExpr{x: x, name: name}
			if p.isOp("(") {
				if f.args, f.kwargs, err = p.callArgs(); err != nil {
					return nil, err
				}
			}
			x = f
		case p.isName("is"):
			p.pos++
			t := &testExpr{x: x}
			if p.isName("not") {
				p.pos++
				t.not = true
			}
			var err error
			if t.name, err = p.dottedName(); err != nil {
				return nil, err
			}
			n := p.peek()
			switch {
			case p.isOp("("):
				var kwargs []kwarg
				if t.args, kwargs, err = p.callArgs(); err != nil {
					return nil, err
				}
				if len(kwargs) > 0 {
					return nil, unsupported(p.line, "keyword arguments to a test")
				}
			case n != nil && (n.kind == tokString || n.kind == tokInt || n.kind == tokFloat || n.kind == tokOp && (n.text == "[" || n.text == "{") ||
				n.kind == tokName && !slices.Contains([]string{"else", "or", "and"}, n.text)):
				if n.kind == tokName && n.text == "is" {
					return nil, p.errorf("unexpected 'is'")
				}
				arg, err := p.primary()
				if err != nil {
					return nil, err
				}
				if arg, err = p.postfix(arg); err != nil {
					return nil, err
				}
				t.args = []expr{arg}
			}
			x = t
		case p.isOp("("):
			var err error
			if x, err = p.call(x); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

// parseExprTokens parses toks[from:] as one expression that must use them all.
func parseExprTokens(toks []token, line int, condexpr bool) (expr, error) {
	p := &exprParser{toks: toks, line: line}
	x, err := p.expression(condexpr)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t != nil {
		return nil, syntaxError(t.line, "unexpected %q", t.text)
	}
	return x, nil
}

// Statements.

type node interface{}

type (
	dataNode   struct{ s string }
	outputNode struct{ x expr }
	ifNode     struct {
		conds  []expr
		bodies [][]node // one per cond, then the else body if any
	}
	forNode struct {
		targets []string
		iter    expr
		filter  expr
		body    []node
		els     []node
	}
	setNode struct {
		target, attr string
		x            expr
	}
	setBlockNode struct {
		target string
		body   []node
	}
	macroNode struct {
		name     string
		params   []string
		defaults []expr // nil: none
		body     []node
	}
	breakNode    struct{}
	continueNode struct{}
)

type stmtParser struct {
	segs []segment
	pos  int
}

func keyword(s *segment) string {
	if s.kind == segBlock && len(s.toks) > 0 && s.toks[0].kind == tokName {
		return s.toks[0].text
	}
	return ""
}

// body parses nodes up to a block whose keyword is in stop (not consumed), or the end when stop is empty.
func (p *stmtParser) body(stop ...string) ([]node, error) {
	var nodes []node
	for p.pos < len(p.segs) {
		s := &p.segs[p.pos]
		switch s.kind {
		case segData:
			nodes = append(nodes, &dataNode{s: s.data})
			p.pos++
			continue
		case segVar:
			x, err := parseExprTokens(s.toks, s.line, true)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, &outputNode{x: x})
			p.pos++
			continue
		}
		kw := keyword(s)
		if slices.Contains(stop, kw) {
			return nodes, nil
		}
		n, err := p.statement(s, kw)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n...)
	}
	if len(stop) > 0 {
		return nil, syntaxError(p.segs[len(p.segs)-1].line, "unexpected end of template, expected %s", strings.Join(stop, " or "))
	}
	return nodes, nil
}

func (p *stmtParser) expectEnd(kw string) (*segment, error) {
	if p.pos >= len(p.segs) || keyword(&p.segs[p.pos]) != kw {
		return nil, syntaxError(p.segs[len(p.segs)-1].line, "expected %s", kw)
	}
	s := &p.segs[p.pos]
	p.pos++
	return s, nil
}

func (p *stmtParser) statement(s *segment, kw string) ([]node, error) {
	toks := s.toks
	p.pos++
	onlyKeyword := func() error {
		if len(toks) != 1 {
			return syntaxError(s.line, "unexpected %q after %s", toks[1].text, kw)
		}
		return nil
	}
	switch kw {
	case "if":
		n := &ifNode{}
		cond, err := parseExprTokens(toks[1:], s.line, true)
		for err == nil {
			n.conds = append(n.conds, cond)
			var b []node
			if b, err = p.body("elif", "else", "endif"); err != nil {
				return nil, err
			}
			n.bodies = append(n.bodies, b)
			e := &p.segs[p.pos]
			p.pos++
			switch keyword(e) {
			case "elif":
				cond, err = parseExprTokens(e.toks[1:], e.line, true)
				continue
			case "else":
				if len(e.toks) != 1 {
					return nil, syntaxError(e.line, "unexpected tokens after else")
				}
				if b, err = p.body("endif"); err != nil {
					return nil, err
				}
				n.bodies = append(n.bodies, b)
				p.pos++
			}
			return []node{n}, nil
		}
		return nil, err
	case "for":
		return p.forStmt(s)
	case "set":
		if len(toks) < 2 || toks[1].kind != tokName {
			return nil, syntaxError(s.line, "expected a name after set")
		}
		name := toks[1].text
		if strings.HasPrefix(name, "__") || name == "loop" {
			return nil, unsupported(s.line, "assigning to %q", name)
		}
		rest := toks[2:]
		if len(rest) == 0 {
			b, err := p.body("endset")
			if err != nil {
				return nil, err
			}
			p.pos++
			return []node{&setBlockNode{target: name, body: b}}, nil
		}
		n := &setNode{target: name}
		if rest[0].kind == tokOp && rest[0].text == "." && len(rest) > 1 && rest[1].kind == tokName {
			n.attr = rest[1].text
			rest = rest[2:]
		}
		if len(rest) == 0 || rest[0].kind != tokOp || rest[0].text != "=" {
			return nil, unsupported(s.line, "this form of set")
		}
		x, err := parseExprTokens(rest[1:], s.line, true)
		if err != nil {
			return nil, err
		}
		n.x = x
		return []node{n}, nil
	case "macro":
		return p.macro(s)
	case "break":
		return []node{&breakNode{}}, onlyKeyword()
	case "continue":
		return []node{&continueNode{}}, onlyKeyword()
	case "generation":
		// transformers' AssistantTracker tag: the body renders unchanged.
		if err := onlyKeyword(); err != nil {
			return nil, err
		}
		b, err := p.body("endgeneration")
		if err != nil {
			return nil, err
		}
		p.pos++
		return b, nil
	case "":
		return nil, syntaxError(s.line, "expected a statement keyword")
	case "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration", "endraw", "endcall", "endfilter":
		return nil, syntaxError(s.line, "unexpected %q", kw)
	}
	return nil, unsupported(s.line, "the %q statement", kw)
}

func (p *stmtParser) forStmt(s *segment) ([]node, error) {
	toks := s.toks[1:]
	n := &forNode{}
	i := 0
	paren := len(toks) > 0 && toks[0].kind == tokOp && toks[0].text == "("
	if paren {
		i++
	}
	for i < len(toks) && toks[i].kind == tokName && toks[i].text != "in" {
		n.targets = append(n.targets, toks[i].text)
		i++
		if i < len(toks) && toks[i].kind == tokOp && toks[i].text == "," {
			i++
		}
	}
	if paren {
		if i >= len(toks) || toks[i].text != ")" {
			return nil, syntaxError(s.line, "expected ')' in for")
		}
		i++
	}
	if len(n.targets) == 0 || len(n.targets) > 2 || i >= len(toks) || toks[i].kind != tokName || toks[i].text != "in" {
		return nil, unsupported(s.line, "this form of for")
	}
	for _, t := range n.targets {
		if strings.HasPrefix(t, "__") || t == "loop" {
			return nil, unsupported(s.line, "the loop variable %q", t)
		}
	}
	rest := toks[i+1:]
	p2 := &exprParser{toks: rest, line: s.line}
	iter, err := p2.expression(false)
	if err != nil {
		return nil, err
	}
	n.iter = iter
	if p2.isName("if") {
		p2.pos++
		if n.filter, err = p2.expression(false); err != nil {
			return nil, err
		}
	}
	if p2.isName("recursive") {
		return nil, unsupported(s.line, "recursive for loops")
	}
	if t := p2.peek(); t != nil {
		return nil, unsupported(s.line, "%q in a for statement", t.text)
	}
	if n.body, err = p.body("else", "endfor"); err != nil {
		return nil, err
	}
	if keyword(&p.segs[p.pos]) == "else" {
		p.pos++
		if n.els, err = p.body("endfor"); err != nil {
			return nil, err
		}
		if n.els == nil {
			n.els = []node{}
		}
	}
	p.pos++
	return []node{n}, nil
}

func (p *stmtParser) macro(s *segment) ([]node, error) {
	toks := s.toks
	if len(toks) < 3 || toks[1].kind != tokName || toks[2].text != "(" {
		return nil, syntaxError(s.line, "expected macro NAME(…)")
	}
	n := &macroNode{name: toks[1].text}
	if strings.HasPrefix(n.name, "__") {
		return nil, unsupported(s.line, "the macro name %q", n.name)
	}
	i := 3
	for i < len(toks) && toks[i].text != ")" {
		if toks[i].kind != tokName {
			return nil, syntaxError(s.line, "expected a parameter name")
		}
		if strings.HasPrefix(toks[i].text, "__") {
			return nil, unsupported(s.line, "the macro parameter %q", toks[i].text)
		}
		n.params = append(n.params, toks[i].text)
		i++
		var def expr
		if i < len(toks) && toks[i].text == "=" {
			// Defaults are literals: the engine underneath splits the parameter list on commas.
			if i+1 >= len(toks) || toks[i+1].kind == tokOp || toks[i+1].kind == tokName && !slices.Contains([]string{"true", "false", "none", "True", "False", "None"}, toks[i+1].text) ||
				strings.ContainsAny(toks[i+1].text, ",()=") {
				return nil, unsupported(s.line, "a macro parameter default that is not a simple literal")
			}
			d, err := parseExprTokens(toks[i+1:i+2], s.line, true)
			if err != nil {
				return nil, err
			}
			def = d
			i += 2
		}
		n.defaults = append(n.defaults, def)
		if i < len(toks) && toks[i].text == "," {
			i++
		}
	}
	if i != len(toks)-1 {
		return nil, syntaxError(s.line, "unexpected tokens in macro definition")
	}
	b, err := p.body("endmacro")
	if err != nil {
		return nil, err
	}
	p.pos++
	n.body = b
	return []node{n}, nil
}
