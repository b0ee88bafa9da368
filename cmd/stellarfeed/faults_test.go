package main

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

type dropPublisher struct{}

func (dropPublisher) Publish(*wire.Message) {}

// TestKeysPrintsStoreFault: when the server cannot write its data
// directory, `stellarfeed keys` fails and prints the server's reason. The
// server here is the real admin API on a key store whose bbolt file is
// open read-only (the node's tests fill a real tmpfs instead).
func TestKeysPrintsStoreFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := keys.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := st.Create(keys.Options{Kind: keys.KindAdmin})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st, err = keys.Open(db); err != nil {
		t.Fatal(err)
	}
	a := api.New(api.Config{}, api.Deps{Publisher: dropPublisher{}, Keys: st, Logger: slog.New(slog.DiscardHandler)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	defer a.Shutdown(context.Background())

	code, _, errOut := run(t, "keys", "create", "--api", "http://"+ln.Addr().String(), "--admin-token", tok, "--label", "x")
	if code == 0 {
		t.Fatal("keys create succeeded on a store that cannot be written")
	}
	for _, want := range []string{"507 Insufficient Storage", "data directory not writable", "read-only", "broadcasting continues"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}
