package monitors

import (
	"context"
	"errors"
	"strings"
	"testing"
)

type nopMonitor struct{}

func (nopMonitor) Check(context.Context, *Target, Fetcher) Observation { return Observation{} }

func TestRegistry(t *testing.T) {
	Register("test-a", func() Monitor { return nopMonitor{} })
	Register("test-b", func() Monitor { return nopMonitor{} })
	if _, err := New("test-a"); err != nil {
		t.Fatal(err)
	}
	_, err := New("nope")
	if err == nil || !strings.Contains(err.Error(), `unknown site "nope" (known: test-a, test-b`) {
		t.Fatalf("New(unknown) = %v", err)
	}
	for name, reg := range map[string]func(){
		"duplicate":  func() { Register("test-a", func() Monitor { return nopMonitor{} }) },
		"empty":      func() { Register("", func() Monitor { return nopMonitor{} }) },
		"upper case": func() { Register("Amazon", func() Monitor { return nopMonitor{} }) },
		"nil":        func() { Register("test-c", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register %s did not panic", name)
				}
			}()
			reg()
		}()
	}
}

func TestParseBaseURL(t *testing.T) {
	for in, wantErr := range map[string]string{
		"http://127.0.0.1:8089":               "",
		"http://127.0.0.1:8089/www.amazon.de": "",
		"https://shop.example.com/":           "",
		"/www.amazon.de":                      "not an absolute http(s) URL",
		"ftp://x":                             "not an absolute http(s) URL",
		"http://x/?q=1":                       "must not have a query or fragment",
		"http://x/#f":                         "must not have a query or fragment",
		"http://x/%zz":                        "baseURL:",
	} {
		_, err := ParseBaseURL(in)
		if wantErr == "" && err != nil || wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)) {
			t.Errorf("ParseBaseURL(%q) = %v, want %q", in, err, wantErr)
		}
	}
}

func TestShortJSONError(t *testing.T) {
	long := errors.New(`"syntax error at index 3: mismatched type\n\n\t{\"a\":` + strings.Repeat("x", 1<<20) + `"`)
	got := ShortJSONError(long).Error()
	if got != "syntax error at index 3: mismatched type" {
		t.Fatalf("ShortJSONError = %q", got)
	}
	if n := len(ShortJSONError(errors.New(strings.Repeat("y", 1000))).Error()); n > maxJSONErr+4 {
		t.Fatalf("ShortJSONError kept %d bytes", n)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Error: "error", Blocked: "blocked", OutOfStock: "out_of_stock", InStock: "in_stock", Outcome(9): "unknown"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}

func TestAbsURL(t *testing.T) {
	for in, want := range map[string]string{
		"//cdn.shopify.com/s/files/a.jpg":            "https://cdn.shopify.com/s/files/a.jpg",
		" https://m.media-amazon.com/I/x.jpg ":       "https://m.media-amazon.com/I/x.jpg",
		"http://i5.walmartimages.com/a.jpg":          "http://i5.walmartimages.com/a.jpg",
		"/images/I/x.jpg":                            "",
		"data:image/png;base64,AAAA":                 "",
		"https://":                                   "",
		"https://x.com/a b.jpg":                      "",
		"https://x.com/a\x00.jpg":                    "",
		"https://x.com/" + strings.Repeat("a", 2048): "",
	} {
		if got := AbsURL(in); got != want {
			t.Errorf("AbsURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"  Nintendo Switch  ": "Nintendo Switch",
		"a\tb\nc\x7f":         "a b c",
		"\x00only\x01":        "only",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
