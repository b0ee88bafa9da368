// Package sse serves Stellar pings as Server-Sent Events, for subscribers
// that cannot (or would rather not) speak WebSocket: browsers' EventSource,
// curl, serverless functions.
//
// A Hub receives every ping the node publishes (it implements the same
// Publish(*wire.Message) as the WebSocket broadcaster) and turns it,
// once, into the bytes of one event:
//
//	id: 1732521600000001
//	event: ping
//	data: {"site":"amazon","region":"USA",...}
//
// Every subscriber is sent that same slice. The Hub keeps the last
// Config.RingSize events (default 1,024) so a client reconnecting with
// Last-Event-ID gets exactly what it missed. Events go into the ring
// whether or not anyone is subscribed: the client that most needs the
// replay is the only one, reconnecting after a network blip.
//
// Each subscriber receives its feed's events only (SubscribeOptions.Feed
// against wire.Message.Feed). Each feed has its own ring, so a busy
// feed never evicts a quiet one's history and a Last-Event-ID from
// another feed's stream replays only this feed's later events. Webhook
// events are sent without an "event:" field ("message" events), so a
// browser's EventSource.onmessage receives them; pings keep "event: ping".
// A subscription with Expires ends at the key's expiry (ErrKeyExpired).
//
// Event ids increase by one per event, across feeds, and start from the
// clock (Unix microseconds) when the Hub is created, so they keep
// increasing across restarts and an id from before a restart is recognised as "older than
// the ring" rather than mistaken for a future one.
//
// Each subscriber has a bounded queue. Publish never blocks: a subscriber
// whose queue is full is dropped (Stats.Dropped) and its stream ends; the
// client reconnects with Last-Event-ID and resumes from the ring.
//
// Usage sketch (the HTTP side lives in internal/api):
//
//	hub := sse.New(sse.Config{Heartbeat: 15 * time.Second})
//	defer hub.Close()                        // ends every stream
//	f, err := sse.NewFilter(sites, regions, key.Scopes)
//	sub, err := hub.Subscribe(sse.SubscribeOptions{KeyID: key.ID, Filter: f,
//		LastEventID: id, Resume: hasID})
//	err = sub.Stream(bufferedWriter, armWriteDeadline) // until the end
//	hub.Publish(msg)                         // from the node, per ping
package sse
