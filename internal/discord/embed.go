package discord

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// Discord's documented limits, in characters. We count UTF-16 code units,
// which is never less than the character count Discord applies, so a
// payload within our count is within theirs.
const (
	maxTitle       = 256
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFooter      = 2048
	maxAuthor      = 256
	maxEmbedTotal  = 6000 // all text of all embeds in one message
	maxEmbeds      = 10   // per message
	maxContent     = 2000
	maxUsername    = 80
	maxURL         = 2048
)

// Embed colours: green for a restock, red for a sell-out.
const (
	ColorRestock = 0x2ECC71
	ColorSoldOut = 0xE74C3C
)

// Message is a webhook execution body.
type Message struct {
	Username  string  `json:"username,omitempty"`
	AvatarURL string  `json:"avatar_url,omitempty"`
	Content   string  `json:"content,omitempty"`
	Embeds    []Embed `json:"embeds"`
}

// Embed is one rich card.
type Embed struct {
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	URL         string  `json:"url,omitempty"`
	Timestamp   string  `json:"timestamp,omitempty"`
	Color       int     `json:"color,omitempty"`
	Footer      *Footer `json:"footer,omitempty"`
	Thumbnail   *Media  `json:"thumbnail,omitempty"`
	Author      *Author `json:"author,omitempty"`
	Fields      []Field `json:"fields,omitempty"`
}

// Footer is an embed's footer line.
type Footer struct {
	Text string `json:"text"`
}

// Media is an image reference.
type Media struct {
	URL string `json:"url"`
}

// Author is the line above the title.
type Author struct {
	Name string `json:"name"`
}

// Field is one name/value cell; Discord rejects empty names or values.
type Field struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// amazonDomains maps Stellar's Amazon regions to storefronts, for
// add-to-cart links.
var amazonDomains = map[string]string{
	"USA": "www.amazon.com", "CA": "www.amazon.ca", "UK": "www.amazon.co.uk", "NL": "www.amazon.nl",
	"FR": "www.amazon.fr", "IT": "www.amazon.it", "DE": "www.amazon.de", "JP": "www.amazon.co.jp",
	"ES": "www.amazon.es", "BE": "www.amazon.com.be", "PL": "www.amazon.pl", "AU": "www.amazon.com.au",
}

// BuildEmbed renders one event as an embed within every Discord limit.
func BuildEmbed(ev *engine.Event, footer string) Embed {
	o, p := &ev.Offer, &ev.Ping
	var d stellar.Details
	if p.Details != nil {
		d = *p.Details
	}
	title := firstNonEmpty(o.Title, d.ProductTitle, o.SKU, p.SKU, "Product")
	e := Embed{Title: title, Color: ColorRestock}
	status := "**Restock**"
	if ev.Kind == engine.SoldOut {
		e.Color, status = ColorSoldOut, "**Sold out**"
	}
	if o.SoldByRetailer {
		status += " · sold by " + ev.Target.Site
	}
	e.Description = status
	if u := validURL(o.URL); u != "" {
		e.URL = u
	}
	if u := validURL(firstNonEmpty(o.Image, d.ProductImage)); u != "" {
		e.Thumbnail = &Media{URL: u}
	}
	site := firstNonEmpty(p.Site, ev.Target.StellarSite, ev.Target.Site)
	region := firstNonEmpty(p.Region, ev.Target.Region)
	e.Author = &Author{Name: strings.TrimSpace(site + " " + region)}

	price := firstNonEmpty(o.Price, d.ProductPrice)
	if price != "" && o.Currency != "" {
		price += " " + o.Currency
	}
	add := func(name, value string, inline bool) {
		if value = strings.TrimSpace(value); value != "" {
			e.Fields = append(e.Fields, Field{Name: name, Value: value, Inline: inline})
		}
	}
	add("Price", price, true)
	add("Site", site, true)
	add("Region", region, true)
	add("SKU", firstNonEmpty(p.SKU, o.SKU), true)
	if id := firstNonEmpty(p.OfferID, o.OfferID); id != "" {
		add("Offer ID", "`"+strings.ReplaceAll(id, "`", "")+"`", false)
	}
	if o.Merchant != "" && !o.SoldByRetailer {
		add("Seller", o.Merchant, true)
	}
	add("Group", ev.Group, true)
	if ev.Kind != engine.SoldOut {
		if atc := cartLink(ev); atc != "" {
			add("Add to cart", "[Add to cart]("+atc+")", false)
		}
	}
	at := ev.At
	if at.IsZero() {
		at = time.Now()
	}
	e.Timestamp = at.UTC().Format(time.RFC3339)
	e.Footer = &Footer{Text: footer}
	if footer == "" {
		e.Footer = nil
	}
	FitEmbed(&e, maxEmbedTotal)
	return e
}

// cartLink returns an add-to-cart URL where the site has one.
func cartLink(ev *engine.Event) string {
	t, o, p := &ev.Target, &ev.Offer, &ev.Ping
	switch t.Site {
	case "amazon":
		id := firstNonEmpty(p.OfferID, o.OfferID)
		origin := t.BaseURL
		if origin == "" {
			if d, ok := amazonDomains[firstNonEmpty(p.Region, t.Region)]; ok {
				origin = "https://" + d
			}
		}
		if id == "" || origin == "" {
			return ""
		}
		// Pings carry the decoded offer id; the cart wants it escaped.
		return validURL(origin + "/gp/aws/cart/add.html?OfferListingId.1=" + url.QueryEscape(id) + "&Quantity.1=1")
	case "shopify":
		// Offer.SKU is the variant id; /cart/{variant}:{qty} fills the cart.
		origin := firstNonEmpty(t.BaseURL, t.Store)
		if origin == "" || o.SKU == "" {
			return ""
		}
		return validURL(strings.TrimRight(origin, "/") + "/cart/" + url.PathEscape(o.SKU) + ":1")
	}
	return ""
}

func validURL(s string) string {
	if s == "" || len(s) > maxURL {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\r\n<>") {
		return ""
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

// units counts UTF-16 code units: Discord's limits are JavaScript-style
// string lengths at worst.
func units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // an invalid byte reads as U+FFFD: 1
	}
	return n
}

// Truncate shortens s to at most max units, cutting on a rune boundary and
// ending with "…" when it cut. Invalid UTF-8 is replaced, so the JSON
// Discord receives is what we counted.
func Truncate(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if units(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	n := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n+w > max-1 { // keep one unit for the ellipsis
			return strings.TrimRight(s[:i], " \t\n") + "…"
		}
		n += w
	}
	return s
}

// Total is the text Discord counts against the 6000-character limit.
func (e *Embed) Total() int {
	n := units(e.Title) + units(e.Description)
	if e.Footer != nil {
		n += units(e.Footer.Text)
	}
	if e.Author != nil {
		n += units(e.Author.Name)
	}
	for _, f := range e.Fields {
		n += units(f.Name) + units(f.Value)
	}
	return n
}

// FitEmbed enforces every per-embed limit, then trims the embed to budget
// total characters: the description first, then fields from the last, then
// footer, author and title, so the product name and price survive longest.
func FitEmbed(e *Embed, budget int) {
	budget = min(budget, maxEmbedTotal)
	e.Title = Truncate(e.Title, maxTitle)
	e.Description = Truncate(e.Description, maxDescription)
	if e.Footer != nil {
		e.Footer.Text = Truncate(e.Footer.Text, maxFooter)
		if e.Footer.Text == "" {
			e.Footer = nil
		}
	}
	if e.Author != nil {
		e.Author.Name = Truncate(e.Author.Name, maxAuthor)
		if e.Author.Name == "" {
			e.Author = nil
		}
	}
	if e.URL != "" && validURL(e.URL) == "" {
		e.URL = ""
	}
	if e.Thumbnail != nil && validURL(e.Thumbnail.URL) == "" {
		e.Thumbnail = nil
	}
	if len(e.Fields) > maxFields {
		e.Fields = e.Fields[:maxFields]
	}
	kept := e.Fields[:0]
	for _, f := range e.Fields {
		f.Name, f.Value = Truncate(f.Name, maxFieldName), Truncate(f.Value, maxFieldValue)
		if strings.TrimSpace(f.Name) != "" && strings.TrimSpace(f.Value) != "" {
			kept = append(kept, f)
		}
	}
	e.Fields = kept

	over := e.Total() - budget
	if over <= 0 {
		return
	}
	if d := units(e.Description); d > 0 {
		e.Description = Truncate(e.Description, max(d-over, 0))
		if over = e.Total() - budget; over <= 0 {
			return
		}
	}
	for len(e.Fields) > 0 && over > 0 {
		e.Fields = e.Fields[:len(e.Fields)-1]
		over = e.Total() - budget
	}
	if over > 0 && e.Footer != nil {
		e.Footer.Text = Truncate(e.Footer.Text, max(units(e.Footer.Text)-over, 0))
		if e.Footer.Text == "" {
			e.Footer = nil
		}
		over = e.Total() - budget
	}
	if over > 0 && e.Author != nil {
		e.Author.Name = Truncate(e.Author.Name, max(units(e.Author.Name)-over, 0))
		if e.Author.Name == "" {
			e.Author = nil
		}
		over = e.Total() - budget
	}
	if over > 0 {
		e.Title = Truncate(e.Title, max(units(e.Title)-over, 0))
	}
}
