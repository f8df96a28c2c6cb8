package pyvalue

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ardanlabs/jinja"
)

// The functions the emitted template calls, registered in its render scope. Each follows Jinja2 3.1 in
// transformers' ImmutableSandboxedEnvironment: the sandbox's getattr and getitem, the filters and tests of
// jinja2/filters.py and jinja2/tests.py, Python's operators, and transformers' tojson, raise_exception and
// strftime_now.

// The names package jinja2 checks a template against: what is not listed is refused when parsing.
var (
	// Filters are the filters filter implements.
	Filters = []string{"abs", "capitalize", "count", "d", "default", "dictsort", "first", "int", "items", "join", "last",
		"length", "list", "lower", "map", "reject", "rejectattr", "replace", "reverse", "safe", "select",
		"selectattr", "sort", "string", "tojson", "trim", "upper"}
	// Tests are the tests test implements.
	Tests = []string{"!=", "<", "<=", "==", ">", ">=", "boolean", "callable", "defined", "divisibleby", "eq",
		"equalto", "even", "false", "float", "ge", "greaterthan", "gt", "in", "integer", "iterable", "le",
		"lessthan", "lower", "lt", "mapping", "ne", "none", "number", "odd", "sameas", "sequence", "string",
		"true", "undefined", "upper"}
	// Methods are the methods a template may call (the mutators raise SecurityError).
	Methods    = slices.Concat(strMethods, dictMethods, mutators, []string{"cycle"})
	strMethods = []string{"capitalize", "count", "endswith", "find", "join", "lower", "lstrip", "replace", "rfind",
		"rsplit", "rstrip", "split", "startswith", "strip", "upper"}
	dictMethods = []string{"get", "items", "keys", "values"}
	// mutators are the methods ImmutableSandboxedEnvironment refuses on lists and dicts (a SecurityError).
	mutators = []string{"append", "clear", "extend", "insert", "pop", "popitem", "remove", "reverse", "setdefault", "sort", "update"}
	// Globals are the functions a template may call by name; Scope registers each as "__" + name.
	Globals = []string{"dict", "namespace", "raise_exception", "range", "strftime_now"}
)

type fn = func(args []jinja.Value, kwargs map[string]jinja.Value) (jinja.Value, error)

var undef = jinja.Undefined()

func str(s string) jinja.Value { return jinja.NewString(s) }

// builtins are the functions every render shares.
var builtins = func() map[string]jinja.Value {
	fns := map[string]fn{
		"__str": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			s, err := pyStr(a[0])
			return str(s), err
		},
		"__bool": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return jinja.NewBool(truthy(a[0])), nil
		},
		"__undefined": func([]jinja.Value, map[string]jinja.Value) (jinja.Value, error) { return undef, nil },
		"__float": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			f, err := strconv.ParseFloat(a[0].AsString(), 64)
			return jinja.NewFloat(f), err
		},
		"__kw": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return jinja.NewCallable("\x00kw:"+a[0].AsString(), nil), nil
		},
		"__tuple": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return tuple(slices.Clone(a)), nil
		},
		"__dict": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			d := jinja.NewDict()
			for i := 0; i+1 < len(a); i += 2 {
				d.AsDict().Set(a[i].AsString(), a[i+1])
			}
			return d, nil
		},
		"__namespace": namespaceFn,
		"__dictcall":  namespaceFn,
		"__getattr": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return getattr(a[0], a[1].AsString())
		},
		"__getitem": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) { return getitem(a[0], a[1]) },
		"__slice": func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			return slice(a[0], a[1], a[2], a[3])
		},
		"__call":    callMethod,
		"__filter":  filter,
		"__test":    test,
		"__bin":     binary,
		"__compare": compare,
		"__concat":  concat,
		"__neg":     func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) { return negate(a[0], true) },
		"__pos":     func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) { return negate(a[0], false) },
		"__iter":    iterFn,
		"__range":   rangeFn,
	}
	out := make(map[string]jinja.Value, len(fns))
	for name, f := range fns {
		out[name] = jinja.NewCallable(name, f)
	}
	return out
}()

// Scope returns the functions of one render, the names the translated template calls: now is
// strftime_now's clock, and raise makes the error of raise_exception(message).
func Scope(now func() time.Time, raise func(message string) error) map[string]jinja.Value {
	out := make(map[string]jinja.Value, len(builtins)+8)
	for name, v := range builtins {
		out[name] = v
	}
	out["__raise_exception"] = jinja.NewCallable("__raise_exception", func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(a) != 1 {
			return undef, typeErr("raise_exception() takes 1 argument")
		}
		s, err := pyStr(a[0])
		if err != nil {
			return undef, err
		}
		return undef, raise(s)
	})
	out["__strftime_now"] = jinja.NewCallable("__strftime_now", func(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if len(a) != 1 {
			return undef, typeErr("strftime_now() takes 1 argument")
		}
		f, ok := IsStr(a[0])
		if !ok {
			return undef, typeErr("strftime() argument 1 must be str")
		}
		s, err := strftime(now(), f)
		return str(s), err
	})
	return out
}

// namespaceFn is namespace(...) and dict(...): dict(*args, **kwargs), keyword arguments in order.
func namespaceFn(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	d := jinja.NewDict()
	for i := 0; i < len(a); i++ {
		if a[i].IsCallable() && strings.HasPrefix(a[i].AsCallable().Name, "\x00kw:") {
			d.AsDict().Set(strings.TrimPrefix(a[i].AsCallable().Name, "\x00kw:"), a[i+1])
			i++
			continue
		}
		if !a[i].IsDict() || i > 0 {
			return undef, notExact("namespace() or dict() with a positional argument that is not one mapping")
		}
		for _, k := range a[i].AsDict().Keys {
			d.AsDict().Set(k, a[i].AsDict().Data[k])
		}
	}
	return d, nil
}

func boundMethod(recv jinja.Value, name string) jinja.Value {
	return jinja.NewCallable(methodPrefix+name, func(a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
		return method(recv, name, a, kw)
	})
}

// getattr is the sandbox's getattr(obj, name): a Python attribute (a method) first, then the item.
func getattr(x jinja.Value, name string) (jinja.Value, error) {
	if x.IsUndefined() {
		return undef, undefinedErr("'%s' is undefined (getting attribute %q)", "value", name)
	}
	if _, ok := IsStr(x); ok {
		if slices.Contains(strMethods, name) {
			return boundMethod(x, name), nil
		}
		return undef, nil
	}
	switch {
	case x.IsDict():
		switch {
		case slices.Contains(dictMethods, name):
			return boundMethod(x, name), nil
		case slices.Contains([]string{"clear", "pop", "popitem", "setdefault", "update"}, name):
			return undef, nil // the sandbox's unsafe undefined
		case slices.Contains([]string{"copy", "fromkeys"}, name):
			return undef, notExact("dict.%s", name)
		}
		if v, ok := x.AsDict().Get(name); ok {
			return v, nil
		}
	case x.IsList():
		if slices.Contains([]string{"copy", "count", "index"}, name) {
			return undef, notExact("list.%s", name)
		}
	}
	return undef, nil
}

// getitem is the sandbox's getitem(obj, key): obj[key], else the attribute named key, else undefined.
func getitem(x, key jinja.Value) (jinja.Value, error) {
	if x.IsUndefined() {
		return undef, undefinedErr("'%s' is undefined (getting an item)", "value")
	}
	s, isS := IsStr(x)
	i, _, isF, isNum := number(key)
	switch {
	case isS && isNum && !isF:
		r := []rune(s)
		if i < 0 {
			i += int64(len(r))
		}
		if i >= 0 && i < int64(len(r)) {
			return str(string(r[i])), nil
		}
		return undef, nil
	case (x.IsList() || isTuple(x)) && isNum && !isF:
		items, _ := seq(x)
		if i < 0 {
			i += int64(len(items))
		}
		if i >= 0 && i < int64(len(items)) {
			return items[i], nil
		}
		return undef, nil
	case x.IsDict():
		if k, ok := IsStr(key); ok {
			if v, ok := x.AsDict().Get(k); ok {
				return v, nil
			}
		} else if !key.IsList() && !key.IsDict() {
			return undef, nil // other keys are never present: objects only have string keys
		}
	}
	if k, ok := IsStr(key); ok {
		return getattr(x, k)
	}
	return undef, nil
}

// slice is x[start:stop:step] for a list or a str.
func slice(x, start, stop, step jinja.Value) (jinja.Value, error) {
	if x.IsUndefined() {
		return undef, undefinedErr("'%s' is undefined (slicing)", "value")
	}
	var n int
	s, isS := IsStr(x)
	var runes []rune
	switch {
	case isS:
		runes = []rune(s)
		n = len(runes)
	case x.IsList() || isTuple(x):
		items, _ := seq(x)
		n = len(items)
	default:
		return undef, nil
	}
	idx := func(v jinja.Value) (int, bool, error) {
		if v.IsNone() {
			return 0, false, nil
		}
		i, _, isF, ok := number(v)
		if !ok || isF {
			return 0, false, typeErr("slice indices must be integers or None")
		}
		return int(i), true, nil
	}
	st, hasStep, err := idx(step)
	if err != nil {
		return undef, err
	}
	if !hasStep {
		st = 1
	}
	if st == 0 {
		return undef, &Error{Kind: "ValueError", Msg: "slice step cannot be zero"}
	}
	lo, hasLo, err := idx(start)
	if err != nil {
		return undef, err
	}
	hi, hasHi, err := idx(stop)
	if err != nil {
		return undef, err
	}
	// CPython's PySlice_AdjustIndices.
	adjust := func(i int, has bool, def int) int {
		if !has {
			return def
		}
		if i < 0 {
			i += n
			if i < 0 {
				if st < 0 {
					return -1
				}
				return 0
			}
		} else if i >= n {
			if st < 0 {
				return n - 1
			}
			return n
		}
		return i
	}
	var picks []int
	if st > 0 {
		for i := adjust(lo, hasLo, 0); i < adjust(hi, hasHi, n); i += st {
			picks = append(picks, i)
		}
	} else {
		for i := adjust(lo, hasLo, n-1); i > adjust(hi, hasHi, -1); i += st {
			picks = append(picks, i)
		}
	}
	if isS {
		var b strings.Builder
		for _, i := range picks {
			b.WriteRune(runes[i])
		}
		return str(b.String()), nil
	}
	all, _ := seq(x)
	items := make([]jinja.Value, 0, len(picks))
	for _, i := range picks {
		items = append(items, all[i])
	}
	if isTuple(x) {
		return tuple(items), nil
	}
	return jinja.NewList(items), nil
}

// callMethod is obj.name(args…).
func callMethod(a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	recv, name := a[0], a[1].AsString()
	if (recv.IsList() || recv.IsDict()) && slices.Contains(mutators, name) {
		return undef, &Error{Kind: "SecurityError", Msg: fmt.Sprintf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(recv))}
	}
	f, err := getattr(recv, name)
	if err != nil {
		return undef, err
	}
	if !f.IsCallable() || isMarkup(f) {
		return undef, undefinedErr("'%s object' has no attribute '%s'", typeName(recv), name)
	}
	return f.AsCallable().Fn(a[2:], kw)
}

func argOr(a []jinja.Value, kw map[string]jinja.Value, i int, name string, def jinja.Value) jinja.Value {
	if v, ok := kw[name]; ok {
		return v
	}
	if i < len(a) {
		return a[i]
	}
	return def
}

func checkArgs(name string, a []jinja.Value, kw map[string]jinja.Value, max int, kwNames ...string) error {
	if len(a) > max {
		return typeErr("%s() takes at most %d arguments (%d given)", name, max, len(a))
	}
	for k := range kw {
		if !slices.Contains(kwNames, k) {
			return typeErr("%s() got an unexpected keyword argument '%s'", name, k)
		}
	}
	return nil
}

func strList(items []string) jinja.Value {
	vs := make([]jinja.Value, len(items))
	for i, s := range items {
		vs[i] = str(s)
	}
	return jinja.NewList(vs)
}

func optStr(v jinja.Value, what string) (*string, error) {
	if v.IsNone() || v.IsUndefined() {
		return nil, nil
	}
	s, ok := IsStr(v)
	if !ok {
		return nil, typeErr("%s must be str or None, not %s", what, typeName(v))
	}
	return &s, nil
}

func intArg(v jinja.Value, def int) (int, error) {
	if v.IsUndefined() {
		return def, nil
	}
	i, _, isF, ok := number(v)
	if !ok || isF {
		return 0, typeErr("'%s' object cannot be interpreted as an integer", typeName(v))
	}
	return int(i), nil
}

// method calls a str or dict method (or a callable held by a dict, such as loop.cycle).
func method(recv jinja.Value, name string, a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	if s, ok := IsStr(recv); ok {
		return strMethod(s, name, a, kw)
	}
	d := recv.AsDict()
	switch name {
	case "get":
		if err := checkArgs("get", a, nil, 2); err != nil {
			return undef, err
		}
		if len(a) == 0 {
			return undef, typeErr("get expected at least 1 argument, got 0")
		}
		if k, ok := IsStr(a[0]); ok {
			if v, ok := d.Get(k); ok {
				return v, nil
			}
		} else if a[0].IsList() || a[0].IsDict() {
			return undef, typeErr("unhashable type: '%s'", typeName(a[0]))
		}
		return argOr(a, nil, 1, "", jinja.None()), nil
	case "items", "keys", "values":
		if err := checkArgs(name, a, kw, 0); err != nil {
			return undef, err
		}
		var out []jinja.Value
		for _, k := range d.Keys {
			switch name {
			case "items":
				out = append(out, tuple([]jinja.Value{str(k), d.Data[k]}))
			case "keys":
				out = append(out, str(k))
			default:
				out = append(out, d.Data[k])
			}
		}
		return jinja.NewList(out), nil
	}
	return undef, notExact("the method %s", name)
}

func strMethod(s, name string, a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	switch name {
	case "strip", "lstrip", "rstrip":
		if err := checkArgs(name, a, kw, 1); err != nil {
			return undef, err
		}
		r, err := pyStrip(s, argOr(a, kw, 0, "", jinja.None()), name != "rstrip", name != "lstrip")
		return str(r), err
	case "split", "rsplit":
		if err := checkArgs(name, a, kw, 2, "sep", "maxsplit"); err != nil {
			return undef, err
		}
		sep, err := optStr(argOr(a, kw, 0, "sep", jinja.None()), "sep")
		if err != nil {
			return undef, err
		}
		maxsplit, err := intArg(argOr(a, kw, 1, "maxsplit", undef), -1)
		if err != nil {
			return undef, err
		}
		var parts []string
		if name == "split" {
			parts, err = pySplit(s, sep, maxsplit)
		} else {
			parts, err = pyRsplit(s, sep, maxsplit)
		}
		return strList(parts), err
	case "startswith", "endswith":
		if len(a) != 1 || len(kw) > 0 {
			return undef, notExact("%s with start or end arguments", name)
		}
		cands := []jinja.Value{a[0]}
		if isTuple(a[0]) {
			cands, _ = seq(a[0])
		}
		for _, c := range cands {
			p, ok := IsStr(c)
			if !ok {
				return undef, typeErr("%s first arg must be str or a tuple of str, not %s", name, typeName(c))
			}
			if name == "startswith" && strings.HasPrefix(s, p) || name == "endswith" && strings.HasSuffix(s, p) {
				return jinja.NewBool(true), nil
			}
		}
		return jinja.NewBool(false), nil
	case "replace":
		if err := checkArgs(name, a, kw, 3, "count"); err != nil {
			return undef, err
		}
		oldS, ok1 := IsStr(argOr(a, nil, 0, "", undef))
		newS, ok2 := IsStr(argOr(a, nil, 1, "", undef))
		if !ok1 || !ok2 {
			return undef, typeErr("replace() arguments must be str")
		}
		count, err := intArg(argOr(a, kw, 2, "count", undef), -1)
		return str(strings.Replace(s, oldS, newS, count)), err
	case "upper", "lower", "capitalize":
		if err := checkArgs(name, a, kw, 0); err != nil {
			return undef, err
		}
		var r string
		var err error
		switch name {
		case "upper":
			r, err = pyUpper(s)
		case "lower":
			r, err = pyLower(s)
		default:
			r, err = pyCapitalize(s)
		}
		return str(r), err
	case "count", "find", "rfind":
		if len(a) != 1 || len(kw) > 0 {
			return undef, notExact("%s with start or end arguments", name)
		}
		sub, ok := IsStr(a[0])
		if !ok {
			return undef, typeErr("must be str, not %s", typeName(a[0]))
		}
		switch name {
		case "count":
			return jinja.NewInt(int64(strings.Count(s, sub))), nil
		case "find":
			return jinja.NewInt(runeIndex(s, strings.Index(s, sub))), nil
		}
		return jinja.NewInt(runeIndex(s, strings.LastIndex(s, sub))), nil
	case "join":
		if len(a) != 1 || len(kw) > 0 {
			return undef, typeErr("join() takes exactly one argument")
		}
		items, err := iterate(a[0])
		if err != nil {
			return undef, err
		}
		parts := make([]string, len(items))
		for i, it := range items {
			p, ok := IsStr(it)
			if !ok {
				return undef, typeErr("sequence item %d: expected str instance, %s found", i, typeName(it))
			}
			parts[i] = p
		}
		return str(strings.Join(parts, s)), nil
	}
	return undef, notExact("the method str.%s", name)
}

// iterate is iter(x) for the values a template can iterate.
func iterate(x jinja.Value) ([]jinja.Value, error) {
	if s, ok := IsStr(x); ok {
		var out []jinja.Value
		for _, r := range s {
			out = append(out, str(string(r)))
		}
		return out, nil
	}
	if items, ok := seq(x); ok {
		return items, nil
	}
	switch {
	case x.IsDict():
		var out []jinja.Value
		for _, k := range x.AsDict().Keys {
			out = append(out, str(k))
		}
		return out, nil
	case x.IsUndefined():
		return nil, nil
	}
	return nil, typeErr("'%s' object is not iterable", typeName(x))
}

// iterFn is the iterable of a for loop; with 2, every item is unpacked into two targets.
func iterFn(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	items, err := iterate(a[0])
	if err != nil {
		return undef, err
	}
	out := slices.Clone(items)
	if len(a) > 1 {
		for i, it := range out {
			parts, err := iterate(it)
			if err != nil {
				return undef, typeErr("cannot unpack non-iterable %s object", typeName(it))
			}
			if len(parts) != 2 {
				return undef, &Error{Kind: "ValueError", Msg: fmt.Sprintf("expected 2 values to unpack, got %d", len(parts))}
			}
			out[i] = jinja.NewList(parts)
		}
	}
	return jinja.NewList(out), nil
}

func rangeFn(a []jinja.Value, kw map[string]jinja.Value) (jinja.Value, error) {
	if len(a) == 0 || len(a) > 3 || len(kw) > 0 {
		return undef, typeErr("range expected 1 to 3 arguments")
	}
	var n [3]int64
	for i, v := range a {
		x, _, isF, ok := number(v)
		if !ok || isF {
			return undef, typeErr("'%s' object cannot be interpreted as an integer", typeName(v))
		}
		n[i] = x
	}
	start, stop, step := int64(0), n[0], int64(1)
	if len(a) > 1 {
		start, stop = n[0], n[1]
	}
	if len(a) > 2 {
		step = n[2]
	}
	if step == 0 {
		return undef, &Error{Kind: "ValueError", Msg: "range() arg 3 must not be zero"}
	}
	var out []jinja.Value
	for i := start; step > 0 && i < stop || step < 0 && i > stop; i += step {
		if len(out) >= 100000 {
			return undef, &Error{Kind: "OverflowError", Msg: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000)."}
		}
		out = append(out, jinja.NewInt(i))
	}
	return jinja.NewList(out), nil
}

func negate(x jinja.Value, neg bool) (jinja.Value, error) {
	i, f, isF, ok := number(x)
	switch {
	case x.IsUndefined():
		return undef, undefinedErr("unary operator on an undefined value")
	case !ok:
		return undef, typeErr("bad operand type for unary -: '%s'", typeName(x))
	case isF && neg:
		return jinja.NewFloat(-f), nil
	case isF:
		return jinja.NewFloat(f), nil
	case neg:
		return jinja.NewInt(-i), nil
	}
	return jinja.NewInt(i), nil
}

func concat(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	var b strings.Builder
	for _, v := range a {
		s, err := pyStr(v)
		if err != nil {
			return undef, err
		}
		b.WriteString(s)
	}
	return str(b.String()), nil
}

func compare(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	l := a[0]
	for i := 1; i+1 < len(a); i += 2 {
		op, r := a[i].AsString(), a[i+1]
		var ok bool
		switch op {
		case "==":
			ok = pyEqual(l, r)
		case "!=":
			ok = !pyEqual(l, r)
		case "in", "not in":
			in, err := pyContains(r, l)
			if err != nil {
				return undef, err
			}
			ok = in == (op == "in")
		default:
			c, err := pyCompare(l, r)
			if err != nil {
				return undef, err
			}
			ok = op == "<" && c < 0 || op == "<=" && c <= 0 || op == ">" && c > 0 || op == ">=" && c >= 0
		}
		if !ok {
			return jinja.NewBool(false), nil
		}
		l = r
	}
	return jinja.NewBool(true), nil
}

func checkedInt(v float64, ok bool) (jinja.Value, error) {
	if !ok || v > math.MaxInt64 || v < math.MinInt64 {
		return undef, notExact("an integer beyond 64 bits")
	}
	return jinja.NewInt(int64(v)), nil
}

// binary is Python's + - * / // % ** on the operand types templates use.
func binary(a []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	op, l, r := a[0].AsString(), a[1], a[2]
	if l.IsUndefined() || r.IsUndefined() {
		return undef, undefinedErr("operator %s on an undefined value", op)
	}
	ls, lStr := IsStr(l)
	rs, rStr := IsStr(r)
	li, lf, lF, lNum := number(l)
	ri, rf, rF, rNum := number(r)
	switch {
	case op == "+" && lStr && rStr:
		switch {
		case isMarkup(l) && isMarkup(r):
			return markup(ls + rs), nil
		case isMarkup(l):
			return markup(ls + escapeHTML(rs)), nil
		case isMarkup(r):
			return markup(escapeHTML(ls) + rs), nil
		}
		return str(ls + rs), nil
	case op == "+" && l.IsList() && r.IsList():
		return jinja.NewList(slices.Concat(l.AsList().Items, r.AsList().Items)), nil
	case op == "+" && isTuple(l) && isTuple(r):
		li, _ := seq(l)
		ri, _ := seq(r)
		return tuple(slices.Concat(li, ri)), nil
	case isTuple(l) || isTuple(r):
		return undef, notExact("the operator %s on a tuple", op)
	case op == "*" && (lStr && rNum && !rF || rStr && lNum && !lF):
		s, n := ls, ri
		if rStr {
			s, n = rs, li
		}
		if isMarkup(l) || isMarkup(r) {
			return undef, notExact("repeating a Markup string")
		}
		if n < 0 {
			n = 0
		}
		if int64(len(s))*n > 1<<24 {
			return undef, notExact("a string of more than 16 MiB")
		}
		return str(strings.Repeat(s, int(n))), nil
	case op == "*" && (l.IsList() && rNum && !rF || r.IsList() && lNum && !lF):
		items, n := l, ri
		if r.IsList() {
			items, n = r, li
		}
		var out []jinja.Value
		for range max(n, 0) {
			out = append(out, items.AsList().Items...)
		}
		return jinja.NewList(out), nil
	case op == "%" && lStr:
		return undef, notExact("string formatting with %%")
	case !lNum || !rNum:
		return undef, typeErr("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(l), typeName(r))
	}
	isFloat := lF || rF
	switch op {
	case "+":
		if isFloat {
			return jinja.NewFloat(lf + rf), nil
		}
		return checkedInt(float64(li)+float64(ri), true)
	case "-":
		if isFloat {
			return jinja.NewFloat(lf - rf), nil
		}
		return checkedInt(float64(li)-float64(ri), true)
	case "*":
		if isFloat {
			return jinja.NewFloat(lf * rf), nil
		}
		return checkedInt(float64(li)*float64(ri), true)
	case "/":
		if rf == 0 {
			return undef, &Error{Kind: "ZeroDivisionError", Msg: "division by zero"}
		}
		if !isFloat && (math.Abs(lf) > 1<<53 || math.Abs(rf) > 1<<53) {
			return undef, notExact("true division of integers beyond 2**53")
		}
		return jinja.NewFloat(lf / rf), nil
	case "//", "%":
		if rf == 0 {
			return undef, &Error{Kind: "ZeroDivisionError", Msg: "integer division or modulo by zero"}
		}
		if isFloat {
			q := math.Floor(lf / rf)
			if op == "//" {
				return jinja.NewFloat(q), nil
			}
			m := math.Mod(lf, rf)
			if m != 0 && (m < 0) != (rf < 0) {
				m += rf
			}
			return jinja.NewFloat(m), nil
		}
		q, m := li/ri, li%ri
		if m != 0 && (m < 0) != (ri < 0) {
			q, m = q-1, m+ri
		}
		if op == "//" {
			return jinja.NewInt(q), nil
		}
		return jinja.NewInt(m), nil
	case "**":
		if !isFloat && ri >= 0 {
			p := math.Pow(lf, rf)
			return checkedInt(p, p <= 1<<53 && p >= -(1<<53))
		}
		return jinja.NewFloat(math.Pow(lf, rf)), nil
	}
	return undef, fmt.Errorf("chat: internal error: operator %s", op)
}

// strftime formats t as Python's datetime.strftime does for a naive datetime, for the directives whose
// output does not depend on the C library's locale.
func strftime(t time.Time, format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		pad := true
		if format[i] == '-' && i+1 < len(format) {
			pad = false
			i++
		}
		num := func(v, width int) {
			if pad {
				fmt.Fprintf(&b, "%0*d", width, v)
			} else {
				b.WriteString(strconv.Itoa(v))
			}
		}
		switch format[i] {
		case 'Y':
			b.WriteString(strconv.Itoa(t.Year()))
		case 'y':
			num(t.Year()%100, 2)
		case 'm':
			num(int(t.Month()), 2)
		case 'd':
			num(t.Day(), 2)
		case 'e':
			if pad {
				fmt.Fprintf(&b, "%2d", t.Day())
			} else {
				b.WriteString(strconv.Itoa(t.Day()))
			}
		case 'H':
			num(t.Hour(), 2)
		case 'I':
			num((t.Hour()+11)%12+1, 2)
		case 'M':
			num(t.Minute(), 2)
		case 'S':
			num(t.Second(), 2)
		case 'j':
			num(t.YearDay(), 3)
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'w':
			b.WriteString(strconv.Itoa(int(t.Weekday())))
		case 'z', 'Z':
			// datetime.now() is naive: no offset, no zone name.
		case '%':
			b.WriteByte('%')
		default:
			return "", notExact("the strftime directive %%%c", format[i])
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", notExact("a strftime format that is not text")
	}
	return b.String(), nil
}
