package engine

import (
	"testing"

	"github.com/stellarfeed/stellarfeed/stellar"
)

// TestHubOutputFeed: HubOutput.Feed routes each restock to its group's
// feed, and a ping whose feed cannot be named is not published at all.
func TestHubOutputFeed(t *testing.T) {
	pub := &fakePublisher{}
	route := map[string]uint32{"cook-group": 4, "": 0}
	h := HubOutput{Publisher: pub, Logger: quiet, Feed: func(ev *Event) (uint32, bool) {
		n, ok := route[ev.Group]
		return n, ok
	}}
	ping := stellar.Ping{Site: "walmart", SKU: "1", OfferID: "E29410D79B744EA6B99DFF6FF89213B8"}
	h.Emit(Event{Kind: Restock, Ping: ping, Group: "cook-group"})
	h.Emit(Event{Kind: Restock, Ping: ping, Group: "gone"})
	h.Emit(Event{Kind: Restock, Ping: ping})
	if len(pub.msgs) != 2 || pub.msgs[0].Feed != 4 || pub.msgs[1].Feed != 0 {
		t.Fatalf("published %d messages %+v", len(pub.msgs), pub.msgs)
	}
}
