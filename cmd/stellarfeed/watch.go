package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/stellarfeed/stellarfeed/internal/textutil"
	"github.com/stellarfeed/stellarfeed/stellar"
)

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("watch", "URL", stderr)
	raw := fs.Bool("raw", false, "print each frame's JSON as received")
	count := fs.Int("n", 0, "exit after this many pings (0 = run until interrupted)")
	channels := fs.String("channel", "*", `realtime /ws URLs: comma-separated channels to subscribe to ("amazon:USA,walmart", an event name on a webhook feed)`)
	timeout := fs.Duration("timeout", 10*time.Second, "connect timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	return watch(ctx, fs.Arg(0), *raw, *count, *timeout, splitList(*channels), stdout, stderr)
}

// watch connects like a Stellar bot: a plain WebSocket client that expects
// one ping (or, on a webhook feed, one event) per text frame. On a /ws URL
// it speaks the realtime protocol instead: it subscribes to channels and
// unwraps the {"event":…,"data":…} envelopes, printing the protocol's own
// messages (connected, acks, errors) to stderr.
func watch(ctx context.Context, url string, raw bool, count int, timeout time.Duration, channels []string, stdout, stderr io.Writer) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	netConn, br, _, err := ws.Dialer{}.Dial(dctx, url)
	cancel()
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return fmt.Errorf("server refused the connection: %w (check the key)", err)
		}
		return fmt.Errorf("connect %s: %w", redactKey(url), err)
	}
	defer netConn.Close()
	conn := io.ReadWriter(netConn)
	if br != nil {
		// The server's first frames may have come with the 101.
		conn = struct {
			io.Reader
			io.Writer
		}{io.MultiReader(br, netConn), netConn}
	}
	realtime := isRealtimeURL(url)
	if realtime {
		if len(channels) == 0 {
			channels = []string{"*"}
		}
		for _, ch := range channels {
			msg, _ := json.Marshal(map[string]string{"type": "subscribe", "channel": ch})
			if err := wsutil.WriteClientText(netConn, msg); err != nil {
				return fmt.Errorf("subscribe %q: %w", ch, err)
			}
		}
	}
	fmt.Fprintf(stderr, "connected to %s; waiting for pings (Ctrl-C to stop)\n", redactKey(url))
	stopOnCancel := context.AfterFunc(ctx, func() {
		_ = netConn.SetDeadline(time.Now())
	})
	defer stopOnCancel()
	for n := 0; count == 0 || n < count; {
		data, op, err := wsutil.ReadServerData(conn)
		if err != nil {
			if ctx.Err() != nil {
				_ = wsutil.WriteClientMessage(netConn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
				return nil
			}
			var ce wsutil.ClosedError
			if errors.As(err, &ce) {
				return fmt.Errorf("server closed the connection: %d %s", ce.Code, ce.Reason)
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("connection closed by server")
			}
			return fmt.Errorf("read: %w", err)
		}
		if op != ws.OpText {
			continue
		}
		if realtime {
			var ok bool
			if data, ok = unwrapRealtime(data, stderr); !ok {
				continue
			}
		}
		n++
		if raw {
			fmt.Fprintf(stdout, "%s\n", data)
			continue
		}
		fmt.Fprintln(stdout, formatEvent(time.Now(), data))
	}
	return nil
}

// isRealtimeURL reports whether url is the realtime endpoint (/ws).
func isRealtimeURL(url string) bool {
	rest := url[strings.Index(url, "://")+3:]
	path := "/"
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = rest[i:]
	}
	path, _, _ = strings.Cut(path, "?")
	return path == "/ws"
}

// unwrapRealtime returns the data of a realtime event envelope; protocol
// messages (connected, subscribed, errors, pongs) go to log and report false.
func unwrapRealtime(frame []byte, log io.Writer) ([]byte, bool) {
	var m struct {
		Type    string          `json:"type"`
		Message string          `json:"message"`
		Channel string          `json:"channel"`
		Event   string          `json:"event"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(frame, &m); err != nil {
		fmt.Fprintf(log, "not JSON: %s\n", frame)
		return nil, false
	}
	switch {
	case m.Event != "" && len(m.Data) > 0:
		return m.Data, true
	case m.Type == "connected":
		fmt.Fprintf(log, "connected: %s\n", m.Message)
	case m.Type == "subscribed" || m.Type == "unsubscribed":
		fmt.Fprintf(log, "%s %s\n", m.Type, m.Channel)
	case m.Type == "error":
		fmt.Fprintf(log, "server error: %s\n", m.Message)
	case m.Type != "pong":
		fmt.Fprintf(log, "unexpected message: %s\n", frame)
	}
	return nil, false
}

// formatEvent renders a webhook event or a ping on one line.
func formatEvent(at time.Time, data []byte) string {
	var wh struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Payload    json.RawMessage `json:"payload"`
		ReceivedAt string          `json:"receivedAt"`
	}
	if json.Unmarshal(data, &wh) == nil && wh.Type == "webhook" && len(wh.Payload) > 0 {
		return fmt.Sprintf("%s  webhook   id=%s  %s", at.Format("15:04:05.000"), wh.ID, textutil.Truncate(string(wh.Payload), 200))
	}
	return formatPing(at, data)
}

// formatPing renders one ping on one line for people; a frame that is not a
// valid ping is shown raw and flagged, since that is a feed bug worth seeing.
func formatPing(at time.Time, data []byte) string {
	var p stellar.Ping
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Sprintf("%s  NOT A PING: %s", at.Format("15:04:05.000"), data)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-9s", at.Format("15:04:05.000"), p.Site)
	if p.Region != "" {
		fmt.Fprintf(&b, " %-3s", p.Region)
	}
	fmt.Fprintf(&b, "  sku=%s", p.SKU)
	if p.OfferID != "" {
		fmt.Fprintf(&b, "  offer=%s", textutil.Truncate(p.OfferID, 24))
	}
	if d := p.Details; d != nil {
		if d.ProductPrice != "" {
			fmt.Fprintf(&b, "  price=%s", d.ProductPrice)
		}
		if d.ProductTitle != "" {
			fmt.Fprintf(&b, "  %q", textutil.Truncate(d.ProductTitle, 60))
		}
	}
	if err := (stellar.Rules{}).Validate(&p); err != nil {
		fmt.Fprintf(&b, "  INVALID: %v", err)
	}
	return b.String()
}

// redactKey hides the secret (?key= or ?token=) when a URL is printed.
func redactKey(url string) string {
	for _, name := range []string{"key=", "token="} {
		i := strings.Index(url, name)
		if i < 0 {
			continue
		}
		end := strings.IndexByte(url[i:], '&')
		if end < 0 {
			url = url[:i] + name + "…"
		} else {
			url = url[:i] + name + "…" + url[i+end:]
		}
	}
	return url
}
