// Package wire is the form events take on the way to subscribers: a
// Message holds a validated ping (or a webhook event) encoded once, as JSON
// and as the complete WebSocket text frame every connection receives, plus
// the feed, site and region it is routed by; Filter and Scope decide which
// subscribers a message is for. The ping contract itself is package
// stellar.
//
//	msg, err := wire.New(rules, &ping)   // validate, then encode once
//	hub.Publish(msg)                      // the same bytes go to every client
package wire
