package sim

import (
	"net/http/httptest"
	"testing"
)

var sink []byte

func benchPage(b *testing.B, path string) {
	s := New(Config{Catalog: testCatalog(), Seed: 1})
	h := s.Handler()
	req := httptest.NewRequest("GET", path, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
		sink = rec.Body.Bytes()
	}
	b.SetBytes(int64(len(sink)))
}

func BenchmarkAmazonProductPage(b *testing.B) { benchPage(b, "/www.amazon.de/dp/B0TESTING1") }
func BenchmarkAmazonAOD(b *testing.B)         { benchPage(b, "/www.amazon.de/gp/aod/ajax?asin=B0TESTING1") }
func BenchmarkWalmartPage(b *testing.B)       { benchPage(b, "/www.walmart.com/ip/5113183757") }
func BenchmarkShopifyProductJS(b *testing.B) {
	benchPage(b, "/shop.example.com/products/nike-dunk-low.js")
}
func BenchmarkShopifyProductsJSON(b *testing.B) {
	benchPage(b, "/shop.example.com/products.json?limit=250")
}

func BenchmarkAmazonProductPageParallel(b *testing.B) {
	s := New(Config{Catalog: testCatalog(), Seed: 1})
	h := s.Handler()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/www.amazon.de/dp/B0TESTING1", nil)
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
		}
	})
}
