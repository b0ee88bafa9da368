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

	"github.com/stellarfeed/stellarfeed/internal/stellar"
)

func cmdWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("watch", "URL", stderr)
	raw := fs.Bool("raw", false, "print each frame's JSON as received")
	count := fs.Int("n", 0, "exit after this many pings (0 = run until interrupted)")
	timeout := fs.Duration("timeout", 10*time.Second, "connect timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	return watch(ctx, fs.Arg(0), *raw, *count, *timeout, stdout, stderr)
}

// watch connects like a Stellar bot: a plain WebSocket client that expects
// one ping per text frame.
func watch(ctx context.Context, url string, raw bool, count int, timeout time.Duration, stdout, stderr io.Writer) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	conn, _, _, err := ws.Dialer{}.Dial(dctx, url)
	cancel()
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return fmt.Errorf("server refused the connection: %w (check the key)", err)
		}
		return fmt.Errorf("connect %s: %w", redactKey(url), err)
	}
	defer conn.Close()
	fmt.Fprintf(stderr, "connected to %s; waiting for pings (Ctrl-C to stop)\n", redactKey(url))
	stopOnCancel := context.AfterFunc(ctx, func() {
		_ = conn.SetDeadline(time.Now())
	})
	defer stopOnCancel()
	for n := 0; count == 0 || n < count; {
		data, op, err := wsutil.ReadServerData(conn)
		if err != nil {
			if ctx.Err() != nil {
				_ = wsutil.WriteClientMessage(conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
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
		n++
		if raw {
			fmt.Fprintf(stdout, "%s\n", data)
			continue
		}
		fmt.Fprintln(stdout, formatPing(time.Now(), data))
	}
	return nil
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
		fmt.Fprintf(&b, "  offer=%s", shorten(p.OfferID, 24))
	}
	if d := p.Details; d != nil {
		if d.ProductPrice != "" {
			fmt.Fprintf(&b, "  price=%s", d.ProductPrice)
		}
		if d.ProductTitle != "" {
			fmt.Fprintf(&b, "  %q", shorten(d.ProductTitle, 60))
		}
	}
	if err := (stellar.Rules{}).Validate(&p); err != nil {
		fmt.Fprintf(&b, "  INVALID: %v", err)
	}
	return b.String()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// redactKey hides the secret when a URL is printed.
func redactKey(url string) string {
	i := strings.Index(url, "key=")
	if i < 0 {
		return url
	}
	end := strings.IndexByte(url[i:], '&')
	if end < 0 {
		return url[:i] + "key=…"
	}
	return url[:i] + "key=…" + url[i+end:]
}
