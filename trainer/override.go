package trainer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A recipe is handled as a YAML node tree from the file to the decoded struct: overrides
// edit the tree, then a checker walks it against the Recipe type, so that every problem,
// in the file or in an override, is reported with where it came from.

// applyOverride applies one override (syntax: see LoadRecipe) to the recipe mapping root,
// recording every node it creates in origin so that later errors can name the override.
func applyOverride(root *yaml.Node, ov string, origin map[*yaml.Node]string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("override %q: %s", ov, escapeUnprintable(fmt.Sprintf(format, args...)))
	}
	remove := strings.HasPrefix(ov, "~")
	path, value, hasValue := strings.Cut(strings.TrimPrefix(ov, "~"), "=")
	path = strings.TrimSpace(path)
	switch {
	case remove && hasValue:
		return fail("~ removes a key and takes no value: write ~%s", path)
	case !remove && !hasValue:
		return fail("want key.path=value, or ~key.path to remove a key")
	}
	keys := strings.Split(path, ".")
	types, err := overrideTypes(keys)
	if err != nil {
		return fail("%v", err)
	}
	leaf := types[len(types)-1]

	// Walk (and, when setting, create) the mappings down to the last key's parent.
	cur := root
	for i, k := range keys[:len(keys)-1] {
		at := strings.Join(keys[:i+1], ".")
		j := mappingIndex(cur, k)
		var next *yaml.Node
		if j >= 0 {
			next = resolve(cur.Content[j+1])
		}
		if types[i].Kind() == reflect.Slice { // the next key is an index into this list
			if next == nil || next.Kind != yaml.SequenceNode {
				return fail("%s is not a list in the recipe", at)
			}
			cur = next
			continue
		}
		if next == nil || next.Kind != yaml.MappingNode {
			if remove {
				return fail("%s is not set in the recipe", at)
			}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			origin[next] = ov
			if j >= 0 {
				cur.Content[j+1] = next
			} else {
				kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}
				origin[kn] = ov
				cur.Content = append(cur.Content, kn, next)
			}
		}
		cur = next
	}

	last := keys[len(keys)-1]
	var v *yaml.Node
	if !remove {
		if v, err = overrideValue(value, leaf); err != nil {
			return fail("%v", err)
		}
		markOrigin(v, ov, origin)
	}
	if cur.Kind == yaml.SequenceNode { // last is a list index (checked by overrideType)
		i, _ := strconv.Atoi(last)
		n := len(cur.Content)
		switch {
		case remove && i < n:
			cur.Content = append(cur.Content[:i], cur.Content[i+1:]...)
		case !remove && i < n:
			cur.Content[i] = v
		case !remove && i == n:
			cur.Content = append(cur.Content, v)
		default:
			return fail("index %d is out of range: %s has %d items", i, strings.Join(keys[:len(keys)-1], "."), n)
		}
		return nil
	}
	j := mappingIndex(cur, last)
	switch {
	case remove && j < 0:
		return fail("%s is not set in the recipe", path)
	case remove:
		cur.Content = append(cur.Content[:j], cur.Content[j+2:]...)
	case j >= 0:
		cur.Content[j+1] = v
	default:
		kn := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: last}
		origin[kn] = ov
		cur.Content = append(cur.Content, kn, v)
	}
	return nil
}

// overrideTypes checks the key path against the Recipe schema and returns the Go type
// (pointers removed) that the value at each key decodes into.
func overrideTypes(keys []string) ([]reflect.Type, error) {
	types := make([]reflect.Type, len(keys))
	t := reflect.TypeFor[Recipe]()
	for i, k := range keys {
		parent := strings.Join(keys[:i], ".")
		if k == "" {
			return nil, fmt.Errorf("empty key in path %q", strings.Join(keys, "."))
		}
		switch t.Kind() {
		case reflect.Struct:
			fields := yamlFields(t)
			f, ok := fields[k]
			if !ok {
				return nil, fmt.Errorf("unknown key %q (known keys%s: %s)",
					joinPath(parent, k), inPath(parent), strings.Join(sortedKeys(fields), ", "))
			}
			t = f.Type
		case reflect.Slice:
			if n, err := strconv.Atoi(k); err != nil || n < 0 || i != len(keys)-1 {
				return nil, fmt.Errorf("%s is a list: the key after it must be the last, an index 0, 1, …, got %q", parent, k)
			}
			t = t.Elem()
		default:
			return nil, fmt.Errorf("%s is a single value, not a mapping: it has no key %q", parent, k)
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		types[i] = t
	}
	return types, nil
}

// overrideValue makes the YAML node for an override's value that will decode into t:
// the text itself for a string type unless it is quoted, YAML otherwise.
func overrideValue(value string, t reflect.Type) (*yaml.Node, error) {
	quoted := strings.HasPrefix(value, `"`) || strings.HasPrefix(value, `'`)
	if t.Kind() == reflect.String && !quoted {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value}, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		return nil, fmt.Errorf("value is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}, nil
	}
	return doc.Content[0], nil
}

// markOrigin records n and all the nodes under it as made by override ov.
func markOrigin(n *yaml.Node, ov string, origin map[*yaml.Node]string) {
	origin[n] = ov
	for _, c := range n.Content {
		markOrigin(c, ov, origin)
	}
}

// parseYAML parses a single YAML document whose top level is a mapping and returns that
// mapping (an empty one for an empty document).
func parseYAML(data []byte, name string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("recipe %s: %s", name, escapeUnprintable(err.Error()))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("recipe %s: more than one YAML document", name)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: recipe must be a mapping of keys, got %s", name, root.Line, kindName(root))
	}
	return root, nil
}

// decodeRecipe decodes root over DefaultRecipe after checking every key and value
// against the schema, so that all unknown keys and bad values are reported together,
// each with its file and line (or the override that set it).
func decodeRecipe(root *yaml.Node, name string, origin map[*yaml.Node]string) (*Recipe, error) {
	c := &checker{file: name, origin: origin}
	c.check(root, reflect.TypeFor[Recipe](), "")
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	r := DefaultRecipe()
	if v := mappingValue(root, "adapter"); v != nil && resolve(v).ShortTag() != "!!null" {
		a := DefaultAdapter()
		r.Adapter = &a
	}
	if err := root.Decode(&r); err != nil { // not expected after check: a safety net
		return nil, fmt.Errorf("recipe %s: %w", name, err)
	}
	return &r, nil
}

// checker walks a YAML tree against a Go type the way yaml.v3 would decode it, collecting
// an error for every unknown or duplicate key and every value of the wrong type.
type checker struct {
	file   string
	origin map[*yaml.Node]string // nodes made by an override → that override
	errs   []error
}

// where names the place n came from: "file:line" or `override "k=v"`.
func (c *checker) where(n *yaml.Node) string {
	if ov, ok := c.origin[n]; ok {
		return fmt.Sprintf("override %q", ov)
	}
	return fmt.Sprintf("%s:%d", c.file, n.Line)
}

// errorf records an error at node n.
func (c *checker) errorf(n *yaml.Node, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", c.where(n), escapeUnprintable(fmt.Sprintf(format, args...))))
}

// escapeUnprintable writes each character of s that is not printable as a Go escape
// (\n, \u2028): yaml's messages quote a value as it is (cannot unmarshal !!str `a⏎b`),
// and every problem must stay one line.
func escapeUnprintable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !strconv.IsPrint(r) }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strconv.IsPrint(r) {
			b.WriteRune(r)
		} else {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// check checks node n against type t; path is n's dotted key path.
func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	n = resolve(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		// A leaf (scalar, enum or list of them): decode it alone to catch type errors.
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			c.errorf(n, "%s: %s", path, yamlErrorText(err))
		} else if isInt(t) && n.ShortTag() == "!!float" { // yaml.v3 would truncate 1.5 to 1
			if f, err := strconv.ParseFloat(n.Value, 64); err != nil || f != math.Trunc(f) {
				c.errorf(n, "%s: cannot unmarshal !!float `%s` into %s", path, n.Value, t)
			}
		}
		return
	}
	if n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		c.errorf(n, "%s: want a mapping of keys, got %s", displayPath(path), kindName(n))
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		sub := joinPath(path, key)
		if line, dup := seen[key]; dup {
			c.errorf(k, "duplicate key %q (first at line %d)", sub, line)
			continue
		}
		seen[key] = k.Line
		f, ok := fields[key]
		if !ok {
			c.errorf(k, "unknown key %q (known keys%s: %s)", sub, inPath(path), strings.Join(sortedKeys(fields), ", "))
			continue
		}
		c.check(v, f.Type, sub)
	}
}

// isInt reports whether t is an integer type.
func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// yamlErrorText returns the message of a yaml decoding error without its "yaml:" and
// "line N:" prefixes, which the caller replaces with the file and key.
func yamlErrorText(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, len(te.Errors))
		for i, m := range te.Errors {
			if _, rest, ok := strings.Cut(m, ": "); ok && strings.HasPrefix(m, "line ") {
				m = rest
			}
			msgs[i] = m
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(err.Error(), "yaml: ")
}

// yamlFields maps the YAML keys of struct type t to its fields, with the fields of an
// `yaml:",inline"` struct (a package's Config embedded in a section) as t's own; the
// Index of such a field is its path from t.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" && f.Type.Kind() == reflect.Struct {
			for k, sub := range yamlFields(f.Type) {
				sub.Index = append([]int{i}, sub.Index...)
				m[k] = sub
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

// sortedKeys returns the keys of m in schema order (the struct's field order).
func sortedKeys(m map[string]reflect.StructField) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return slices.Compare(m[a].Index, m[b].Index) })
	return keys
}

// resolve follows alias nodes to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// mappingValue returns the value of key in mapping node m, or nil.
func mappingValue(m *yaml.Node, key string) *yaml.Node {
	if i := mappingIndex(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

// mappingIndex returns the index in m.Content of key's key node, or −1.
func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

// kindName describes a node's kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%s %q", escapeUnprintable(strings.TrimPrefix(n.ShortTag(), "!!")), n.Value)
	}
	return "an alias"
}

// joinPath appends key to a dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// displayPath names a path in messages; the root is "recipe".
func displayPath(path string) string {
	if path == "" {
		return "recipe"
	}
	return path
}

// inPath is " in PATH" for messages about keys under path, "" at the root.
func inPath(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}
