package wire

import (
	"reflect"
	"testing"

	"github.com/stellarfeed/stellarfeed/stellar"
)

func FuzzParseEncode(f *testing.F) {
	f.Add([]byte(`{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productImage":"https://www.image.com/","productPrice":"199.99"}}`))
	f.Add([]byte(`{"site":"walmart","sku":"123","offerId":"E29410D79B744EA6B99DFF6FF89213B8"}`))
	f.Add([]byte(`{"site":"shopify","sku":"1","details":{"productTitle":"\u00e9\ud83d\ude00"}}`))
	f.Add([]byte(`[{"site":1}]`))
	f.Add([]byte(`{"details":{"x":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := stellar.Rules{}.Parse(data)
		if err != nil {
			if len(stellar.FieldErrors(err)) == 0 {
				t.Fatalf("Parse error without field errors: %v", err)
			}
			return
		}
		m, err := New(stellar.Rules{}, &p)
		if err != nil {
			t.Fatalf("valid ping failed to encode: %+v: %v", p, err)
		}
		back, err := stellar.Rules{}.Parse(m.Payload)
		if err != nil {
			t.Fatalf("encoded ping does not parse back: %s: %v", m.Payload, err)
		}
		if p.Details != nil && *p.Details == (stellar.Details{}) {
			p.Details = nil // an empty details object encodes as {} and decodes as empty, same meaning
			if back.Details != nil && *back.Details == (stellar.Details{}) {
				back.Details = nil
			}
		}
		if !reflect.DeepEqual(p, back) {
			t.Fatalf("round trip changed the ping:\n in  %+v\n out %+v", p, back)
		}
	})
}
