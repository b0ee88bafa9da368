package stellar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/bytedance/sonic"
)

// MaxPingBytes bounds one encoded ping; larger input is rejected before
// decoding.
const MaxPingBytes = 16 << 10

// Decode parses one ping. It is strict: unknown fields, fields of the wrong
// type and trailing data are errors, each reported with its field path in
// an *Error. Decode checks the shape only; Rules.Parse also applies the rules.
func Decode(data []byte) (Ping, error) {
	var p Ping
	var e Error
	decodeInto(&p, &e, data)
	return p, e.orNil()
}

// Parse decodes one ping and validates it, returning every problem of both
// kinds in one *Error.
func (r Rules) Parse(data []byte) (Ping, error) {
	var p Ping
	var e Error
	if decodeInto(&p, &e, data) {
		if err := r.Validate(&p); err != nil {
			e.Fields = append(e.Fields, FieldErrors(err)...)
		}
	}
	return p, e.orNil()
}

// decodeInto fills p and reports whether the input was a JSON object at all.
func decodeInto(p *Ping, e *Error, data []byte) bool {
	if len(data) > MaxPingBytes {
		e.add("ping", "larger than %d bytes", MaxPingBytes)
		return false
	}
	var raw map[string]any
	if err := sonic.ConfigStd.Unmarshal(data, &raw); err != nil || raw == nil {
		e.add("ping", "not a JSON object")
		return false
	}
	for _, k := range sortedKeys(raw) {
		v := raw[k]
		switch k {
		case "site":
			p.Site = str(e, k, v)
		case "region":
			p.Region = str(e, k, v)
		case "sku":
			p.SKU = str(e, k, v)
		case "offerId":
			p.OfferID = str(e, k, v)
		case "details":
			p.Details = details(e, v)
		default:
			e.add(k, "unknown field (fields are site, region, sku, offerId, details)")
		}
	}
	return true
}

func details(e *Error, v any) *Details {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		e.add("details", "must be an object, got %s", jsonType(v))
		return nil
	}
	d := new(Details)
	for _, k := range sortedKeys(m) {
		path := "details." + k
		switch k {
		case "productTitle":
			d.ProductTitle = str(e, path, m[k])
		case "productImage":
			d.ProductImage = str(e, path, m[k])
		case "productPrice":
			d.ProductPrice = str(e, path, m[k])
		default:
			e.add(path, "unknown field (details are productTitle, productImage, productPrice)")
		}
	}
	return d
}

func str(e *Error, path string, v any) string {
	switch s := v.(type) {
	case string:
		return s
	case nil:
		return ""
	default:
		e.add(path, "must be a string, got %s", jsonType(v))
		return ""
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// sortedKeys makes error order deterministic: a provider fixing a ping sees
// the same list on every try.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SplitBatch returns the pings in data: the elements of a JSON array, or
// data itself when it holds one object. Elements are returned undecoded so
// that one broken ping does not hide the others.
func SplitBatch(data []byte) ([][]byte, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty body: send one ping object or an array of them")
	}
	if trimmed[0] != '[' {
		return [][]byte{data}, nil
	}
	var raws []json.RawMessage
	if err := sonic.ConfigStd.Unmarshal(trimmed, &raws); err != nil {
		return nil, fmt.Errorf("body is not a JSON array of pings: %w", err)
	}
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out, nil
}
