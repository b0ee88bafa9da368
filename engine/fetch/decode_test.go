package fetch

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestDecodeBody: the browser path decodes what Chrome's Accept-Encoding
// offers, and caps the decoded size.
func TestDecodeBody(t *testing.T) {
	body := []byte(strings.Repeat(page, 20))
	for enc, raw := range map[string][]byte{
		"":         body,
		"identity": body,
		"gzip":     fasthttp.AppendGzipBytes(nil, body),
		"deflate":  fasthttp.AppendDeflateBytes(nil, body),
		"br":       fasthttp.AppendBrotliBytes(nil, body),
		"zstd":     fasthttp.AppendZstdBytes(nil, body),
	} {
		got, err := decodeBody(raw, enc, 1<<20)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%q: %d bytes, %v", enc, len(got), err)
		}
		if enc != "" && enc != "identity" {
			if _, err := decodeBody(raw, enc, len(body)-1); !errors.Is(err, ErrBodyTooLarge) {
				t.Errorf("%q over the cap: %v", enc, err)
			}
		}
	}
	if _, err := decodeBody([]byte("not gzip"), "gzip", 1<<20); err == nil || !strings.Contains(err.Error(), `decode "gzip" body`) {
		t.Errorf("corrupt gzip: %v", err)
	}
}
