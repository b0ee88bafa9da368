package abuse

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// ingestCase is one bad request to the ingest API and the statuses it may
// get.
type ingestCase struct {
	name   string
	path   string // default /api/pings
	token  func(Target) string
	ctype  string
	body   []byte
	raw    func(t Target) []byte // sent as is on a TCP connection instead
	accept []int
}

func ingestChecks() []Check {
	valid := []byte(`{"site":"amazon","region":"USA","sku":"B0ABUSE001","offerId":"x","details":{"productPrice":"1.00"}}`)
	deep := append(bytes.Repeat([]byte("["), 100000), bytes.Repeat([]byte("]"), 100000)...)
	fam := []struct {
		name, about string
		cases       []ingestCase
	}{
		{"ingest/bad-json", "broken, truncated, deeply nested or trailing-garbage JSON gets 400", []ingestCase{
			{name: "truncated", body: valid[:40], accept: []int{400}},
			{name: "not-json", body: []byte("site=amazon&sku=B0"), accept: []int{400}},
			{name: "trailing", body: append(bytes.Clone(valid), "}}}"...), accept: []int{400}},
			{name: "nested-100k", body: deep, accept: []int{400}},
			{name: "nul-bytes", body: []byte("{\"site\":\"amazon\x00\"}"), accept: []int{400}},
			{name: "empty", body: []byte{}, accept: []int{400}},
			{name: "dup-keys", body: []byte(`{"site":"amazon","site":"walmart","sku":"1"}`), accept: []int{400, 202}},
		}},
		{"ingest/wrong-types", "wrong JSON types and invalid fields get 400 naming the field", []ingestCase{
			{name: "site-number", body: []byte(`{"site":1,"sku":"B0ABUSE001"}`), accept: []int{400}},
			{name: "region-array", body: []byte(`{"site":"amazon","region":["USA"],"sku":"B0ABUSE001","offerId":"x"}`), accept: []int{400}},
			{name: "details-string", body: []byte(`{"site":"amazon","region":"USA","sku":"B0ABUSE001","offerId":"x","details":"x"}`), accept: []int{400}},
			{name: "price-number", body: []byte(`{"site":"amazon","region":"USA","sku":"B0ABUSE001","offerId":"x","details":{"productPrice":1}}`), accept: []int{400}},
			{name: "null", body: []byte(`null`), accept: []int{400}},
			{name: "string", body: []byte(`"ping"`), accept: []int{400}},
			{name: "numbers", body: []byte(`[1,2,3]`), accept: []int{400}},
			{name: "bad-image-url", body: []byte(`{"site":"amazon","region":"USA","sku":"B0ABUSE001","offerId":"x","details":{"productImage":"javascript:alert(1)"}}`), accept: []int{400}},
			{name: "unknown-field", body: []byte(`{"site":"amazon","region":"USA","sku":"B0ABUSE001","offerID":"x"}`), accept: []int{400}},
		}},
		{"ingest/10mb", "a 10 MB body, announced or chunked, gets 413 without the server reading it all", []ingestCase{
			{name: "content-length", raw: func(t Target) []byte { return bigPost(t, 10<<20, false) }, accept: []int{413}},
			{name: "chunked", raw: func(t Target) []byte { return bigPost(t, 10<<20, true) }, accept: []int{413}},
			{name: "batch-1001", body: batch(valid, 1001), accept: []int{413}},
		}},
		{"ingest/content-type", "a body that is not declared JSON gets 415", []ingestCase{
			{name: "text/xml", ctype: "text/xml", body: valid, accept: []int{415}},
			{name: "form", ctype: "application/x-www-form-urlencoded", body: valid, accept: []int{415}},
			{name: "multipart", ctype: "multipart/form-data; boundary=x", body: valid, accept: []int{415}},
			{name: "json-suffix", ctype: "application/jsonx", body: valid, accept: []int{415}},
		}},
		{"ingest/bad-token", "missing, unknown, wrong-kind, mangled and 64 KB tokens get 401 (431 for the 64 KB header)", []ingestCase{
			{name: "missing", token: func(Target) string { return "" }, body: valid, accept: []int{401}},
			{name: "unknown", token: func(Target) string { return "sfi_0123456789abcdef0123456789abcdef" }, body: valid, accept: []int{401}},
			{name: "subscriber-key", token: func(t Target) string { return t.Key }, body: valid, accept: []int{401}},
			{name: "admin-token", token: func(t Target) string { return t.AdminToken }, body: valid, accept: []int{401}},
			{name: "truncated", token: func(t Target) string { return t.IngestToken[:len(t.IngestToken)-1] }, body: valid, accept: []int{401}},
			{name: "basic-auth", raw: func(t Target) []byte { return rawPost(t, "Authorization: Basic "+t.IngestToken, valid) }, accept: []int{401}},
			{name: "nul-in-token", raw: func(t Target) []byte { return rawPost(t, "Authorization: Bearer "+t.IngestToken+"\x00", valid) }, accept: []int{400, 401}},
			{name: "64k-token", raw: func(t Target) []byte { return rawPost(t, "Authorization: Bearer "+strings.Repeat("a", 64<<10), valid) }, accept: []int{401, 431}},
			{name: "webhook-unknown", path: "/api/in/nobody?token=sfi_nope", body: valid, token: func(Target) string { return "" }, accept: []int{401}},
		}},
	}
	var out []Check
	for _, f := range fam {
		cases := f.cases
		out = append(out, Check{Name: f.name, Family: "ingest", About: f.about, NeedsAdmin: f.name == "ingest/bad-token",
			Run: func(ctx context.Context, e *Env) (string, error) { return e.ingestCases(ctx, cases) }})
	}
	return append(out, Check{Name: "ingest/invalid-utf8", Family: "ingest",
		About: "a ping with invalid UTF-8 is refused (400) or broadcast as valid UTF-8 (a client must fail a connection on invalid UTF-8 text)",
		Run:   func(ctx context.Context, e *Env) (string, error) { return e.invalidUTF8(ctx) }})
}

// invalidUTF8 posts a ping whose offerId and title carry invalid UTF-8 and
// reads what a subscriber receives.
func (e *Env) invalidUTF8(ctx context.Context) (string, error) {
	c, br, err := e.dialAttacker(ctx, "", 0)
	if err != nil {
		return "", err
	}
	defer c.Close()
	mark := fmt.Sprintf("utf8probe%d", time.Now().UnixNano())
	body := fmt.Appendf(nil, "{\"site\":\"amazon\",\"region\":\"USA\",\"sku\":\"B0ABUSE001\",\"offerId\":\"%s\xff\xfe\","+
		"\"details\":{\"productTitle\":\"t\xc3\x28 \xed\xa0\x80\"}}", mark)
	// The subscriber may not be registered yet when its 101 arrives:
	// post until it receives one.
	var code int
	var frame []byte
	deadline := time.Now().Add(e.Scale.Settle)
	for frame == nil && time.Now().Before(deadline) {
		if code, _, err = e.api.do(ctx, http.MethodPost, "/api/pings", e.Target.IngestToken, "application/json", body); err != nil {
			return "", err
		}
		if code == http.StatusBadRequest {
			return "refused with 400", nil
		}
		if code/100 != 2 {
			return fmt.Sprint(code), fmt.Errorf("want 400 or 2xx, got %d", code)
		}
		end := readUntilClose(c, br, 300*time.Millisecond, func(p []byte) bool { return bytes.Contains(p, []byte(mark)) })
		if end.closed {
			return "", fmt.Errorf("subscriber cut (%d) after an invalid UTF-8 ping", end.code)
		}
		frame = end.reply
	}
	if frame == nil {
		return fmt.Sprint(code), fmt.Errorf("accepted (%d) but never received", code)
	}
	if !utf8.Valid(frame) {
		return fmt.Sprintf("accepted (%d)", code), fmt.Errorf("broadcast frame is not valid UTF-8: %q", frame)
	}
	return fmt.Sprintf("accepted (%d), broadcast as valid UTF-8 (replacement characters)", code), nil
}

func batch(one []byte, n int) []byte {
	b := []byte{'['}
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, one...)
	}
	return append(b, ']')
}

// bigPost is a POST /api/pings with a valid token and an n-byte body of
// spaces-padded JSON, with Content-Length or chunked.
func bigPost(t Target, n int, chunked bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST /api/pings HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n", t.API, t.IngestToken)
	body := append(append([]byte{'['}, bytes.Repeat([]byte{' '}, n-2)...), ']')
	if !chunked {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", n)
		b.Write(body)
		return b.Bytes()
	}
	b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	for len(body) > 0 {
		k := min(len(body), 64<<10)
		fmt.Fprintf(&b, "%x\r\n", k)
		b.Write(body[:k])
		b.WriteString("\r\n")
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func rawPost(t Target, authLine string, body []byte) []byte {
	return fmt.Appendf(nil, "POST /api/pings HTTP/1.1\r\nHost: %s\r\n%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		t.API, authLine, len(body), body)
}

func (e *Env) ingestCases(ctx context.Context, cases []ingestCase) (string, error) {
	var figs, bad []string
	for _, c := range cases {
		code, err := e.ingestOne(ctx, c)
		got := fmt.Sprint(code)
		if err != nil {
			got = "err"
		}
		figs = append(figs, c.name+"="+got)
		ok := err == nil && contains(c.accept, code)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: got %s (want %v) %v", c.name, got, c.accept, err))
		}
	}
	fig := strings.Join(figs, " ")
	if len(bad) > 0 {
		return fig, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return fig, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (e *Env) ingestOne(ctx context.Context, c ingestCase) (int, error) {
	if c.raw != nil {
		return e.rawHTTP(ctx, c.raw(e.Target))
	}
	path := c.path
	if path == "" {
		path = "/api/pings"
	}
	tok := e.Target.IngestToken
	if c.token != nil {
		tok = c.token(e.Target)
	}
	ctype := c.ctype
	if ctype == "" {
		ctype = "application/json"
	}
	code, _, err := e.api.do(ctx, http.MethodPost, path, tok, ctype, c.body)
	return code, err
}

// rawHTTP writes raw on a new connection while reading the answer, so a
// server that answers before reading the whole body (413) is heard.
func (e *Env) rawHTTP(ctx context.Context, raw []byte) (int, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", e.Target.API)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	go func() { _, _ = c.Write(raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, fmt.Errorf("read answer: %w", err)
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
