package amazon

import (
	"net/url"
	"strings"

	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
)

// sel compiles a selector at package init. The selectors are constants of
// this package: a bad one is a programming error caught by any test.
func sel(s string) matcherT { return cascadia.MustCompile(s) }

// first returns the first node under root matching any of sels, trying the
// selectors in order (so the order states a preference, not document order).
func first(root *html.Node, sels ...matcherT) *html.Node {
	if root == nil {
		return nil
	}
	for _, s := range sels {
		if n := cascadia.Query(root, s); n != nil {
			return n
		}
	}
	return nil
}

// firstAttr returns the first non-empty value of attribute key among the
// nodes matching sels, in selector order then document order.
func firstAttr(root *html.Node, key string, sels ...matcherT) string {
	if root == nil {
		return ""
	}
	for _, s := range sels {
		for _, n := range cascadia.QueryAll(root, s) {
			if v := strings.TrimSpace(attr(n, key)); v != "" {
				return v
			}
		}
	}
	return ""
}

func attr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// text returns the visible text under n with runs of white space (including
// no-break spaces) collapsed to one space. Scripts and styles are skipped.
func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte(' ')
			return
		case html.ElementNode:
			if n.DataAtom == atom.Script || n.DataAtom == atom.Style || n.DataAtom == atom.Noscript {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// rawText is the concatenated text of n's direct and nested text nodes,
// including scripts: merchant ids sometimes only sit in an offer's script.
func rawText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return b.String()
}

// insideAny reports whether n has an ancestor (below stop) carrying one of
// the classes: how the crossed-out list price (.a-text-price, .basisPrice)
// is kept away from the price to pay.
func insideAny(n, stop *html.Node, classes ...string) bool {
	for p := n; p != nil && p != stop; p = p.Parent {
		for _, c := range classes {
			if hasClass(p, c) {
				return true
			}
		}
	}
	return false
}

// decodeOfferID turns the URL-encoded offerListingID attribute
// ("p7h8Hu2%2BBb5u...") into the offer id Stellar wants ("p7h8Hu2+Bb5u...").
// PathUnescape is used because a '+' in an already-decoded id is part of
// the base64, not a space. A value that does not decode, or decodes to
// something with spaces or control characters, is not an offer id.
func decodeOfferID(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return ""
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c <= ' ' || c == 0x7f {
			return ""
		}
	}
	if len(dec) > 512 {
		return ""
	}
	return dec
}

// isMerchantID accepts Amazon merchant ids: upper-case letters and digits,
// 8 to 20 long (ATVPDKIKX0DER, A2JZ0S3QVWQECL).
func isMerchantID(s string) bool { return len(s) >= 8 && len(s) <= 20 && textutil.IsUpperAlnum(s) }

// sellerFromHref extracts seller=ID from a seller-profile link.
func sellerFromHref(href string) string {
	u, err := url.Parse(href)
	if err != nil {
		return ""
	}
	q := u.Query()
	for _, k := range [...]string{"seller", "smid", "merchantId"} {
		if v := q.Get(k); isMerchantID(v) {
			return v
		}
	}
	return ""
}

// matcherT is a compiled selector.
type matcherT = cascadia.Matcher

// queryAll returns the descendants of root matching m, in document order.
func queryAll(root *html.Node, m matcherT) []*html.Node {
	if root == nil {
		return nil
	}
	return cascadia.QueryAll(root, m)
}
