package amazon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDetectBlock(t *testing.T) {
	page := func(s string) []byte {
		return []byte("<html><head><title>x</title></head><body>" + s + "</body></html>")
	}
	tests := []struct {
		name    string
		status  int
		body    []byte
		blocked bool
		reason  string // substring
	}{
		{"captcha form", 200, page(`<form method="get" action="/errors/validateCaptcha"></form>`), true, "validateCaptcha"},
		{"captcha input", 200, page(`<input id="captchacharacters" name="field-keywords"/>`), true, "captchacharacters"},
		{"robot check title", 200, []byte(`<html><head><title dir="ltr">Robot Check</title></head></html>`), true, "Robot Check"},
		{"robot check title upper", 200, []byte(`<TITLE>ROBOT CHECK</TITLE>`), true, "Robot Check"},
		{"en text", 200, page(`<h4>Enter the characters you see below</h4>`), true, "(en)"},
		{"de text", 200, page(`<h4>Geben Sie die Zeichen unten ein</h4>`), true, "(de)"},
		{"fr text", 200, page(`<h4>Entrez les caractères que vous voyez ci-dessous</h4>`), true, "(fr)"},
		{"fr entity text", 200, page(`<h4>Entrez les caract&egrave;res que vous voyez ci-dessous</h4>`), true, "(fr)"},
		{"es text", 200, page(`<h4>Introduzca los caracteres que ve a continuación</h4>`), true, "(es)"},
		{"it text", 200, page(`<h4>Inserisci i caratteri visualizzati nello spazio sottostante</h4>`), true, "(it)"},
		{"nl text", 200, page(`<h4>Voer de karakters in die u hieronder ziet</h4>`), true, "(nl)"},
		{"pl text", 200, page(`<h4>Wprowadź znaki widoczne poniżej</h4>`), true, "(pl)"},
		{"ja text", 200, page(`<h4>下に表示されている文字を入力してください</h4>`), true, "(ja)"},
		{"automated access 503", 503, page(`<!-- To discuss automated access to Amazon data please contact api-services-support@amazon.com. -->`), true, "automated-access"},
		{"automated access text only", 200, page(`To discuss automated access to Amazon data please contact us`), true, "automated-access"},
		{"dogs of amazon", 500, page(`<img alt="Dogs of Amazon" src="x.jpg"/>`), true, "Dogs of Amazon"},
		{"dogs of amazon 200", 200, page(`<a href="/dogsofamazon"><img alt="Dogs of Amazon"/></a>`), true, "Dogs of Amazon"},
		{"dogs of amazon 404 is not found, not blocked", 404, page(`<title>Page Not Found</title><img alt="Dogs of Amazon"/>`), false, ""},
		{"403", 403, nil, true, "HTTP 403"},
		{"429", 429, page("Too many requests"), true, "HTTP 429"},
		{"503 plain", 503, page("Service Unavailable"), true, "HTTP 503"},
		{"product page", 200, page(`<span id="productTitle">Robot Check Toy</span><div id="availability">Currently unavailable.</div>`), false, ""},
		{"404 page", 404, page(`Page Not Found`), false, ""},
		{"500 page", 500, page(`Internal error`), false, ""},
		{"empty 200", 200, nil, false, ""},
		{"marker first bytes", 200, []byte(`<form action="/errors/validateCaptcha">`), true, "validateCaptcha"},
		{"marker last bytes", 200, []byte(`<input id="captchacharacters">`), true, "captchacharacters"},
		// A marker counts only where a block page puts it (a real in-stock
		// page quotes an old captcha URL as its referer in a JSON attribute).
		{"captcha url in a JSON attribute", 200, page(`<script type="a-state" data-a-state="{&quot;refererURL&quot;:&quot;https://www.amazon.com/errors/validateCaptcha?amzn=x&quot;}">{}</script>`), false, ""},
		{"captcha url in a script", 200, page(`<script>var r = "/errors/validateCaptcha?amzn=1"; var i = '<input id="captchacharacters">';</script>`), false, ""},
		{"captcha url in a link", 200, page(`<a href="/errors/validateCaptcha">x</a>`), false, ""},
		{"captcha url as text", 200, page(`validateCaptcha`), false, ""},
		{"captcha input id in another attribute", 200, page(`<div data-x='id="captchacharacters"'></div>`), false, ""},
		{"captcha form after a decoy", 200, page(`<script>"/errors/validateCaptcha"</script><FORM method="get" ACTION="/errors/validateCaptcha">`), true, "validateCaptcha"},
		{"notice in a script", 200, page(`<script>var m = "api-services-support@amazon.com";</script>`), false, ""},
		{"notice marker alone", 200, []byte(`api-services-support@amazon.com`), true, "api-services-support"},
		{"marker order beats page order", 200, page(`<input id="captchacharacters"/><form action="/errors/validateCaptcha">`), true, "validateCaptcha"},
		{"near misses", 200, page(`validateCaptch captchacharacter id='captchacharacters' api-services-support@amazon.co ValidateCaptcha`), false, ""},
		{"phrase in capitals", 200, page(`<h4>ENTER THE CHARACTERS YOU SEE BELOW</h4>`), true, "(en)"},
		{"phrase mixed case", 200, page(`<p>dOgS oF aMaZoN</p>`), true, "Dogs of Amazon"},
		{"phrase at the very end", 200, []byte(`voer de karakters in`), true, "(nl)"},
		{"phrase cut short", 200, []byte(`voer de karakters i`), false, ""},
		{"ja phrase", 200, page(`表示されている文字を入力してください`), true, "(ja)"},
		{"continue shopping interstitial", 200, []byte(`<html><head><title>Amazon.com</title></head><body><h4>Click the button below to continue shopping</h4><button type="submit">Continue shopping</button></body></html>`), true, "continue-shopping"},
		{"continue shopping interstitial de", 200, page(`<h4>Klicke auf die Schaltfläche unten, um mit dem Einkaufen fortzufahren</h4>`), true, "continue-shopping interstitial (de)"},
		{"continue shopping interstitial it", 200, page(`<h4>Fai clic sul pulsante qui sotto per continuare a fare acquisti</h4>`), true, "continue-shopping interstitial (it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blocked, reason := DetectBlock(tt.status, tt.body)
			if blocked != tt.blocked || !strings.Contains(reason, tt.reason) {
				t.Errorf("DetectBlock = %v, %q; want %v, %q", blocked, reason, tt.blocked, tt.reason)
			}
		})
	}
}

// Phrases are only searched in small bodies: a big product page quoting one
// in a review is not a captcha. Structural markers count at any size.
func TestDetectBlockLargeBody(t *testing.T) {
	filler := bytes.Repeat([]byte("<p>review text</p>"), maxPhraseScan/10)
	quoted := append(append([]byte{}, filler...), []byte("Enter the characters you see below")...)
	if blocked, why := DetectBlock(200, quoted); blocked {
		t.Errorf("large page quoting a phrase was blocked: %s", why)
	}
	marked := append(append([]byte{}, filler...), []byte(`<form action="/errors/validateCaptcha">`)...)
	if blocked, _ := DetectBlock(200, marked); !blocked {
		t.Error("large captcha page not detected")
	}
}

func BenchmarkDetectBlockRealPage(b *testing.B) {
	body := realPage(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if blocked, _ := DetectBlock(200, body); blocked {
			b.Fatal("blocked")
		}
	}
}

func BenchmarkDetectBlockTypical(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "product-USA-instock-amazon.html"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if blocked, _ := DetectBlock(200, body); blocked {
			b.Fatal("blocked")
		}
	}
}

func BenchmarkDetectBlockCaptcha(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "captcha-de.html"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if blocked, _ := DetectBlock(200, body); !blocked {
			b.Fatal("not blocked")
		}
	}
}

// FuzzDetectBlock: any body, no panic; a verdict always has a reason; a
// real captcha form in front of anything is a block, and a marker quoted
// inside a script never is one on its own.
func FuzzDetectBlock(f *testing.F) {
	seedFixtures(f, func(b []byte) { f.Add(200, b) })
	f.Add(200, []byte(`<div data-x="/errors/validateCaptcha?amzn=1">`))
	f.Add(403, []byte(nil))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		blocked, reason := DetectBlock(status, body)
		if blocked != (reason != "") {
			t.Fatalf("blocked %v with reason %q", blocked, reason)
		}
		if status == 403 && !blocked {
			t.Fatal("403 not blocked")
		}
		form := append([]byte(`<html><body><form method="get" action="/errors/validateCaptcha"></form>`), body...)
		if b, _ := DetectBlock(200, form); !b {
			t.Fatal("captcha form not detected")
		}
		if len(body) < 64 && isAlnum(body) {
			quoted := append(append([]byte(`<html><body><script>var u="/errors/validateCaptcha?`), body...), `";</script><p>ok</p></body></html>`...)
			if b, why := DetectBlock(200, quoted); b {
				t.Fatalf("marker in a script read as a block: %s", why)
			}
		}
	})
}

func isAlnum(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
