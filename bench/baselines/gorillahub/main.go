// Command gorillahub is the goroutine-per-connection baseline: gorilla/websocket
// with one writer goroutine and one reader goroutine per client, and one
// PreparedMessage per ping so the frame is encoded once.
package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stellarfeed/stellarfeed/bench/baselines/common"
)

// queueLen bounds each client's backlog; a client further behind is a slow
// consumer and is dropped, as every real hub does.
const queueLen = 1024

type hub struct {
	mu      sync.RWMutex
	clients map[*client]struct{}
}

type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
	once sync.Once
}

func (c *client) close() { c.once.Do(func() { close(c.send) }) }

func (h *hub) add(c *client) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

func (h *hub) remove(c *client) {
	h.mu.Lock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		c.close()
	}
	h.mu.Unlock()
}

func (h *hub) publish(payload []byte) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, payload)
	if err != nil {
		return
	}
	var slow []*client
	h.mu.RLock()
	for c := range h.clients {
		select {
		case c.send <- pm:
		default:
			slow = append(slow, c)
		}
	}
	h.mu.RUnlock()
	for _, c := range slow {
		h.remove(c)
	}
}

func main() {
	cfg, err := common.ParseFlags("gorillahub", os.Args[1:])
	if err != nil {
		common.Fatal(err)
	}
	ctx, cancel := common.SignalContext()
	defer cancel()
	h := &hub{clients: map[*client]struct{}{}}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024, CheckOrigin: func(*http.Request) bool { return true }}
	ws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !cfg.KeyOK(r) {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, queueLen)}
		h.add(c)
		go func() { // writer: owns writes, stops when the hub closes send
			defer conn.Close()
			for pm := range c.send {
				_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if err := conn.WritePreparedMessage(pm); err != nil {
					h.remove(c)
					for range c.send {
					}
					return
				}
			}
		}()
		go func() { // reader: answers control frames, notices the close
			defer h.remove(c)
			for {
				if _, _, err := conn.NextReader(); err != nil {
					return
				}
			}
		}()
	})
	ln, err := net.Listen("tcp", cfg.WSAddr)
	if err != nil {
		common.Fatal(err)
	}
	srv := &http.Server{Handler: ws, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, c2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer c2()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := common.ServeAPI(ctx, cfg.APIAddr, common.APIHandler(cfg.Token, h.publish)); err != nil {
			common.Fatal(err)
		}
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		common.Fatal(err)
	}
}
