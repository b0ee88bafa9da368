// Package stellar is the Stellar ping contract: the fields a restock ping
// carries and the rules Stellar applies to them (sites, the 12 Amazon
// regions, ASINs, which sites need an offerId, the optional details). It is
// public so that providers' own Go monitors can check their pings exactly
// as stellarfeed's ingest API will before they send them:
//
//	import "github.com/stellarfeed/stellarfeed/stellar"
//
//	p, err := stellar.Decode(body)         // strict: unknown fields are errors
//	err = stellar.Rules{}.Validate(&p)      // every problem, with its field path
//	for _, fe := range stellar.FieldErrors(err) { log.Print(fe.Field, ": ", fe.Message) }
//
// The server encodes a valid ping once into the frame every subscriber
// receives (internal/wire); this package has no server code in it.
//
// Unknown fields are rejected rather than dropped: a provider who writes
// "offerID" instead of "offerId" would otherwise ship pings Stellar cannot
// use, and find out from customers.
package stellar
