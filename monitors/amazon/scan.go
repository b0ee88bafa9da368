package amazon

import "bytes"

// tagScanner walks the tags of an HTML document without building anything:
// a few IndexByte jumps per tag, no allocation. It follows the tokenizing
// rules of golang.org/x/net/html closely enough that a well-formed page
// yields the same start and end tags: comments, doctypes and processing
// instructions are skipped, and the bodies of raw-text elements (script,
// style, noscript, textarea, title, …) are never read as markup. It is the
// cheap first pass that lets the parsers hand only a few KB of a 1.5 MB
// page to html.Parse.
type tagScanner struct {
	b   []byte
	pos int
	tok tagToken // the tag next found; reused, so copy what must outlive the next call
	// cutShort reports a tag cut off by the end of the body (x/net/html
	// drops it), starting at offset partial.
	cutShort bool
	partial  int
}

// tagToken is one start or end tag. Slices point into the scanned body.
type tagToken struct {
	start, end  int    // offsets of '<' and just past '>'
	name        []byte // as written; compare with eqFold
	closing     bool   // </name>
	selfClosing bool   // the tag ends with "/>"
	attrs       []byte // the bytes between the name and '>'
	// The attributes the classifiers look at, raw (entities not decoded,
	// see attrValue), read in the same pass; the first of duplicates wins.
	id, nameAttr, rel, href, class []byte
	unquotedToEnd                  bool   // the last attribute's unquoted value runs up to '>'
	lastKey                        []byte // that attribute's key
}

// lastKeyRepeated reports whether the last attribute repeats the key of
// an earlier one.
func (t *tagToken) lastKeyRepeated() bool {
	it := attrIter{b: t.attrs}
	for {
		k, _, ok := it.next()
		if !ok || &k[0] == &t.lastKey[0] {
			return false
		}
		if sameName(k, t.lastKey) {
			return true
		}
	}
}

// next finds the next tag and leaves it in s.tok; false at the end of the
// body (a tag cut off by the end of the body is not returned, as in
// x/net/html).
func (s *tagScanner) next() bool {
	b := s.b
	for s.pos < len(b) {
		i := bytes.IndexByte(b[s.pos:], '<')
		if i < 0 {
			s.pos = len(b)
			break
		}
		lt := s.pos + i
		s.pos = lt + 1
		if lt+1 >= len(b) {
			break
		}
		switch c := b[lt+1]; {
		case c == '!':
			if bytes.HasPrefix(b[lt:], []byte("<!--")) {
				s.pos = skipComment(b, lt+4)
			} else {
				s.pos = skipPast(b, lt+2, ">") // doctype, CDATA: bogus comment
			}
		case c == '?':
			s.pos = skipPast(b, lt+2, ">")
		case c == '/':
			if lt+2 < len(b) && isASCIILetter(b[lt+2]) {
				return s.readTag(lt, lt+2, true)
			}
			s.pos = skipPast(b, lt+2, ">") // "</>" or "</3": ignored
		case isASCIILetter(c):
			ok := s.readTag(lt, lt+1, false)
			if ok && rawTextTag(s.tok.name) {
				// x/net/html reads the body as text even after <script/>.
				s.pos = skipRawText(b, s.tok.end, s.tok.name)
			}
			return ok
		}
		// Anything else: a literal '<' in text.
	}
	return false
}

// readTag reads the tag whose '<' is at lt and whose name starts at ns
// into s.tok.
func (s *tagScanner) readTag(lt, ns int, closing bool) bool {
	b := s.b
	i := ns
	for i < len(b) && (tagSep[b[i]] == 0 || tagSep[b[i]] == sepEq) {
		i++
	}
	t := &s.tok
	*t = tagToken{start: lt, name: b[ns:i], closing: closing}
	attrStart := i
	end := t.readAttrs(b, i)
	if end < 0 {
		s.pos, s.cutShort, s.partial = len(b), true, lt
		return false
	}
	t.end = end + 1
	t.attrs = b[attrStart:end]
	// "<br/>" closes itself, "<a href=x/>" does not: the '/' belongs to
	// the unquoted value (unless that attribute repeats an earlier one,
	// which x/net/html drops).
	t.selfClosing = !closing && end-1 >= ns && b[end-1] == '/' && (!t.unquotedToEnd || t.lastKeyRepeated())
	s.pos = t.end
	return true
}

// readAttrs returns the offset of the '>' that ends a tag whose
// attributes start at i, stepping over quoted values and noting the ones
// of interest; -1 when the body ends first.
func (t *tagToken) readAttrs(b []byte, i int) int {
	for {
		for i < len(b) && tagSep[b[i]] == sepSpace {
			i++
		}
		if i >= len(b) {
			return -1
		}
		if b[i] == '>' {
			return i
		}
		k, v, next := attrAt(b, i)
		if next < 0 {
			return -1
		}
		t.unquotedToEnd = len(v) > 0 && next < len(b) && b[next] == '>' && &b[next-1] == &v[len(v)-1]
		t.lastKey = k
		var dst *[]byte
		switch len(k) {
		case 2:
			if eqFold(k, "id") {
				dst = &t.id
			}
		case 3:
			if eqFold(k, "rel") {
				dst = &t.rel
			}
		case 4:
			if eqFold(k, "name") {
				dst = &t.nameAttr
			} else if eqFold(k, "href") {
				dst = &t.href
			}
		case 5:
			if eqFold(k, "class") {
				dst = &t.class
			}
		}
		if dst != nil && *dst == nil {
			if v == nil {
				v = b[i:i] // present but empty
			}
			*dst = v
		}
		i = next
	}
}

// attrAt reads the attribute starting at i (not a space, '/' or '>'): its
// key, its raw value (quotes removed, entities left alone) and where the
// next attribute may start; next is -1 when a quoted value runs to the end.
func attrAt(b []byte, i int) (key, val []byte, next int) {
	k := i
	i++ // the first byte belongs to the key, even '='
	for i < len(b) && tagSep[b[i]] == 0 {
		i++
	}
	key = b[k:i]
	j := i
	for j < len(b) && isTagSpace(b[j]) {
		j++
	}
	if j >= len(b) || b[j] != '=' {
		return key, nil, i
	}
	j++
	for j < len(b) && isTagSpace(b[j]) {
		j++
	}
	if j >= len(b) {
		return key, nil, j
	}
	if q := b[j]; q == '"' || q == '\'' {
		e := bytes.IndexByte(b[j+1:], q)
		if e < 0 {
			return key, b[j+1:], -1
		}
		return key, b[j+1 : j+1+e], j + 2 + e
	}
	v := j
	for j < len(b) && !isTagSpace(b[j]) && b[j] != '>' {
		j++
	}
	return key, b[v:j], j
}

// attrIter steps through a tag's attributes.
type attrIter struct {
	b []byte
	i int
}

func (it *attrIter) next() (key, val []byte, ok bool) {
	b := it.b
	for it.i < len(b) && tagSep[b[it.i]] == sepSpace {
		it.i++
	}
	if it.i >= len(b) {
		return nil, nil, false
	}
	key, val, n := attrAt(b, it.i)
	if n < 0 {
		n = len(b)
	}
	it.i = n
	return key, val, true
}

// skipPast returns the offset just past the first sep at or after i, or
// len(b) when there is none.
func skipPast(b []byte, i int, sep string) int {
	if i > len(b) {
		return len(b)
	}
	j := bytes.Index(b[i:], []byte(sep))
	if j < 0 {
		return len(b)
	}
	return i + j + len(sep)
}

// skipComment returns the offset just past the comment whose "<!--" ends
// at i, or len(b): the first '>' after two dashes ("-->", also "--!>"), or
// right after the opening dashes ("<!-->"), as x/net/html reads it. It
// jumps between '>'s: dashes are everywhere in Amazon's class names.
func skipComment(b []byte, i int) int {
	for j := i; j < len(b); {
		g := bytes.IndexByte(b[j:], '>')
		if g < 0 {
			break
		}
		g += j
		d := g
		for d > i && b[d-1] == '-' {
			d--
		}
		if d == i || g-d >= 2 || (g-3 >= i && b[g-1] == '!' && b[g-2] == '-' && b[g-3] == '-') {
			return g + 1
		}
		j = g + 1
	}
	return len(b)
}

// skipRawText returns the offset of the "</name" that ends a raw-text
// element's body starting at i (followed by a space, '/' or '>', any
// case), or len(b) when it never ends.
func skipRawText(b []byte, i int, name []byte) int {
	if eqFold(name, "plaintext") {
		return len(b) // never ends
	}
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '<')
		if j < 0 {
			return len(b)
		}
		i += j
		e := i + 2 + len(name)
		if e <= len(b) && b[i+1] == '/' && sameName(b[i+2:e], name) &&
			(e == len(b) || isTagSpace(b[e]) || b[e] == '/' || b[e] == '>') {
			return i
		}
		i++
	}
	return len(b)
}

// rawTextTag reports whether x/net/html reads the element's body as text.
func rawTextTag(name []byte) bool {
	switch len(name) {
	case 3:
		return eqFold(name, "xmp")
	case 5:
		return eqFold(name, "style") || eqFold(name, "title")
	case 6:
		return eqFold(name, "script") || eqFold(name, "iframe")
	case 7:
		return eqFold(name, "noembed")
	case 8:
		return eqFold(name, "noframes") || eqFold(name, "noscript") || eqFold(name, "textarea")
	case 9:
		return eqFold(name, "plaintext")
	}
	return false
}

// voidTag reports whether the element never has content or an end tag.
func voidTag(name []byte) bool {
	switch len(name) {
	case 2:
		return eqFold(name, "br") || eqFold(name, "hr")
	case 3:
		return eqFold(name, "img") || eqFold(name, "col") || eqFold(name, "wbr")
	case 4:
		return eqFold(name, "area") || eqFold(name, "base") || eqFold(name, "link") || eqFold(name, "meta")
	case 5:
		return eqFold(name, "input") || eqFold(name, "embed") || eqFold(name, "param") || eqFold(name, "track")
	case 6:
		return eqFold(name, "source") || eqFold(name, "keygen")
	}
	return false
}

// sameName compares two element names, ignoring ASCII case.
func sameName(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// eqFold compares b with the lower-case ASCII string s, ignoring ASCII case.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

// isTagSpace is HTML's white space inside tags.
func isTagSpace(c byte) bool { return tagSep[c] == sepSpace && c != '/' }

// tagSep classifies the bytes that end a tag name or attribute key:
// white space and '/' (skipped between attributes), '>' and '='.
var tagSep = [256]uint8{
	' ': sepSpace, '\n': sepSpace, '\t': sepSpace, '\r': sepSpace, '\f': sepSpace, '/': sepSpace,
	'>': sepEnd, '=': sepEq,
}

const (
	sepSpace = 1 + iota
	sepEnd
	sepEq
)

// Kinds of elements, from html.Parse's tree-construction rules, that
// decide where an element ends (see openElems).
const (
	kindSpecial    elemKind = 1 << iota // html's "special" elements
	kindScope                           // bounds the search of a special end tag
	kindButton                          // bounds the search for a <p> to close, with kindScope
	kindClosesP                         // its start tag closes an open <p>
	kindListItem                        // li, dd, dt
	kindHeading                         // h1 to h6
	kindBodyHTML                        // body, html: their end tags close nothing
	kindP                               // p
	kindSelect                          // select
	kindEndsSelect                      // its start tag ends an open <select>
	kindTable                           // table
	kindTablePart                       // tr, td, …: ignored outside a table
)

// elemKind is a set of kind bits.
type elemKind uint16

// tagKind classifies an element name (any case).
func tagKind(name []byte) elemKind {
	if len(name) > 10 {
		return 0
	}
	var buf [10]byte
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(name)]) {
	case "p":
		return kindSpecial | kindClosesP | kindP
	case "address", "article", "aside", "blockquote", "center", "details", "dir", "div", "dl",
		"fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav",
		"ol", "section", "summary", "ul", "pre", "listing", "form", "plaintext", "xmp", "hr":
		return kindSpecial | kindClosesP
	case "dialog", "search":
		return kindClosesP
	case "h1", "h2", "h3", "h4", "h5", "h6":
		return kindSpecial | kindClosesP | kindHeading
	case "li", "dd", "dt":
		return kindSpecial | kindClosesP | kindListItem
	case "applet", "marquee", "object", "template":
		return kindSpecial | kindScope
	case "caption", "td", "th":
		return kindSpecial | kindScope | kindTablePart
	case "select":
		return kindSpecial | kindScope | kindSelect | kindEndsSelect
	case "table":
		return kindSpecial | kindScope | kindClosesP | kindTable
	case "col", "colgroup", "tbody", "tfoot", "thead", "tr":
		return kindSpecial | kindTablePart
	case "html":
		return kindSpecial | kindScope | kindBodyHTML
	case "body":
		return kindSpecial | kindBodyHTML
	case "button":
		return kindSpecial | kindButton
	case "input", "keygen", "textarea":
		return kindSpecial | kindEndsSelect
	case "area", "base", "basefont", "bgsound", "br", "embed", "frame", "frameset",
		"head", "iframe", "img", "link", "meta", "noembed", "noframes", "noscript",
		"param", "script", "source", "style", "title", "track", "wbr":
		return kindSpecial
	}
	return 0
}
