// Package common holds what both baseline servers share with stellarfeed's
// contract: flags, key and token checks, the strict ping decoding and the
// ingest API. Only the fan-out differs between the baselines, so that the
// bench compares broadcasters, not ingest code.
package common

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Config is the command line shared by the baselines.
type Config struct {
	WSAddr  string
	APIAddr string
	Keys    map[string]bool
	Token   string
}

// ParseFlags reads the baseline command line:
//
//	-ws-addr 127.0.0.1:PORT -api-addr 127.0.0.1:PORT -keys k1,k2 -token T
func ParseFlags(name string, args []string) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	ws := fs.String("ws-addr", "127.0.0.1:8080", "WebSocket listen address")
	api := fs.String("api-addr", "127.0.0.1:8081", "ingest API listen address")
	keys := fs.String("keys", "", "comma-separated subscriber keys")
	token := fs.String("token", "", "ingest bearer token")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if *keys == "" {
		return Config{}, errors.New("-keys: at least one subscriber key is required")
	}
	if *token == "" {
		return Config{}, errors.New("-token: an ingest token is required")
	}
	c := Config{WSAddr: *ws, APIAddr: *api, Keys: map[string]bool{}, Token: *token}
	for _, k := range strings.Split(*keys, ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.Keys[k] = true
		}
	}
	return c, nil
}

// Ping mirrors the Stellar ping: the only fields accepted.
type Ping struct {
	Site    string   `json:"site"`
	Region  string   `json:"region,omitempty"`
	SKU     string   `json:"sku"`
	OfferID string   `json:"offerId,omitempty"`
	Details *Details `json:"details,omitempty"`
}

// Details are the optional product facts.
type Details struct {
	ProductTitle string `json:"productTitle,omitempty"`
	ProductImage string `json:"productImage,omitempty"`
	ProductPrice string `json:"productPrice,omitempty"`
}

// DecodePings parses a body holding one ping or an array of pings,
// rejecting unknown fields, and returns each ping re-encoded compactly.
func DecodePings(body []byte) ([][]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New("empty body")
	}
	var raws []json.RawMessage
	if body[0] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, fmt.Errorf("body is not a JSON array: %w", err)
		}
	} else {
		raws = []json.RawMessage{body}
	}
	out := make([][]byte, 0, len(raws))
	for i, r := range raws {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		var p Ping
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("ping %d: %w", i, err)
		}
		if p.Site == "" || p.SKU == "" {
			return nil, fmt.Errorf("ping %d: site and sku are required", i)
		}
		b, err := json.Marshal(&p)
		if err != nil {
			return nil, fmt.Errorf("ping %d: encode: %w", i, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// APIHandler serves POST /api/pings, GET /healthz and GET /metrics
// (go_goroutines only), calling publish once per ping.
func APIHandler(token string, publish func([]byte)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	})
	mux.HandleFunc("/api/pings", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		pings, err := DecodePings(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, p := range pings {
			publish(p)
		}
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// KeyOK reports whether the request carries a known ?key=.
func (c Config) KeyOK(r *http.Request) bool { return c.Keys[r.URL.Query().Get("key")] }

// ServeAPI runs the ingest API until ctx ends.
func ServeAPI(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api serve: %w", err)
	}
	return nil
}

// SignalContext ends on SIGINT or SIGTERM.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// Fatal logs err and exits non-zero.
func Fatal(err error) {
	slog.Error("baseline failed", "err", err)
	os.Exit(1)
}
