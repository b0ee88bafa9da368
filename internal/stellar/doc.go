// Package stellar is the Stellar ping contract: the fields a restock ping
// carries, the rules Stellar applies to them, and the one-time encoding of a
// valid ping into the WebSocket frame every subscriber receives.
//
// A ping enters as bytes (ingest API) or as a Ping value (monitor engine):
//
//	p, err := stellar.Decode(body)         // strict: unknown fields are errors
//	err = stellar.Rules{}.Validate(&p)      // every problem, with its field path
//	msg, err := stellar.NewMessage(&p)      // JSON + frame, built once
//	hub.Publish(msg)                        // the same bytes go to every client
//
// Unknown fields are rejected rather than dropped: a provider who writes
// "offerID" instead of "offerId" would otherwise ship pings Stellar cannot
// use, and find out from customers.
package stellar
