package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/engine"
)

var sinkString string

// BenchmarkOwner: the rendezvous choice for one target over 6 engines.
func BenchmarkOwner(b *testing.B) {
	nodes := []string{"sf-a-1", "sf-a-2", "sf-a-3", "sf-b-1", "sf-b-2", "sf-b-3"}
	ts := targets(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		sinkString = owner(nodes, ts[i%len(ts)].ID())
	}
}

// BenchmarkClaim: one restock claim round trip (create-if-absent) on a
// loopback embedded server; each iteration claims a new restock.
func BenchmarkClaim(b *testing.B) {
	n0 := startEmbedded(b, fastConfig("n0", RoleEngine))
	ev := &engine.Event{Kind: engine.Restock, At: time.Now()}
	ev.Ping.Site, ev.Ping.OfferID = "walmart", "A1B2C3D4E5F6"
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev.Ping.SKU = fmt.Sprintf("%d-%d", b.N, i)
		if !n0.Claim(ev) {
			b.Fatal("fresh restock not claimed")
		}
	}
}
