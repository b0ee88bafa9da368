// Package discord posts stock changes to Discord webhooks as embeds.
//
// An Output implements engine.Output: Emit filters each event per webhook
// (sites, regions, groups, tags, sold-outs) and queues it without ever
// blocking the engine; a full queue drops the event, counts it and logs.
// Run owns one sender goroutine per webhook, which packs queued events
// into messages of up to 10 embeds, waits out Discord's rate limits
// (429 retry_after / Retry-After, X-RateLimit-Remaining: 0 with
// X-RateLimit-Reset-After), retries 5xx and network errors with bounded
// backoff, and logs with Discord's answer, counts and drops a message
// any other 4xx rejects. Every embed is cut to Discord's limits on rune
// boundaries (title 256, description 4096, 25 fields of 256/1024, footer
// 2048, author 256, 6000 in total).
//
// Usage from cmd/:
//
//	out := discord.New(discord.Config{Webhooks: hooks}, &http.Client{Timeout: 15 * time.Second})
//	go out.Run(ctx)      // returns after ctx ends and the queue is flushed (FlushTimeout)
//	eng.AddOutput(out)   // whatever the engine calls it: out.Emit(ev) per event
//	...
//	s := out.Stats()     // Queued, Dropped, Messages, Embeds, Failed, RateLimited, Retries
package discord
