package amazon

import (
	"os"
	"path/filepath"
	"testing"
)

var sinkPage Page

func benchProduct(b *testing.B, body []byte, region, asin string) {
	r, _ := Region(region)
	if _, err := ParseProduct(body, r, asin); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		p, err := ParseProduct(body, r, asin)
		if err != nil {
			b.Fatal(err)
		}
		sinkPage = p
	}
}

// A typical page: the generated ~10 KB USA fixture.
func BenchmarkParseProductTypical(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "product-USA-instock-amazon.html"))
	if err != nil {
		b.Fatal(err)
	}
	benchProduct(b, body, "USA", "B0US000100")
}

// The 1.5 MB real amazon.com page.
func BenchmarkParseProductRealPage(b *testing.B) {
	benchProduct(b, realPage(b), "USA", "B0DR8G428S")
}

func BenchmarkParseAOD(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "aod-USA-offers.html"))
	if err != nil {
		b.Fatal(err)
	}
	r, _ := Region("USA")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := ParseAOD(body, r, "B0US000100"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParsePrice(b *testing.B) {
	r, _ := Region("FR")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParsePrice("1\u202f234,56\u00a0€", r); err != nil {
			b.Fatal(err)
		}
	}
}

// The real page from several goroutines at once, as the engine's workers
// run it.
func BenchmarkParseProductRealPageParallel(b *testing.B) {
	body := realPage(b)
	r, _ := Region("USA")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ParseProduct(body, r, "B0DR8G428S"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// The one pass over the whole page that cuts it down to its skeleton;
// the rest of ParseProduct works on a few KB.
func BenchmarkSkeletonRealPage(b *testing.B) {
	body := realPage(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		sinkSkeleton = cut(body, productPart)
	}
}

var sinkSkeleton skeleton
