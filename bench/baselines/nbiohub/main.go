// Command nbiohub is the epoll baseline: lesismal/nbio serving WebSockets,
// broadcasting each ping with WriteMessage in a loop over all clients.
package main

import (
	"context"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"

	"github.com/stellarfeed/stellarfeed/bench/baselines/common"
)

type hub struct {
	mu      sync.RWMutex
	clients map[*websocket.Conn]struct{}
}

// publish snapshots the clients and writes outside the lock: a failed write
// closes the conn, and OnClose takes the lock.
func (h *hub) publish(payload []byte) {
	h.mu.RLock()
	conns := make([]*websocket.Conn, 0, len(h.clients))
	for c := range h.clients {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		_ = c.WriteMessage(websocket.TextMessage, payload)
	}
}

func main() {
	cfg, err := common.ParseFlags("nbiohub", os.Args[1:])
	if err != nil {
		common.Fatal(err)
	}
	ctx, cancel := common.SignalContext()
	defer cancel()
	h := &hub{clients: map[*websocket.Conn]struct{}{}}
	up := websocket.NewUpgrader()
	up.CheckOrigin = func(*http.Request) bool { return true }
	up.OnOpen(func(c *websocket.Conn) {
		h.mu.Lock()
		h.clients[c] = struct{}{}
		h.mu.Unlock()
	})
	up.OnClose(func(c *websocket.Conn, _ error) {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !cfg.KeyOK(r) {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		_, _ = up.Upgrade(w, r, nil)
	})
	engine := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{cfg.WSAddr},
		Handler: mux,
	})
	if err := engine.Start(); err != nil {
		common.Fatal(err)
	}
	go func() {
		if err := common.ServeAPI(ctx, cfg.APIAddr, common.APIHandler(cfg.Token, h.publish)); err != nil {
			common.Fatal(err)
		}
	}()
	<-ctx.Done()
	sctx, c2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer c2()
	_ = engine.Shutdown(sctx)
}
