package amazon

import (
	"bytes"
	"strconv"
	"strings"
)

// Structural markers of Amazon's bot walls, matched on the raw bytes
// exactly as Amazon writes them, in bodies of any size; the first in list
// order wins. A marker counts only where a block page puts it (see
// placed): a real product page quotes an earlier captcha URL as a referer
// inside a JSON attribute, and that page is in stock, not blocked.
var blockMarkers = [...]struct{ marker, reason string }{
	{"validateCaptcha", "captcha form (validateCaptcha)"},
	{`id="captchacharacters"`, "captcha input #captchacharacters"},
	{"api-services-support@amazon.com", "automated-access notice (api-services-support)"},
}

// firstMarker returns the index of the first blockMarkers entry (in list
// order, not page order) found in its place in body, or -1. A substring
// search per marker would cost three full scans of a 1.5 MB page;
// instead it jumps with IndexByte between the few bytes a marker must
// contain: the two captcha markers share "tcha", so one walk over the
// 'h's finds either, and the notice is found by its '@'. Only a hit is
// checked for its place, by a tag scan up to it.
func firstMarker(body []byte) int {
	const hValidate, hChars = 13, 9 // offset of the 'h' of "tcha" in each
	found := -1
	var ps placeScanner
	ps.sc.b = body
	for i := 3; i+1 < len(body); i++ {
		j := bytes.IndexByte(body[i:len(body)-1], 'h')
		if j < 0 {
			break
		}
		i += j
		if body[i+1] != 'a' || body[i-1] != 'c' || body[i-2] != 't' {
			continue
		}
		if matchAt(body, i, blockMarkers[0].marker, hValidate) && ps.placed(0, i-hValidate) {
			return 0
		}
		if found < 0 && matchAt(body, i, blockMarkers[1].marker, hChars) && ps.placed(1, i-hChars) {
			found = 1
		}
	}
	if found >= 0 {
		return found
	}
	const atNotice = 20 // offset of the '@'
	ps = placeScanner{sc: tagScanner{b: body}}
	for i := 0; i < len(body); i++ {
		j := bytes.IndexByte(body[i:], '@')
		if j < 0 {
			break
		}
		i += j
		if matchAt(body, i, blockMarkers[2].marker, atNotice) && ps.placed(2, i-atNotice) {
			return 2
		}
	}
	return -1
}

// placeScanner walks the tags of a body forward to tell where an offset
// sits: inside which tag, in a script or style body, or in text. Offsets
// asked about must not decrease.
type placeScanner struct {
	sc   tagScanner
	tok  tagToken // the last tag read that starts at or before the offset
	have bool
	next tagToken // a tag read past the offset, kept for the next call
	held bool
}

// placed reports whether marker m at offset off sits where a block page
// puts it: validateCaptcha in a <form>'s action, captchacharacters as an
// element's id, the notice in text (or a comment), never in a script,
// a style or another attribute.
func (p *placeScanner) placed(m, off int) bool {
	for {
		if !p.held {
			if !p.sc.next() {
				break
			}
			p.next, p.held = p.sc.tok, true
		}
		if p.next.start > off {
			break
		}
		p.tok, p.have, p.held = p.next, true, false
	}
	if !p.have {
		return m == 2 // text before the first tag
	}
	t := &p.tok
	if off < t.end { // inside the tag t
		switch m {
		case 0:
			if !eqFold(t.name, "form") || t.closing {
				return false
			}
			it := attrIter{b: t.attrs}
			for {
				k, v, ok := it.next()
				if !ok {
					return false
				}
				if eqFold(k, "action") && bytes.Contains(v, []byte(blockMarkers[0].marker)) {
					return true
				}
			}
		case 1:
			return !t.closing && string(t.id) == "captchacharacters"
		}
		return false
	}
	// After t: raw text when t opened a script, style, …
	if !t.closing && rawTextTag(t.name) {
		return m == 2 && eqFold(t.name, "title")
	}
	return m == 2
}

// matchAt reports whether pat sits in s with its byte k at offset i.
func matchAt(s []byte, i int, pat string, k int) bool {
	st := i - k
	return st >= 0 && st+len(pat) <= len(s) && string(s[st:st+len(pat)]) == pat
}

// blockPhrases are matched ignoring ASCII case (accented capitals such as
// "È" are not folded: Amazon writes these phrases in sentence case), and
// only on small bodies:
// Amazon's block pages are a few KB, and a long product page could quote
// any phrase in a review. The phrases are lower case.
var blockPhrases = [...]struct{ phrase, reason string }{
	{"robot check</title>", "Robot Check page"},
	{"dogs of amazon", reasonDogs},
	{"to discuss automated access to amazon data", "automated-access notice"},
	{"enter the characters you see below", "captcha text (en)"},
	{"type the characters you see in this image", "captcha text (en)"},
	// The 2024+ "Continue shopping" interstitial (a ~4 KB page served
	// with 200 to flagged clients), in the languages public monitors quote.
	{"click the button below to continue shopping", "continue-shopping interstitial (en)"},
	{"klicke auf die schaltfläche unten, um mit dem einkaufen fortzufahren", "continue-shopping interstitial (de)"},
	{"fai clic sul pulsante qui sotto per continuare a fare acquisti", "continue-shopping interstitial (it)"},
	{"geben sie die zeichen unten ein", "captcha text (de)"},
	{"geben sie die unten angezeigten zeichen ein", "captcha text (de)"},
	{"entrez les caractères que vous voyez ci-dessous", "captcha text (fr)"},
	{"entrez les caract&egrave;res que vous voyez ci-dessous", "captcha text (fr)"},
	{"introduzca los caracteres que ve a continuación", "captcha text (es)"},
	{"introduzca los caracteres que ve a continuaci&oacute;n", "captcha text (es)"},
	{"inserisci i caratteri visualizzati", "captcha text (it)"},
	{"voer de karakters in", "captcha text (nl)"},
	{"wprowadź znaki widoczne poniżej", "captcha text (pl)"},
	{"wprowad&#378; znaki widoczne poni&#380;ej", "captcha text (pl)"},
	{"下に表示されている文字を入力してください", "captcha text (ja)"},
	{"表示されている文字を入力してください", "captcha text (ja)"},
}

// phraseAnchors holds, for each phrase, the index of its rarest byte in
// ordinary pages (see anchorOf); computed once, read-only after.
var phraseAnchors = func() (a [len(blockPhrases)]int) {
	for i, p := range blockPhrases {
		a[i] = anchorOf(p.phrase)
	}
	return a
}()

const reasonDogs = "Dogs of Amazon error page"

// maxPhraseScan is the largest body whose text is searched for block
// phrases; structural markers are searched in bodies of any size.
const maxPhraseScan = 256 << 10

// DetectBlock reports whether a response is one of Amazon's bot walls
// rather than a page about the product: a captcha (validateCaptcha form,
// #captchacharacters, "Robot Check" title, "Enter the characters you see
// below" in every storefront language), the 503 automated-access notice,
// the "Dogs of Amazon" error page (except with status 404, where it is
// Amazon's genuine "page not found" for an unknown ASIN), or status 403,
// 429 or 503. A blocked
// response says nothing about stock and must never be read as out of stock.
// It neither allocates nor copies the body.
func DetectBlock(status int, body []byte) (blocked bool, reason string) {
	if i := firstMarker(body); i >= 0 {
		return true, blockMarkers[i].reason
	}
	if len(body) <= maxPhraseScan {
		for i, p := range blockPhrases {
			if indexFold(body, p.phrase, phraseAnchors[i]) < 0 {
				continue
			}
			if status == 404 && p.reason == reasonDogs {
				// The dogs also decorate the genuine "page not found" for
				// an ASIN that does not exist: a config error, not a
				// block to back off from.
				continue
			}
			return true, p.reason
		}
	}
	switch status {
	case 403, 429, 503:
		return true, "HTTP " + strconv.Itoa(status)
	}
	return false, ""
}

// indexFold returns the offset of the first occurrence of the lower-case
// pat in s, ignoring ASCII case in s, or -1. It jumps with IndexByte
// between occurrences of pat[k] (both cases) and compares the window
// around each: far faster than a plain search when pat[k] is rare, and no
// lower-cased copy of s is made.
func indexFold(s []byte, pat string, k int) int {
	c := pat[k]
	alt := c // the other case of the anchor
	if 'a' <= c && c <= 'z' {
		alt = c - ('a' - 'A')
	}
	last := len(s) - (len(pat) - k) // last offset the anchor can sit at
	for i := k; i <= last; {
		j := indexEitherByte(s[i:last+1], c, alt)
		if j < 0 {
			return -1
		}
		i += j
		if equalFoldLower(s[i-k:i-k+len(pat)], pat) {
			return i - k
		}
		i++
	}
	return -1
}

// indexEitherByte is the first offset of a or b in s, or -1.
func indexEitherByte(s []byte, a, b byte) int {
	i := bytes.IndexByte(s, a)
	if a == b {
		return i
	}
	if i >= 0 {
		s = s[:i] // b only matters before the first a
	}
	if j := bytes.IndexByte(s, b); j >= 0 {
		return j
	}
	return i
}

// equalFoldLower reports whether w equals the lower-case pat, ignoring
// ASCII case in w.
func equalFoldLower(w []byte, pat string) bool {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != pat[i] {
			return false
		}
	}
	return true
}

// anchorRank orders ASCII letters from rarest to commonest in Amazon's
// markup (counted on a real 1.5 MB product page, both cases together).
const anchorRank = "qjxzkwyhvfgbupmrcldnsoitae"

// anchorOf picks the byte of a lower-case phrase to jump by: its rarest
// letter, or its first byte when it has none (the Japanese phrases,
// whose lead byte is rare outside Japanese pages).
func anchorOf(phrase string) int {
	best, bestRank := 0, len(anchorRank)
	for i := 0; i < len(phrase); i++ {
		if r := strings.IndexByte(anchorRank, phrase[i]); r >= 0 && r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}
