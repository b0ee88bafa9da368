package discord

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzBuildEmbed: whatever a retailer page puts in an offer, the embed is
// within Discord's limits, valid UTF-8, and encodes.
func FuzzBuildEmbed(f *testing.F) {
	f.Add("Sony PlayStation 5 Slim", "p7h8Hu2+Bb5u", "cook-group-a", "499.99", "https://www.amazon.de/dp/B0CHX1W1XY", uint16(0))
	f.Add("é🎮\xff\x00", "`back`ticks`", "", "", "javascript:x", uint16(5000))
	f.Fuzz(func(t *testing.T, title, offerID, group, price, link string, repeat uint16) {
		ev := restock("amazon", "DE", "B0CHX1W1XY")
		for range int(repeat % 8) {
			title += title
		}
		ev.Offer.Title, ev.Ping.OfferID, ev.Group, ev.Offer.Price, ev.Offer.URL = title, offerID, group, price, link
		ev.Offer.Merchant, ev.Offer.SoldByRetailer = offerID, repeat%2 == 0
		e := BuildEmbed(&ev, group)
		checkLimits(t, &e)
		if e.Title == "" || !utf8.ValidString(e.Title) {
			t.Fatalf("title %q", e.Title)
		}
		if _, err := json.Marshal(Message{Embeds: []Embed{e}}); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzRetryAfter: any 429 body or header yields a wait in (0, 1h].
func FuzzRetryAfter(f *testing.F) {
	f.Add([]byte(`{"retry_after": 0.5}`), "1.5")
	f.Add([]byte(`{"retry_after": -1e308}`), "NaN")
	f.Add([]byte(`{"retry_after": 1e400}`), "")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		h := http.Header{}
		h.Set("Retry-After", header)
		d := retryAfter(body, h)
		if d <= 0 || d > time.Hour {
			t.Fatalf("wait %s", d)
		}
	})
}
