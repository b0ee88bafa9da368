package stellar

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Ping
		errs []string
	}{
		{
			name: "guide example",
			in:   `{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerId":"OID","details":{"productTitle":"Amazon Test","productImage":"https://www.image.com/","productPrice":"199.99"}}`,
			want: validAmazon(),
		},
		{
			name: "null details",
			in:   `{"site":"shopify","sku":"1","details":null}`,
			want: Ping{Site: "shopify", SKU: "1"},
		},
		{name: "not json", in: `{"site":`, errs: []string{"ping: not a JSON object"}},
		{name: "array", in: `[1]`, errs: []string{"ping: not a JSON object"}},
		{name: "null", in: `null`, errs: []string{"ping: not a JSON object"}},
		{
			name: "unknown and mistyped fields",
			in:   `{"site":"amazon","region":"USA","sku":"B09MQ5L5N9","offerID":"x","details":{"productPrice":199.99,"color":"red"}}`,
			errs: []string{
				"details.color: unknown field",
				"details.productPrice: must be a string, got number",
				"offerID: unknown field",
				"offerId: required",
			},
		},
		{name: "details not object", in: `{"site":"shopify","sku":"1","details":"x"}`, errs: []string{"details: must be an object, got string"}},
		{name: "sku number", in: `{"site":"shopify","sku":123}`, errs: []string{"sku: must be a string, got number", "sku: required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Rules{}.Parse([]byte(tt.in))
			fe := FieldErrors(err)
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("Parse() error = %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Parse() = %+v, want %+v", got, tt.want)
				}
				return
			}
			if len(fe) != len(tt.errs) {
				t.Fatalf("Parse() error = %v, want %q", err, tt.errs)
			}
			for i, w := range tt.errs {
				if !strings.HasPrefix(fe[i].Error(), w) {
					t.Errorf("error %d = %q, want prefix %q", i, fe[i].Error(), w)
				}
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := `{"site":"shopify","sku":"` + strings.Repeat("x", MaxPingBytes) + `"}`
	_, err := Rules{}.Parse([]byte(big))
	if fe := FieldErrors(err); len(fe) != 1 || fe[0].Field != "ping" {
		t.Fatalf("Parse(oversized) = %v", err)
	}
}

func TestSplitBatch(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{in: `{"site":"x"}`, want: 1},
		{in: ` [ {"a":1}, {"b":2}, 3 ]`, want: 3},
		{in: `[]`, want: 0},
		{in: "  \n", wantErr: true},
		{in: `[{"a":1},`, wantErr: true},
	}
	for _, tt := range tests {
		got, err := SplitBatch([]byte(tt.in))
		if (err != nil) != tt.wantErr || len(got) != tt.want {
			t.Errorf("SplitBatch(%q) = %d items, %v; want %d, err %v", tt.in, len(got), err, tt.want, tt.wantErr)
		}
	}
}
