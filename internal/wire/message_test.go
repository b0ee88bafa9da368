package wire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/stellar"
)

func TestNewMessageFrame(t *testing.T) {
	p := validPing()
	m, err := New(stellar.Rules{}, &p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productImage":"https://www.image.com/","productPrice":"199.99"}}`
	if string(m.Payload) != want {
		t.Fatalf("payload = %s\nwant      %s", m.Payload, want)
	}
	if m.Site != "amazon" || m.Region != "USA" {
		t.Fatalf("message routing = %q/%q", m.Site, m.Region)
	}
	// The frame is what a client reads off the wire: one final, unmasked
	// text frame whose payload is the JSON.
	f, err := readFrame(m.Frame)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Header.Fin || f.Header.OpCode != ws.OpText || f.Header.Masked {
		t.Fatalf("frame header = %+v", f.Header)
	}
	if !bytes.Equal(f.Payload, m.Payload) {
		t.Fatal("frame payload differs from Payload")
	}
	if &m.Frame[len(m.Frame)-1] != &m.Payload[len(m.Payload)-1] {
		t.Fatal("Payload must share the frame's memory, not be a copy")
	}
}

func TestNewMessageRejectsInvalid(t *testing.T) {
	p := validPing()
	p.Details.ProductImage = "not a url"
	m, err := New(stellar.Rules{}, &p)
	if err == nil || m != nil {
		t.Fatalf("New(stellar.Rules{}, invalid) = %v, %v", m, err)
	}
	if !strings.Contains(err.Error(), "details.productImage") {
		t.Fatalf("error %q does not name the field", err)
	}
}

func TestFrameHeaderSizes(t *testing.T) {
	// Header length switches at 126 and 65536 bytes of payload.
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte("a"), n)
		m := FromPayload("x", "", payload)
		f, err := readFrame(m.Frame)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if int(f.Header.Length) != n || !bytes.Equal(f.Payload, payload) {
			t.Fatalf("n=%d: frame length %d", n, f.Header.Length)
		}
	}
}

func TestHTMLNotEscaped(t *testing.T) {
	p := stellar.Ping{Site: "shopify", SKU: "1", Details: &stellar.Details{ProductTitle: "Tom & Jerry <3", ProductImage: "https://x.com/a.jpg?w=1&h=2"}}
	m, err := New(stellar.Rules{}, &p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(m.Payload, []byte(`"Tom & Jerry <3"`)) || !bytes.Contains(m.Payload, []byte(`w=1&h=2`)) {
		t.Fatalf("payload escaped HTML: %s", m.Payload)
	}
}

// readFrame decodes one whole frame the way a client does: header, then
// exactly the declared payload, which must end the buffer.
func readFrame(b []byte) (ws.Frame, error) {
	r := bytes.NewReader(b)
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length != int64(r.Len()) {
		return ws.Frame{}, fmt.Errorf("header declares %d payload bytes, buffer holds %d", h.Length, r.Len())
	}
	payload := make([]byte, h.Length)
	_, _ = r.Read(payload)
	return ws.Frame{Header: h, Payload: payload}, nil
}

func TestParse(t *testing.T) {
	in := `{"site":"walmart","sku":"123","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`
	m, err := Parse(stellar.Rules{}, []byte(in))
	if err != nil || string(m.Payload) != in || m.Site != "walmart" {
		t.Fatalf("Parse = %+v, %v", m, err)
	}
	_, err = Parse(stellar.Rules{}, []byte(`{"site":"amazon","region":"US","sku":"B09MQ5L5N9","offerId":"x","extra":1}`))
	if fe := stellar.FieldErrors(err); len(fe) != 2 || fe[0].Field != "extra" || fe[1].Field != "region" {
		t.Fatalf("Parse(invalid) = %v", err)
	}
}

func validPing() stellar.Ping {
	return stellar.Ping{
		Site: "amazon", Region: "USA", SKU: "B09MQ5L5N9", OfferID: "OID",
		Details: &stellar.Details{ProductTitle: "Amazon Test", ProductImage: "https://www.image.com/", ProductPrice: "199.99"},
	}
}

var sink *Message

func BenchmarkNewMessage(b *testing.B) {
	p := validPing()
	b.ReportAllocs()
	for b.Loop() {
		m, err := New(stellar.Rules{}, &p)
		if err != nil {
			b.Fatal(err)
		}
		sink = m
	}
}
