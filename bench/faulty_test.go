package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// faultyServer is a tiny broadcaster with one deliberate fault: "drop"
// closes one client at the first ping; "dup" sends every ping twice to one
// client. Both are served on one address (ws on /, ingest on /api/pings).
type faultyServer struct {
	mode  string
	srv   *http.Server
	addr  string
	mu    sync.Mutex
	conns []net.Conn
	pings int
}

func startFaulty(t *testing.T, mode string) *faultyServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyServer{mode: mode, addr: ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/api/pings", f.ingest)
	mux.HandleFunc("/", f.upgrade)
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = f.srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = f.srv.Close()
		<-done
		f.mu.Lock()
		for _, c := range f.conns {
			if c != nil {
				c.Close()
			}
		}
		f.mu.Unlock()
	})
	return f
}

func (f *faultyServer) upgrade(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("key") != "k" {
		http.Error(w, "bad key", http.StatusUnauthorized)
		return
	}
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		base64.StdEncoding.EncodeToString(h[:])+"\r\n\r\n")
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
}

func (f *faultyServer) ingest(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer t" {
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(bufio.NewReader(r.Body))
	frame := appendServerFrame(nil, body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pings++
	for i, c := range f.conns {
		if c == nil {
			continue
		}
		if f.mode == "drop" && i == 0 {
			c.Close() // the fault: this client misses every ping
			f.conns[i] = nil
			continue
		}
		_, _ = c.Write(frame)
		if f.mode == "dup" && i == 1 {
			_, _ = c.Write(frame) // the fault: a second copy
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func TestFaultyServersAreReported(t *testing.T) {
	if testing.Short() {
		t.Skip("starts client processes")
	}
	for _, mode := range []string{"drop", "dup"} {
		t.Run(mode, func(t *testing.T) {
			f := startFaulty(t, mode)
			o := smallOptions(t)
			o.Regimes = []string{RegimeSteady}
			tg, err := ParseTarget("ws://" + f.addr + "/,ingest=http://" + f.addr + ",key=k,token=t,name=faulty-" + mode)
			if err != nil {
				t.Fatal(err)
			}
			o.Targets = []Target{tg}
			o.Servers = nil
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			rep, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Runs) != 1 {
				t.Fatalf("got %d runs, want 1", len(rep.Runs))
			}
			r := rep.Runs[0]
			if r.Connected != 200 || r.Published != 10 || r.Expected != 2000 {
				t.Fatalf("connected %d published %d expected %d, want 200, 10, 2000 (errors %v)", r.Connected, r.Published, r.Expected, r.Errors)
			}
			switch mode {
			case "drop":
				if r.Lost != 10 || r.Delivered != 1990 || r.Duplicates != 0 {
					t.Errorf("drop: lost %d delivered %d dup %d, want 10, 1990, 0", r.Lost, r.Delivered, r.Duplicates)
				}
				if r.ClosedByServer != 1 {
					t.Errorf("drop: closed_by_server = %d, want 1", r.ClosedByServer)
				}
				if r.OK() {
					t.Error("a run with losses reports OK")
				}
			case "dup":
				if r.Duplicates != 10 || r.Lost != 0 || r.Delivered != 2000 {
					t.Errorf("dup: dup %d lost %d delivered %d, want 10, 0, 2000", r.Duplicates, r.Lost, r.Delivered)
				}
				for _, p := range r.PerPing {
					if p.Duplicates != 1 || p.Deliveries != 200 {
						t.Errorf("ping %d: %d deliveries %d duplicates, want 200 and 1", p.Seq, p.Deliveries, p.Duplicates)
					}
				}
				if r.OK() {
					t.Error("a run with duplicates reports OK")
				}
			}
		})
	}
}
