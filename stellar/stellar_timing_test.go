package stellar

import "testing"

func BenchmarkParse(b *testing.B) {
	in := []byte(`{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productImage":"https://www.image.com/","productPrice":"199.99"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (Rules{}).Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestValidateAllocs(t *testing.T) {
	p := validAmazon()
	// One allocation is url.Parse checking productImage; the rest is free.
	if n := testing.AllocsPerRun(100, func() { _ = Rules{}.Validate(&p) }); n > 1 {
		t.Fatalf("Validate of a valid ping allocates %v times, want <= 1", n)
	}
	p.Details = nil
	if n := testing.AllocsPerRun(100, func() { _ = Rules{}.Validate(&p) }); n != 0 {
		t.Fatalf("Validate of a valid ping without details allocates %v times, want 0", n)
	}
}
