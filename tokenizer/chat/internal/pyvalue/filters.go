package pyvalue

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ardanlabs/jinja"
)

// filter applies the filter a[0] to a[1] with the arguments a[2:], as jinja2/filters.py does (tojson is
// transformers' json.dumps).
func filter(a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	name, x, args := a[0].AsString(), a[1], a[2:]
	switch name {
	case "tojson":
		if err := checkArgs("tojson", args, kw, 4, "ensure_ascii", "indent", "separators", "sort_keys"); err != nil {
			return undef, err
		}
		o := DumpOptions{
			EnsureASCII: truthy(argOr(args, kw, 0, "ensure_ascii", jinja.NewBool(false))),
			SortKeys:    truthy(argOr(args, kw, 3, "sort_keys", jinja.NewBool(false))),
		}
		switch ind := argOr(args, kw, 1, "indent", jinja.None()); {
		case ind.IsNone():
		case ind.IsInt():
			s := strings.Repeat(" ", max(int(ind.AsInt()), 0))
			o.Indent = &s
		default:
			s, ok := IsStr(ind)
			if !ok {
				return undef, notExact("tojson with indent=%s", typeName(ind))
			}
			o.Indent = &s
		}
		o.ItemSep, o.KeySep = ", ", ": "
		if o.Indent != nil {
			o.ItemSep = ","
		}
		if sep := argOr(args, kw, 2, "separators", jinja.None()); !sep.IsNone() {
			items, ok := seq(sep)
			if !ok || len(items) != 2 {
				return undef, notExact("tojson separators that are not two strings")
			}
			s1, ok1 := IsStr(items[0])
			s2, ok2 := IsStr(items[1])
			if !ok1 || !ok2 {
				return undef, notExact("tojson separators that are not two strings")
			}
			o.ItemSep, o.KeySep = s1, s2
		}
		s, err := Dumps(x, o)
		return str(s), err
	case "trim":
		if err := checkArgs(name, args, kw, 1, "chars"); err != nil {
			return undef, err
		}
		s, err := pyStr(x)
		if err != nil {
			return undef, err
		}
		r, err := pyStrip(s, argOr(args, kw, 0, "chars", jinja.None()), true, true)
		return str(r), err
	case "length", "count":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		if s, ok := IsStr(x); ok {
			return jinja.NewInt(int64(len([]rune(s)))), nil
		}
		if items, ok := seq(x); ok {
			return jinja.NewInt(int64(len(items))), nil
		}
		switch {
		case x.IsDict():
			return jinja.NewInt(int64(x.AsDict().Len())), nil
		case x.IsUndefined():
			return jinja.NewInt(0), nil
		}
		return undef, typeErr("object of type '%s' has no len()", typeName(x))
	case "string", "safe":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		if name == "safe" && isMarkup(x) {
			return x, nil
		}
		s, err := pyStr(x)
		if name == "safe" {
			return markup(s), err
		}
		return str(s), err
	case "lower", "upper", "capitalize":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		s, err := pyStr(x)
		if err != nil {
			return undef, err
		}
		return strMethod(s, name, nil, nil)
	case "replace":
		if err := checkArgs(name, args, kw, 3, "count"); err != nil {
			return undef, err
		}
		s, err := pyStr(x)
		if err != nil {
			return undef, err
		}
		oldS, err1 := pyStr(argOr(args, nil, 0, "", undef))
		newS, err2 := pyStr(argOr(args, nil, 1, "", undef))
		if err1 != nil || err2 != nil || len(args) < 2 {
			return undef, typeErr("replace() needs two arguments")
		}
		if isMarkup(x) {
			return undef, notExact("replace on a Markup string")
		}
		count := argOr(args, kw, 2, "count", jinja.None())
		n := -1
		if !count.IsNone() {
			if n, err = intArg(count, -1); err != nil {
				return undef, err
			}
		}
		return str(strings.Replace(s, oldS, newS, n)), nil
	case "join":
		if err := checkArgs(name, args, kw, 2, "d", "attribute"); err != nil {
			return undef, err
		}
		items, err := iterate(x)
		if err != nil {
			return undef, err
		}
		sep, err := pyStr(argOr(args, kw, 0, "d", str("")))
		if err != nil {
			return undef, err
		}
		attr := argOr(args, kw, 1, "attribute", jinja.None())
		var parts []string
		for _, it := range items {
			if !attr.IsNone() {
				if it, err = attrGetter(it, attr); err != nil {
					return undef, err
				}
			}
			if isMarkup(it) {
				return undef, notExact("join of Markup strings")
			}
			s, err := pyStr(it)
			if err != nil {
				return undef, err
			}
			parts = append(parts, s)
		}
		return str(strings.Join(parts, sep)), nil
	case "default", "d":
		if err := checkArgs(name, args, kw, 2, "default_value", "boolean"); err != nil {
			return undef, err
		}
		def := argOr(args, kw, 0, "default_value", str(""))
		if x.IsUndefined() || truthy(argOr(args, kw, 1, "boolean", jinja.NewBool(false))) && !truthy(x) {
			return def, nil
		}
		return x, nil
	case "first", "last":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		items, err := iterate(x)
		if err != nil {
			return undef, err
		}
		if len(items) == 0 {
			return undef, nil
		}
		if name == "first" {
			return items[0], nil
		}
		if x.IsUndefined() {
			return undef, undefinedErr("reversed() of an undefined value")
		}
		return items[len(items)-1], nil
	case "list":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		items, err := iterate(x)
		return jinja.NewList(slices.Clone(items)), err
	case "reverse":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		if s, ok := IsStr(x); ok {
			r := []rune(s)
			slices.Reverse(r)
			return str(string(r)), nil
		}
		all, ok := seq(x)
		if !ok {
			return undef, notExact("reverse of a %s", typeName(x))
		}
		items := slices.Clone(all)
		slices.Reverse(items)
		return jinja.NewList(items), nil
	case "items":
		if err := checkArgs(name, args, kw, 0); err != nil {
			return undef, err
		}
		if x.IsUndefined() {
			return jinja.NewList(nil), nil
		}
		if !x.IsDict() {
			return undef, typeErr("Can only get item pairs from a mapping.")
		}
		return method(x, "items", nil, nil)
	case "sort":
		return sortFilter(x, args, kw)
	case "dictsort":
		return dictsortFilter(x, args, kw)
	case "map", "select", "reject", "selectattr", "rejectattr":
		return selectFilter(name, x, args, kw)
	case "int":
		if err := checkArgs(name, args, kw, 2, "default", "base"); err != nil {
			return undef, err
		}
		def := argOr(args, kw, 0, "default", jinja.NewInt(0))
		if _, ok := kw["base"]; ok || len(args) > 1 {
			return undef, notExact("int with a base")
		}
		if i, f, isF, ok := number(x); ok {
			if isF {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return def, nil
				}
				return checkedInt(math.Trunc(f), true)
			}
			return jinja.NewInt(i), nil
		}
		if s, ok := IsStr(x); ok {
			s = strings.TrimFunc(s, IsSpace)
			switch {
			case intRe.MatchString(s):
				n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
				if err != nil {
					return undef, notExact("an integer beyond 64 bits")
				}
				return jinja.NewInt(n), nil
			case floatRe.MatchString(s):
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return undef, notExact("the int filter on the string %q", s)
				}
				return checkedInt(math.Trunc(f), true)
			case !strings.ContainsFunc(strings.ToLower(s), func(r rune) bool { return unicode.IsDigit(r) || strings.ContainsRune("infa", r) }):
				return def, nil // neither int() nor float() reads it
			}
			return undef, notExact("the int filter on the string %q", s)
		}
		if x.IsList() || isTuple(x) || x.IsDict() || x.IsNone() || x.IsUndefined() {
			return def, nil
		}
		return undef, notExact("the int filter on a %s", typeName(x))
	case "abs":
		return negateAbs(x)
	}
	return undef, notExact("the filter %s", name)
}

// intRe and floatRe are the strings Python's int(s) and (without underscores, inf and nan) float(s) read.
var (
	intRe   = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)
	floatRe = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)
)

func negateAbs(x jinja.Value) (jinja.Value, error) {
	i, f, isF, ok := number(x)
	switch {
	case !ok:
		return undef, typeErr("bad operand type for abs(): '%s'", typeName(x))
	case isF:
		return jinja.NewFloat(math.Abs(f)), nil
	case i < 0:
		return jinja.NewInt(-i), nil
	}
	return jinja.NewInt(i), nil
}

// attrGetter is Jinja2's make_attrgetter: a dotted path, each part looked up with getitem (integers as
// indexes).
func attrGetter(x, attr jinja.Value) (jinja.Value, error) {
	if i, _, isF, ok := number(attr); ok && !isF {
		return getitem(x, jinja.NewInt(i))
	}
	path, ok := IsStr(attr)
	if !ok {
		return undef, notExact("an attribute that is not a string")
	}
	for _, part := range strings.Split(path, ".") {
		key := str(part)
		if n, err := strconv.Atoi(part); err == nil && strconv.Itoa(n) == part {
			key = jinja.NewInt(int64(n))
		}
		var err error
		if x, err = getitem(x, key); err != nil {
			return undef, err
		}
	}
	return x, nil
}

// selectFilter is map, select, reject, selectattr and rejectattr.
func selectFilter(name string, x jinja.Value, args []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	items, err := iterate(x)
	if err != nil {
		return undef, err
	}
	var out []jinja.Value
	if name == "map" {
		attr, hasAttr := kw["attribute"]
		def, hasDef := kw["default"]
		if !hasAttr || len(args) > 0 || len(kw) > 1+btoi(hasDef) {
			return undef, notExact("map with a filter name")
		}
		for _, it := range items {
			v, err := attrGetter(it, attr)
			if err != nil {
				return undef, err
			}
			if v.IsUndefined() && hasDef {
				v = def
			}
			out = append(out, v)
		}
		return jinja.NewList(out), nil
	}
	if len(kw) > 0 {
		return undef, notExact("%s with keyword arguments", name)
	}
	byAttr := strings.HasSuffix(name, "attr")
	var attr jinja.Value
	if byAttr {
		if len(args) == 0 {
			return undef, typeErr("%s needs an attribute", name)
		}
		attr, args = args[0], args[1:]
	}
	want := strings.HasPrefix(name, "select")
	for _, it := range items {
		v := it
		if byAttr {
			if v, err = attrGetter(it, attr); err != nil {
				return undef, err
			}
		}
		var ok bool
		if len(args) == 0 {
			ok = truthy(v)
		} else {
			tn, isS := IsStr(args[0])
			if !isS || !slices.Contains(Tests, tn) {
				return undef, notExact("%s with the test %v", name, args[0])
			}
			r, err := test(append([]jinja.Value{str(tn), v}, args[1:]...), nil)
			if err != nil {
				return undef, err
			}
			ok = r.AsBool()
		}
		if ok == want {
			out = append(out, it)
		}
	}
	return jinja.NewList(out), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// test is `a[1] is a[0](a[2:]…)`, as jinja2/tests.py defines the tests.
func test(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	name, x, args := a[0].AsString(), a[1], a[2:]
	arg := func() (jinja.Value, error) {
		if len(args) != 1 {
			return undef, typeErr("the test %s takes 1 argument", name)
		}
		return args[0], nil
	}
	b := func(v bool) (jinja.Value, error) { return jinja.NewBool(v), nil }
	_, isS := IsStr(x)
	_, _, _, isNum := number(x)
	switch name {
	case "defined":
		return b(!x.IsUndefined())
	case "undefined":
		return b(x.IsUndefined())
	case "none":
		return b(x.IsNone())
	case "boolean":
		return b(x.IsBool())
	case "true":
		return b(x.IsBool() && x.AsBool())
	case "false":
		return b(x.IsBool() && !x.AsBool())
	case "integer":
		return b(x.IsInt())
	case "float":
		return b(x.IsFloat())
	case "number":
		return b(isNum)
	case "string":
		return b(isS)
	case "mapping":
		return b(x.IsDict())
	case "iterable", "sequence":
		return b(isS || x.IsList() || isTuple(x) || x.IsDict() || x.IsUndefined())
	case "callable":
		return b(isFunc(x))
	case "odd", "even", "divisibleby":
		d := jinja.NewInt(2)
		if name == "divisibleby" {
			var err error
			if d, err = arg(); err != nil {
				return undef, err
			}
		}
		m, err := binary([]jinja.Value{str("%"), x, d}, nil)
		if err != nil {
			return undef, err
		}
		if name == "odd" {
			return b(pyEqual(m, jinja.NewInt(1)))
		}
		return b(pyEqual(m, jinja.NewInt(0)))
	case "lower", "upper":
		s, err := pyStr(x)
		if err != nil {
			return undef, err
		}
		if err := caseMappable(s); err != nil {
			return undef, err
		}
		cased, other := false, false
		for _, r := range s {
			lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
			if lo != up {
				cased = true
				if name == "lower" && string(r) != lo || name == "upper" && string(r) != up {
					other = true
				}
			}
		}
		return b(cased && !other)
	case "sameas":
		y, err := arg()
		if err != nil {
			return undef, err
		}
		switch {
		case x.IsNone() || y.IsNone() || x.IsBool() || y.IsBool():
			return b(x.IsNone() && y.IsNone() || x.IsBool() && y.IsBool() && x.AsBool() == y.AsBool())
		case x.IsUndefined() || y.IsUndefined():
			return b(false)
		}
		return undef, notExact("sameas between %s and %s", typeName(x), typeName(y))
	case "in":
		y, err := arg()
		if err != nil {
			return undef, err
		}
		in, err := pyContains(y, x)
		return jinja.NewBool(in), err
	}
	ops := map[string]string{"eq": "==", "equalto": "==", "==": "==", "ne": "!=", "!=": "!=", "lt": "<", "lessthan": "<",
		"<": "<", "le": "<=", "<=": "<=", "gt": ">", "greaterthan": ">", ">": ">", "ge": ">=", ">=": ">="}
	if op, ok := ops[name]; ok {
		y, err := arg()
		if err != nil {
			return undef, err
		}
		return compare([]jinja.Value{x, str(op), y}, nil)
	}
	return undef, notExact("the test %s", name)
}

// sortFilter is do_sort(value, reverse=False, case_sensitive=False, attribute=None): a stable sort, strings
// compared lowercased unless case_sensitive.
func sortFilter(x jinja.Value, args []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	if err := checkArgs("sort", args, kw, 3, "reverse", "case_sensitive", "attribute"); err != nil {
		return undef, err
	}
	items, err := iterate(x)
	if err != nil {
		return undef, err
	}
	reverse := truthy(argOr(args, kw, 0, "reverse", jinja.NewBool(false)))
	caseSensitive := truthy(argOr(args, kw, 1, "case_sensitive", jinja.NewBool(false)))
	attr := argOr(args, kw, 2, "attribute", jinja.None())
	keys := make([]jinja.Value, len(items))
	for i, it := range items {
		k := it
		if !attr.IsNone() {
			if k, err = attrGetter(it, attr); err != nil {
				return undef, err
			}
		}
		if s, ok := IsStr(k); ok && !caseSensitive {
			l, err := pyLower(s)
			if err != nil {
				return undef, err
			}
			k = str(l)
		}
		keys[i] = k
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	var cmpErr error
	slices.SortStableFunc(order, func(a, b int) int {
		c, err := pyCompare(keys[a], keys[b])
		if err != nil && cmpErr == nil {
			cmpErr = err
		}
		if reverse {
			return -c
		}
		return c
	})
	if cmpErr != nil {
		return undef, cmpErr
	}
	out := make([]jinja.Value, len(items))
	for i, j := range order {
		out[i] = items[j]
	}
	return jinja.NewList(out), nil
}

// dictsortFilter is do_dictsort(value, case_sensitive=False, by="key", reverse=False): the (key, value)
// pairs sorted by key or by value.
func dictsortFilter(x jinja.Value, args []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	if err := checkArgs("dictsort", args, kw, 3, "case_sensitive", "by", "reverse"); err != nil {
		return undef, err
	}
	if !x.IsDict() {
		return undef, typeErr("dictsort of a %s", typeName(x))
	}
	pairs, err := method(x, "items", nil, nil)
	if err != nil {
		return undef, err
	}
	by, _ := IsStr(argOr(args, kw, 1, "by", str("key")))
	pos := map[string]int64{"key": 0, "value": 1}
	i, ok := pos[by]
	if !ok {
		return undef, &Error{Kind: "FilterArgumentError", Msg: "You can only sort by either \"key\" or \"value\""}
	}
	kwargs := map[string]jinja.Value{"case_sensitive": argOr(args, kw, 0, "case_sensitive", jinja.NewBool(false)),
		"reverse": argOr(args, kw, 2, "reverse", jinja.NewBool(false)), "attribute": jinja.NewInt(i)}
	return sortFilter(pairs, nil, kwargs)
}
