package fetch

import "testing"

func TestH1ConnReorders(t *testing.T) {
	in := "POST /cart HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: UA\r\nAccept: text/html\r\nConnection: keep-alive\r\nContent-Length: 9\r\nX-Monitor: 1\r\nsec-ch-ua: brands\r\n\r\n" +
		"form=body" +
		"GET /dp/B1 HTTP/1.1\r\nHost: shop.example\r\nAccept-Language: de-DE\r\nUser-Agent: UA\r\n\r\n"
	want := "POST /cart HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive\r\nsec-ch-ua: brands\r\nUser-Agent: UA\r\nAccept: text/html\r\nContent-Length: 9\r\nX-Monitor: 1\r\n\r\n" +
		"form=body" +
		"GET /dp/B1 HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: UA\r\nAccept-Language: de-DE\r\n\r\n"
	for _, chunk := range []int{1, 2, 3, 4, 7, 64, len(in)} {
		sink := &sinkConn{}
		c := newH1Conn(sink)
		for p := []byte(in); len(p) > 0; {
			k := min(chunk, len(p))
			if n, err := c.Write(p[:k]); n != k || err != nil {
				t.Fatalf("chunk %d: Write = %d, %v", chunk, n, err)
			}
			p = p[k:]
		}
		if got := sink.buf.String(); got != want {
			t.Errorf("chunk %d:\n got %q\nwant %q", chunk, got, want)
		}
	}
	// A chunked body: forwarded as it is, and so is all that follows.
	sink := &sinkConn{}
	c := newH1Conn(sink)
	chunked := "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\nGET / HTTP/1.1\r\nUser-Agent: UA\r\nHost: h\r\n\r\n"
	c.Write([]byte(chunked))
	if got := sink.buf.String(); got != chunked {
		t.Errorf("chunked: %q", got)
	}
}
