package amazon

import (
	"bytes"
	"strconv"
)

// Structural markers of Amazon's bot walls. They are matched on the raw
// bytes, exactly as Amazon writes them, so a 1.5 MB product page costs a
// few fast scans and no allocation.
var blockMarkers = [...]struct{ marker, reason string }{
	{"validateCaptcha", "captcha form (validateCaptcha)"},
	{`id="captchacharacters"`, "captcha input #captchacharacters"},
	{"api-services-support@amazon.com", "automated-access notice (api-services-support)"},
}

// blockPhrases are matched case-insensitively, and only on small bodies:
// Amazon's block pages are a few KB, and a long product page could quote
// any phrase in a review.
var blockPhrases = [...]struct{ phrase, reason string }{
	{"robot check</title>", "Robot Check page"},
	{"dogs of amazon", reasonDogs},
	{"to discuss automated access to amazon data", "automated-access notice"},
	{"enter the characters you see below", "captcha text (en)"},
	{"type the characters you see in this image", "captcha text (en)"},
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
func DetectBlock(status int, body []byte) (blocked bool, reason string) {
	for _, m := range blockMarkers {
		if bytes.Contains(body, []byte(m.marker)) {
			return true, m.reason
		}
	}
	if len(body) <= maxPhraseScan {
		lower := bytes.ToLower(body)
		for _, p := range blockPhrases {
			if !bytes.Contains(lower, []byte(p.phrase)) {
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
