package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/internal/typo"
)

// The decoder walks goccy/go-yaml's AST into the config structs itself,
// rather than calling yaml.Unmarshal, for three reasons: it reports every
// problem instead of the first, it knows the field path of each problem
// (the library's errors carry only a token), and it records where every
// value sits so semantic checks can point at the right line and column.

const (
	// maxNodes bounds the values decoded, aliases included: a small file
	// must not expand into millions of targets through nested aliases.
	maxNodes = 200_000
	// maxAliasHops bounds alias-to-alias chains.
	maxAliasHops = 16
)

var (
	durationType = reflect.TypeFor[time.Duration]()
	keywordsType = reflect.TypeFor[Keywords]()
	textType     = reflect.TypeFor[encoding.TextUnmarshaler]()
)

type decoder struct {
	file    string
	is      *issues
	anchors map[string]ast.Node
	// pos is where each decoded value sits; keyPos where each mapping key
	// sits (map entries and struct fields), both by field path.
	pos    map[string]Pos
	keyPos map[string]Pos
	nodes  int
	tooBig bool
}

func newDecoder(file string, is *issues) *decoder {
	return &decoder{
		file:    file,
		is:      is,
		anchors: map[string]ast.Node{},
		pos:     map[string]Pos{},
		keyPos:  map[string]Pos{},
	}
}

func tokPos(n ast.Node) Pos {
	if n == nil {
		return Pos{1, 1}
	}
	if m, ok := n.(*ast.MappingNode); ok && !m.IsFlowStyle && len(m.Values) > 0 {
		// A block mapping's own token is its first ':'; its first key is
		// where a reader looks.
		return tokPos(m.Values[0].Key)
	}
	if mv, ok := n.(*ast.MappingValueNode); ok && mv.Key != nil {
		return tokPos(mv.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil || tk.Position.Line < 1 {
		return Pos{1, 1}
	}
	return Pos{tk.Position.Line, max(tk.Position.Column, 1)}
}

func (d *decoder) errorf(n ast.Node, path, format string, args ...any) {
	d.errorAt(tokPos(n), path, format, args...)
}

func (d *decoder) errorAt(p Pos, path, format string, args ...any) {
	if d.is.bad == nil {
		d.is.bad = map[string]bool{}
	}
	d.is.bad[path] = true
	d.is.add(d.file, p, path, format, args...)
}

// collectAnchors records every anchor in document order, so aliases work
// wherever they point, including into sections the schema skips.
func (d *decoder) collectAnchors(n ast.Node, depth int) {
	if n == nil || depth > 256 {
		return
	}
	switch t := n.(type) {
	case *ast.DocumentNode:
		d.collectAnchors(t.Body, depth+1)
	case *ast.AnchorNode:
		if t.Name != nil {
			d.anchors[t.Name.GetToken().Value] = t.Value
		}
		d.collectAnchors(t.Value, depth+1)
	case *ast.TagNode:
		d.collectAnchors(t.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range t.Values {
			d.collectAnchors(mv, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(t.Key, depth+1)
		d.collectAnchors(t.Value, depth+1)
	case *ast.MappingKeyNode:
		d.collectAnchors(t.Value, depth+1)
	case *ast.SequenceNode:
		for _, v := range t.Values {
			d.collectAnchors(v, depth+1)
		}
	}
}

// resolve unwraps anchors, tags and aliases. The position stays that of
// the original node: an error in an aliased value is reported where the
// alias is used.
func (d *decoder) resolve(n ast.Node, path string) (ast.Node, bool) {
	for range maxAliasHops {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.TagNode:
			n = t.Value
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(t, path, "alias *%s names no anchor", name)
				return nil, false
			}
			n = target
		default:
			return n, true
		}
	}
	d.errorf(n, path, "alias chain longer than %d", maxAliasHops)
	return nil, false
}

func kindName(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.NullNode, nil:
		return "nothing"
	}
	return "a " + n.Type().String()
}

// scalar returns the text of a scalar node as written (numbers keep their
// literal form: sku: 0123 stays "0123").
func scalar(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value, true
	case *ast.LiteralNode:
		if t.Value == nil {
			return "", true
		}
		return t.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// decode stores node n into v, reporting problems under path.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) {
	if d.nodes++; d.nodes > maxNodes {
		if !d.tooBig {
			d.tooBig = true
			d.errorf(n, path, "document expands to more than %d values (aliases?)", maxNodes)
		}
		return
	}
	at := tokPos(n)
	n, ok := d.resolve(n, path)
	if !ok {
		return
	}
	if _, isNull := n.(*ast.NullNode); isNull || n == nil {
		// "key:" with nothing after it keeps the default.
		return
	}
	d.pos[path] = at
	t := v.Type()
	switch {
	case t == durationType:
		d.decodeDuration(n, v, path, at)
		return
	case t == keywordsType:
		d.decodeKeywords(n, v, path)
		return
	case reflect.PointerTo(t).Implements(textType):
		d.decodeText(n, v, path, at)
		return
	}
	switch t.Kind() {
	case reflect.String:
		d.decodeString(n, v, path, at)
	case reflect.Bool:
		d.decodeBool(n, v, path, at)
	case reflect.Int, reflect.Int64:
		d.decodeInt(n, v, path, at)
	case reflect.Float64:
		d.decodeFloat(n, v, path, at)
	case reflect.Slice:
		d.decodeSlice(n, v, path, at)
	case reflect.Map:
		d.decodeMap(n, v, path, at)
	case reflect.Struct:
		d.decodeStruct(n, v, path, at)
	default:
		// Only reachable if a field of an unsupported type is added to the
		// schema: say so instead of panicking.
		d.errorAt(at, path, "internal: cannot decode into %s", t)
	}
}

// decodeText hands a scalar to the field's encoding.TextUnmarshaler.
func (d *decoder) decodeText(n ast.Node, v reflect.Value, path string, at Pos) {
	s, ok := d.stringValue(n, path, at)
	if !ok {
		return
	}
	if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		d.errorAt(at, path, "%v", err)
	}
}

func (d *decoder) decodeString(n ast.Node, v reflect.Value, path string, at Pos) {
	if s, ok := d.stringValue(n, path, at); ok {
		v.SetString(s)
	}
}

// stringValue is the text of scalar n; a list or map is reported.
func (d *decoder) stringValue(n ast.Node, path string, at Pos) (string, bool) {
	s, ok := scalar(n)
	if !ok {
		d.errorAt(at, path, "expected a string, got %s", kindName(n))
	}
	return s, ok
}

func (d *decoder) decodeBool(n ast.Node, v reflect.Value, path string, at Pos) {
	b, ok := n.(*ast.BoolNode)
	if !ok {
		s, _ := scalar(n)
		d.errorAt(at, path, "%q is not a boolean (true or false)", textutil.Short(s))
		return
	}
	v.SetBool(b.Value)
}

func (d *decoder) decodeInt(n ast.Node, v reflect.Value, path string, at Pos) {
	x, ok := intValue(n)
	if !ok || v.OverflowInt(x) {
		d.errorAt(at, path, "%q is not an integer", textutil.Short(scalarOrKind(n)))
		return
	}
	v.SetInt(x)
}

// decodeFloat takes YAML floats and integers, and numbers in quotes:
// maxPrice: "699.99" quoted is still a price.
func (d *decoder) decodeFloat(n ast.Node, v reflect.Value, path string, at Pos) {
	var f float64
	switch val := n.(type) {
	case *ast.FloatNode:
		f = val.Value
	case *ast.IntegerNode:
		s, _ := scalar(n)
		f, _ = strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	case *ast.StringNode:
		var err error
		if f, err = strconv.ParseFloat(val.Value, 64); err != nil {
			d.errorAt(at, path, "%q is not a number", textutil.Short(val.Value))
			return
		}
	default:
		d.errorAt(at, path, "%q is not a number", textutil.Short(scalarOrKind(n)))
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.errorAt(at, path, "must be a finite number")
		return
	}
	v.SetFloat(f)
}

func (d *decoder) decodeSlice(n ast.Node, v reflect.Value, path string, at Pos) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorAt(at, path, "expected a list, got %s", kindName(n))
		return
	}
	if len(seq.Values) == 0 {
		v.Set(reflect.Zero(v.Type())) // [] and a missing key read the same
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, e := range seq.Values {
		d.decode(e, out.Index(i), fmt.Sprintf("%s[%d]", path, i))
	}
	v.Set(out)
}

// scalarOrKind is n's text, or its kind ("a list") when it has none, for
// error messages.
func scalarOrKind(n ast.Node) string {
	if s, ok := scalar(n); ok {
		return s
	}
	return kindName(n)
}

type entry struct {
	key   string
	keyAt Pos
	value ast.Node
}

// entries lists a mapping's key/value pairs, with YAML merge keys
// (<<: *defaults) expanded: explicit keys win over merged ones.
func (d *decoder) entries(n ast.Node, path string, depth int) ([]entry, bool) {
	var values []*ast.MappingValueNode
	switch t := n.(type) {
	case *ast.MappingNode:
		values = t.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{t}
	default:
		return nil, false
	}
	var out, merged []entry
	for _, mv := range values {
		if mv.Key != nil && mv.Key.IsMergeKey() {
			if depth > maxAliasHops {
				d.errorf(mv.Key, path, "merge keys nested too deep")
				continue
			}
			src, ok := d.resolve(mv.Value, path)
			if !ok {
				continue
			}
			srcs := []ast.Node{src}
			if seq, isSeq := src.(*ast.SequenceNode); isSeq {
				srcs = srcs[:0]
				for _, s := range seq.Values {
					if r, ok := d.resolve(s, path); ok {
						srcs = append(srcs, r)
					}
				}
			}
			for _, s := range srcs {
				es, ok := d.entries(s, path, depth+1)
				if !ok {
					d.errorf(mv.Value, path, "<< must merge a mapping, got %s", kindName(s))
					continue
				}
				merged = append(merged, es...)
			}
			continue
		}
		var keyNode ast.Node = mv.Key
		if mk, ok := keyNode.(*ast.MappingKeyNode); ok {
			keyNode = mk.Value
		}
		key, ok := scalar(keyNode)
		if !ok {
			d.errorf(mv.Key, path, "mapping keys must be plain strings, got %s", kindName(keyNode))
			continue
		}
		out = append(out, entry{key: key, keyAt: tokPos(mv.Key), value: mv.Value})
	}
	seen := make(map[string]bool, len(out))
	for _, e := range out {
		seen[e.key] = true
	}
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return out, true
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string, at Pos) {
	es, ok := d.entries(n, path, 0)
	if !ok {
		d.errorAt(at, path, "expected a mapping, got %s", kindName(n))
		return
	}
	if v.IsNil() && len(es) > 0 {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, e := range es {
		p := mapPath(path, e.key)
		d.keyPos[p] = e.keyAt
		// Start from the existing entry so defaults for a site survive a
		// file that sets only one of its fields.
		elem := reflect.New(v.Type().Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(e.key)); old.IsValid() {
			elem.Set(old)
		}
		d.decode(e.value, elem, p)
		v.SetMapIndex(reflect.ValueOf(e.key), elem)
	}
}

func mapPath(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			plain = false
			break
		}
	}
	if plain {
		return joinPath(path, key)
	}
	return fmt.Sprintf("%s[%s]", path, strconv.Quote(key))
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string, at Pos) {
	es, ok := d.entries(n, path, 0)
	if !ok {
		d.errorAt(at, path, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	for _, e := range es {
		p := joinPath(path, e.key)
		i, ok := fields[e.key]
		if !ok && strings.HasPrefix(e.key, "x-") {
			// Extension keys, as in docker compose: a place for anchors
			// (x-defaults: &d {...}) that the schema ignores.
			continue
		}
		if !ok {
			d.errorAt(e.keyAt, p, "unknown field%s", suggest(e.key, names))
			continue
		}
		d.keyPos[p] = e.keyAt
		d.decode(e.value, v.Field(i), p)
	}
}

// suggest names the closest known field, or lists them all.
func suggest(key string, names []string) string {
	if best, ok := typo.Closest(key, names, 2); ok {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

func (d *decoder) decodeDuration(n ast.Node, v reflect.Value, path string, at Pos) {
	s, ok := scalar(n)
	if !ok {
		d.errorAt(at, path, "expected a duration such as 500ms, 3s or 1m30s, got %s", kindName(n))
		return
	}
	if _, isInt := n.(*ast.IntegerNode); isInt {
		if s == "0" {
			v.SetInt(0)
			return
		}
		d.errorAt(at, path, "%q has no unit: write e.g. %q", textutil.Short(s), s+"s")
		return
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorAt(at, path, "%q is not a duration (e.g. 500ms, 3s, 1m30s)", textutil.Short(s))
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) decodeKeywords(n ast.Node, v reflect.Value, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(n, path, "expected a list of keyword groups such as [[nike, dunk], [yeezy]], got %s", kindName(n))
		return
	}
	out := make(Keywords, 0, len(seq.Values))
	for i, e := range seq.Values {
		p := fmt.Sprintf("%s[%d]", path, i)
		at := tokPos(e)
		r, ok := d.resolve(e, p)
		if !ok {
			continue
		}
		d.pos[p] = at
		var group []string
		if s, isScalar := scalar(r); isScalar {
			// "nike dunk" is the group [nike, dunk].
			group = strings.Fields(s)
		} else {
			var words []string
			d.decode(r, reflect.ValueOf(&words).Elem(), p)
			for _, w := range words {
				group = append(group, strings.Fields(w)...)
			}
		}
		for j := range group {
			group[j] = strings.ToLower(group[j])
		}
		out = append(out, group)
	}
	v.Set(reflect.ValueOf(out))
}

func intValue(n ast.Node) (int64, bool) {
	in, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch x := in.Value.(type) {
	case int64:
		return x, true
	case uint64:
		return int64(x), x <= math.MaxInt64
	}
	return 0, false
}
