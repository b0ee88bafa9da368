package amazon

import (
	"bytes"

	"golang.org/x/net/html"
)

// A real product page is 1.5 MB of markup, of which the parsers need a few
// KB: the buy box's inputs and buttons, the price block, the title, the
// image tag. Building the whole tree with html.Parse cost ~20 ms and 176k
// allocations a page, so the parsers first cut the page down to a
// skeleton: one pass of tagScanner keeps the elements a selector can match
// (with their ancestry among themselves, in document order) and drops the
// rest. The skeleton is then parsed and queried with the same selectors as
// before, so what a selector means does not change, only how much of the
// page it looks at.

// part is what the skeleton keeps of an element.
type part uint8

const (
	partNone  part = iota // dropped (its kept descendants still count)
	partShell             // its start tag, kept descendants and an end tag
	partWhole             // copied with all its content (text, prices)
)

// classifier decides an element's part from its start tag. scope is the
// union of the flags of its open ancestors; the flags returned are added
// for its descendants (e.g. "inside a price block").
type classifier func(t *tagToken, scope uint8) (p part, flags uint8)

// skelItem is one kept element.
type skelItem struct {
	start, tagEnd, end int // '<', just past the start tag's '>', just past the element
	name               []byte
	whole, void        bool
	closed             bool // by its own end tag, which end includes
	class              bool // a shell whose class a selector may test
}

type openElem struct {
	name      []byte
	item      int // index in items, -1 when not kept
	flags     uint8
	kind      elemKind // tagKind(name)
	tableWrap bool     // emit: the shell was given a table around it
}

// skeleton is the result of cutting a page down.
type skeleton struct {
	doc []byte // the kept elements, ready for html.Parse
	// openDivs counts the <div> start tags left without an end tag, the
	// way x/net/html's tokenizer sees them (stray </div> ignored,
	// <div/> not counted).
	openDivs int
}

// maxCloseSearch bounds how far down the open elements an end tag looks
// for its start tag, so that junk with thousands of unclosed elements and
// stray end tags costs linear time. Real pages nest a few dozen deep.
const maxCloseSearch = 256

// openElems is the stack of open elements, with the part of html.Parse's
// tree-construction rules that decides where an element ends: which end
// tag closes it, which stray end tag is ignored, which start tag closes an
// unclosed <p> or <li>, which <form> is no form. Table and
// formatting-element repairs are left out: Amazon's markup does not lean
// on them, and FuzzSkeletonMatchesFullTree checks the outcome against
// html.Parse.
type openElems struct {
	stack    []openElem
	items    []skelItem
	formOpen bool // html.Parse's form element pointer is set
	openP    int  // <p> elements on the stack: most pages have none to close
	// openSelect and openTable count those elements on the stack.
	openSelect, openTable int
}

func (o *openElems) push(e openElem) {
	if e.kind&kindP != 0 {
		o.openP++
	}
	if e.kind&kindSelect != 0 {
		o.openSelect++
	}
	if e.kind&kindTable != 0 {
		o.openTable++
	}
	o.stack = append(o.stack, e)
}

func (o *openElems) top() *openElem { return &o.stack[len(o.stack)-1] }

// popTo closes the elements from the top down to index k: the one at k by
// an end tag ending at end, those above it implicitly at at.
func (o *openElems) popTo(k, at, end int) {
	for j := len(o.stack) - 1; j >= k; j-- {
		if o.stack[j].kind&kindP != 0 {
			o.openP--
		}
		if o.stack[j].kind&kindSelect != 0 {
			o.openSelect--
		}
		if o.stack[j].kind&kindTable != 0 {
			o.openTable--
		}
		if i := o.stack[j].item; i >= 0 {
			o.items[i].end = at
			if j == k && end > at {
				o.items[i].end, o.items[i].closed = end, true
			}
		}
	}
	o.stack = o.stack[:k]
}

// find returns the index of the innermost open element named name, or -1
// when an element with a kind in stop comes first (or none is open).
func (o *openElems) find(name []byte, stop elemKind) int {
	for k := len(o.stack) - 1; k >= max(0, len(o.stack)-maxCloseSearch); k-- {
		e := &o.stack[k]
		if sameName(e.name, name) {
			return k
		}
		if e.kind&stop != 0 {
			return -1
		}
	}
	return -1
}

// endTag applies an end tag: one for a special element (</div>) closes it
// and everything above it unless a scope boundary (table, td, …) comes
// first; one for an ordinary element (</span>) is ignored when a special
// element comes first, as html.Parse does. </body> and </html> close
// nothing.
func (o *openElems) endTag(t *tagToken) {
	kind := tagKind(t.name)
	if kind&kindBodyHTML != 0 {
		return
	}
	stop := kindSpecial
	if kind&kindSpecial != 0 {
		stop = kindScope
	}
	if k := o.find(t.name, stop); k >= 0 {
		o.popTo(k, t.start, t.end)
	}
}

// startTag closes what a start tag implicitly closes: an open <p> (before
// a block), the previous <li>, <dd> or <dt>, a heading inside a heading.
func (o *openElems) startTag(t *tagToken, kind elemKind) {
	if kind&kindListItem != 0 {
		for k := len(o.stack) - 1; k >= max(0, len(o.stack)-maxCloseSearch); k-- {
			e := &o.stack[k]
			if li := eqFold(t.name, "li"); (li && eqFold(e.name, "li")) || (!li && (eqFold(e.name, "dd") || eqFold(e.name, "dt"))) {
				o.popTo(k, t.start, 0)
				break
			}
			if e.kind&kindSpecial != 0 && !eqFold(e.name, "address") && !eqFold(e.name, "div") && !eqFold(e.name, "p") {
				break
			}
		}
	}
	if kind&kindClosesP != 0 && o.openP > 0 {
		if k := o.find([]byte("p"), kindScope|kindButton); k >= 0 {
			o.popTo(k, t.start, 0)
		}
	}
	if kind&kindHeading != 0 && len(o.stack) > 0 && o.top().kind&kindHeading != 0 {
		o.popTo(len(o.stack)-1, t.start, 0)
	}
	if kind&kindEndsSelect != 0 && o.openSelect > 0 {
		// Inside a <select> html.Parse takes no other markup; an <input>,
		// <textarea> or <select> ends it.
		if k := o.find([]byte("select"), 0); k >= 0 {
			o.popTo(k, t.start, 0)
		}
	}
}

// formTag handles <form> and </form> the way html.Parse's form element
// pointer does: while a form is open (until its own </form>, however it
// left the stack) another <form> start tag is ignored, so a nested
// form#addToCart is no form at all. Ignored forms are not kept; kept ones
// are written so that html.Parse of the skeleton sets and clears its own
// pointer at the same points (see emit). It reports whether the tag was
// consumed (ignored, or an end tag applied).
func (o *openElems) formTag(t *tagToken) bool {
	if !t.closing {
		ignore := o.formOpen
		o.formOpen = true
		return ignore
	}
	if o.formOpen {
		o.formOpen = false
		if k := o.find(t.name, kindScope); k >= 0 {
			// Only the form leaves the stack; what is open inside it stays.
			if i := o.stack[k].item; i >= 0 {
				o.items[i].end, o.items[i].closed = t.end, true
			}
			o.stack = append(o.stack[:k], o.stack[k+1:]...) // a form is never a <p>
		}
	}
	return true
}

// apply applies tag t to the open elements, all but pushing the element a
// start tag opens: it reports whether t opens one (a start tag that is not
// ignored) and t's kind.
func (o *openElems) apply(t *tagToken) (opens bool, kind elemKind) {
	if eqFold(t.name, "form") && o.formTag(t) {
		return false, 0
	}
	if t.closing {
		o.endTag(t)
		return false, 0
	}
	kind = tagKind(t.name)
	if kind&kindBodyHTML != 0 || eqFold(t.name, "head") {
		// The tree has one html, head and body, made up front: these
		// tags only add attributes to them (or start the head), they
		// open nothing anything else could be inside of.
		return false, 0
	}
	if kind&kindTablePart != 0 && o.openTable == 0 {
		return false, 0 // a <tr> or <td> outside a table is ignored
	}
	o.startTag(t, kind)
	return true, kind
}

// cut scans body once and returns its skeleton. Nesting follows
// openElems; elements still open at the end run to the end of the body.
func cut(body []byte, classify classifier) skeleton {
	var (
		sc   = tagScanner{b: body}
		o    = openElems{stack: make([]openElem, 0, 64), items: make([]skelItem, 0, 32)}
		divs int
	)
	for sc.next() {
		t := &sc.tok
		if eqFold(t.name, "div") {
			if !t.closing && !t.selfClosing {
				divs++
			} else if t.closing && divs > 0 {
				divs--
			}
		}
		opens, kind := o.apply(t)
		if !opens {
			continue
		}
		var scope uint8
		if len(o.stack) > 0 {
			scope = o.top().flags
		}
		p, flags := classify(t, scope)
		void := voidTag(t.name)
		idx := -1
		if p != partNone {
			end := t.end
			if !void {
				end = len(body)
			}
			o.items = append(o.items, skelItem{start: t.start, tagEnd: t.end, end: end, name: t.name,
				whole: p == partWhole, void: void, class: scope|flags != 0})
			idx = len(o.items) - 1
		}
		if !void {
			o.push(openElem{name: t.name, item: idx, flags: scope | flags, kind: kind})
		}
	}
	return skeleton{doc: emit(body, o.items, o.stack[:0]), openDivs: divs}
}

// emit writes the kept elements in document order: whole ones with all
// their content (anything kept inside them comes along), shells as their
// start tag, their kept descendants and a closing tag. Every tag written
// keeps only the attributes the parsers read (keptAttr): Amazon's tags
// carry a dozen data-* attributes each, and every attribute is an
// allocation in html.Parse. stack is scratch space.
func emit(body []byte, items []skelItem, stack []openElem) []byte {
	n := 0
	for _, it := range items {
		if it.whole {
			n += it.end - it.start + len(it.name) + 3
		} else {
			n += it.tagEnd - it.start + len(it.name) + 3
		}
	}
	out := make([]byte, 0, n+64)
	covered := 0 // end of the last whole element written
	closeTo := func(pos int) {
		for len(stack) > 0 && items[stack[len(stack)-1].item].end <= pos {
			it := items[stack[len(stack)-1].item]
			switch {
			case !eqFold(it.name, "form"):
				out = append(append(append(out, "</"...), it.name...), '>')
			case it.closed:
				out = append(append(out, "</form>"...), wrapEnd...)
			default:
				out = append(out, wrapEnd...) // see below
			}
			if stack[len(stack)-1].tableWrap {
				_, tableClose := tableContext(it.name)
				out = append(out, tableClose...)
			}
			stack = stack[:len(stack)-1]
		}
	}
	for i, it := range items {
		closeTo(it.start)
		if it.start < covered {
			continue
		}
		// A table part (th, td, tr, …) outside a table is dropped by
		// html.Parse: one kept without its table gets a table around it.
		tableOpen, tableClose := tableContext(it.name)
		if tableOpen != "" && inTable(stack) {
			tableOpen, tableClose = "", ""
		}
		out = append(out, tableOpen...)
		if it.whole {
			// One closed by an ancestor's end tag or the end of the page
			// (neither is copied) is closed here, with whatever it left
			// open, or what follows in the skeleton would land inside it;
			// a wrapper's end tag stands for that ancestor's.
			if open := !it.closed && !it.void; open {
				out = append(appendPruned(append(out, wrapStart...), body[it.start:it.end], true), wrapEnd...)
			} else {
				out = appendPruned(out, body[it.start:it.end], false)
			}
			out = append(out, tableClose...)
			covered = it.end
			continue
		}
		if eqFold(it.name, "form") {
			// A form closed by an ancestor's end tag leaves html.Parse's
			// form pointer set (no later form counts); one closed by
			// </form> clears it. A wrapper lets the skeleton close it
			// either way.
			out = append(out, wrapStart...)
		}
		sc := tagScanner{b: body[it.start:it.tagEnd]}
		if sc.next() {
			out = appendTag(out, &sc.tok, it.class)
		}
		if it.void {
			out = append(out, tableClose...)
		} else {
			stack = append(stack, openElem{name: it.name, item: i, tableWrap: tableClose != ""})
		}
	}
	closeTo(len(body) + 1)
	return out
}

// tableContext is the markup a table part needs around it to be parsed
// as one, or "" for any other element.
func tableContext(name []byte) (open, close string) {
	switch {
	case eqFold(name, "td"), eqFold(name, "th"):
		return "<table><tbody><tr>", "</tr></tbody></table>"
	case eqFold(name, "tr"):
		return "<table><tbody>", "</tbody></table>"
	case eqFold(name, "tbody"), eqFold(name, "thead"), eqFold(name, "tfoot"), eqFold(name, "caption"), eqFold(name, "colgroup"):
		return "<table>", "</table>"
	case eqFold(name, "col"):
		return "<table><colgroup>", "</colgroup></table>"
	}
	return "", ""
}

// inTable reports whether the innermost open shell is a table or a part
// of one, so that a table part inside it needs no table of its own.
func inTable(stack []openElem) bool {
	if len(stack) == 0 {
		return false
	}
	n := stack[len(stack)-1].name
	return eqFold(n, "table") || eqFold(n, "tbody") || eqFold(n, "thead") || eqFold(n, "tfoot") || eqFold(n, "tr")
}

// A wrapper element stands for the ancestor whose end tag closed a kept
// element implicitly: its end tag closes whatever is open inside it, a
// form included (without clearing the form pointer). It is a "special"
// element, so that stray end tags inside cannot close it early, and one
// no page uses, so that no stray </hgroup> closes it either.
const (
	wrapStart = "<hgroup>"
	wrapEnd   = "</hgroup>"
)

// appendPruned appends markup with its text, comments and raw-text bodies
// as they are and its tags pruned by appendTag; with closeOpen, it then
// closes every element the markup left open, innermost first.
func appendPruned(out, b []byte, closeOpen bool) []byte {
	var (
		sc   = tagScanner{b: b}
		o    openElems
		last = 0
	)
	for sc.next() {
		t := &sc.tok
		out = append(out, b[last:t.start]...)
		out = appendTag(out, t, true)
		last = t.end
		if closeOpen {
			if opens, kind := o.apply(t); opens && !voidTag(t.name) {
				o.push(openElem{name: t.name, item: -1, kind: kind})
			}
		}
	}
	if sc.cutShort {
		// A tag cut off by the end of the page is no tag; copied before
		// closing tags, it would become one.
		out = append(out, b[last:sc.partial]...)
	} else {
		out = append(out, b[last:]...)
	}
	for k := len(o.stack) - 1; k >= 0; k-- {
		// Not </form>: it would clear the form pointer. The caller's
		// wrapEnd takes the form off the stack.
		if name := o.stack[k].name; !eqFold(name, "form") {
			out = append(append(append(out, "</"...), name...), '>')
		}
	}
	return out
}

// appendTag writes t with only the attributes keptAttr names (and class
// only if asked: selectors look at classes inside whole elements and price
// blocks only), quoted so that their raw values (character references and
// all) read back the same.
func appendTag(out []byte, t *tagToken, class bool) []byte {
	out = append(out, '<')
	if t.closing {
		out = append(out, '/')
	}
	out = append(out, t.name...)
	if !t.closing {
		it := attrIter{b: t.attrs}
		for {
			k, v, ok := it.next()
			if !ok {
				break
			}
			if !keptAttr(k) || (!class && eqFold(k, "class")) {
				continue
			}
			out = append(append(out, ' '), k...)
			if v == nil {
				continue
			}
			switch {
			case bytes.IndexByte(v, '"') < 0:
				out = append(append(append(out, `="`...), v...), '"')
			case bytes.IndexByte(v, '\'') < 0:
				out = append(append(append(out, `='`...), v...), '\'')
			default: // only an unquoted value holds both quotes
				out = append(out, `="`...)
				for _, c := range v {
					if c == '"' {
						out = append(out, "&quot;"...)
					} else {
						out = append(out, c)
					}
				}
				out = append(out, '"')
			}
		}
		if t.selfClosing {
			out = append(out, '/')
		}
	}
	return append(out, '>')
}

// keptAttr names the attributes ParseProduct and ParseAOD read, in
// selectors or with attr.
func keptAttr(k []byte) bool {
	switch len(k) {
	case 2:
		return eqFold(k, "id")
	case 3:
		return eqFold(k, "rel") || eqFold(k, "src")
	case 4:
		return eqFold(k, "name") || eqFold(k, "href")
	case 5:
		return eqFold(k, "class") || eqFold(k, "value")
	case 11:
		return eqFold(k, "data-action")
	case 14:
		return eqFold(k, "data-old-hires")
	case 19:
		return eqFold(k, "data-aod-atc-action")
	case 20:
		return eqFold(k, "data-a-dynamic-image") || eqFold(k, "data-aw-aod-cart-api")
	}
	return false
}

// parseSkeleton parses a skeleton into a tree for the selectors.
func parseSkeleton(doc []byte) (*html.Node, error) {
	return html.Parse(bytes.NewReader(doc))
}

// attrValue decodes character references the way the tree holds the
// value; the common case has none and costs nothing.
func attrValue(v []byte) []byte {
	if bytes.IndexByte(v, '&') < 0 {
		return v
	}
	return []byte(html.UnescapeString(string(v)))
}

// hasClassToken reports whether a class attribute lists tok.
func hasClassToken(class []byte, tok string) bool {
	for len(class) > 0 {
		i := 0
		for i < len(class) && isTagSpace(class[i]) {
			i++
		}
		j := i
		for j < len(class) && !isTagSpace(class[j]) {
			j++
		}
		if string(class[i:j]) == tok {
			return true
		}
		class = class[j:]
	}
	return false
}

// scopePrice marks the inside of a price block, where .a-price elements
// and the list-price wrappers around them are kept.
const scopePrice uint8 = 1

// productPart keeps what ParseProduct's selectors can match; keep it in
// step with them (product.go). Ids are matched exactly, like #id.
func productPart(t *tagToken, scope uint8) (part, uint8) {
	p := partNone
	switch string(attrValue(t.id)) {
	case "":
	case "qualifiedBuybox", "desktop_buybox", "buybox", "addToCart", "rightCol",
		"add-to-cart-button", "buy-now-button", "ASIN", "merchantID",
		"landingImage", "imgBlkFront", "ebooksImgBlkFront", "main-image",
		"outOfStock", "backInStock", "buybox-see-all-buying-choices", "unqualifiedBuyBox", "aod-ingress-link",
		"usedOnlyBuybox", "used_buybox_desktop", "usedbuybox.addToCart", "buyOneClick":
		p = partShell
	case "productTitle", "ebooksProductTitle", "title",
		"price_inside_buybox", "priceblock_ourprice", "priceblock_dealprice",
		"sellerProfileTriggerId", "merchant-info", "merchantInfoFeature_feature_div", "tabular-buybox",
		"availability", "olp_feature_div", "newBuyBoxPrice", "kindle-price":
		return partWhole, 0
	case "corePrice_feature_div", "corePriceDisplay_desktop_feature_div", "apex_desktop",
		"apex_offerDisplay_desktop", "corePrice_desktop", "buyNewSection", "usedBuySection":
		return partShell, scopePrice
	}
	if t.nameAttr != nil {
		switch string(attrValue(t.nameAttr)) {
		case "ASIN", "items[0.base][asin]", "offerListingID", "items[0.base][offerListingId]",
			"merchantID", "submit.add-to-cart", "submit.buy-now", "oid", "isUsedBuyBox":
			p = partShell
		}
	}
	if eqFold(t.name, "form") {
		// Every form (html.Parse ignores a form nested in another, see
		// formTag): forms decide which later form is one.
		p = partShell
	}
	if t.rel != nil && string(attrValue(t.rel)) == "canonical" {
		p = partShell
	}
	// The raw href is searched: the path has nothing to decode, and links
	// are too many to unescape each.
	if t.href != nil && eqFold(t.name, "a") && bytes.Contains(t.href, []byte("/gp/offer-listing/")) {
		p = partShell
	}
	if scope&scopePrice != 0 && t.class != nil {
		c := attrValue(t.class)
		switch {
		case hasClassToken(c, "a-price"), hasClassToken(c, "priceToPay"), hasClassToken(c, "apexPriceToPay"),
			hasClassToken(c, "offer-price"):
			return partWhole, 0
		case hasClassToken(c, "a-text-price"), hasClassToken(c, "basisPrice"):
			p = partShell
		}
	}
	return p, 0
}
