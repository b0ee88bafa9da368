package main

import (
	"fmt"
	"io"

	"github.com/stellarfeed/stellarfeed/internal/node"
)

// printDemoWebhook shows the demo webhook feed the way the webhook relay
// service documents its own: an ingest URL, a ready curl with the
// relay's example body, and the SSE and WebSocket URLs with the token.
func printDemoWebhook(w io.Writer, ws, api string, d node.DemoKeys) {
	if d.WebhookSlug == "" {
		return
	}
	fmt.Fprintf(w, `Webhook feed %[5]q (any JSON in, as {"type":"webhook",...} out):
  Ingest URL: http://%[2]s/api/in/%[3]s
  curl -X POST http://%[2]s/api/in/%[3]s \
    -H 'Content-Type: application/json' \
    -d '{"event": "user.signup", "email": "test@example.com"}'

  Server-Sent Events (new EventSource(url) in a browser, or curl -N):
    http://%[2]s/api/events/stream?token=%[4]s
  WebSocket: ws://%[1]s/?token=%[4]s   (realtime API with channels: ws://%[1]s/ws?token=%[4]s)

`, ws, api, d.WebhookSlug, d.WebhookKey, node.DemoWebhookFeed)
}
