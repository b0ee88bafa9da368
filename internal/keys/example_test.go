package keys_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

func Example() {
	dir, _ := os.MkdirTemp("", "keys-example")
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "stellarfeed.db"), 0o600, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	st, err := keys.Open(db)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The server closes a key's live connections when it loses access.
	st.Subscribe(func(c keys.Change) {
		if c.CutsAccess() {
			fmt.Println("disconnect", c.Key.Label, "because it was", c.Op)
		}
	})
	secret, k, err := st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "acme-bot", MaxConns: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(secret, "sfk_"), len(k.ID))

	ip := netip.MustParseAddr("203.0.113.9")
	id, err := st.Authenticate(secret, ip) // in the WebSocket handshake
	fmt.Println(id.Label, err)
	st.Connected(id.KeyID, ip) // after the upgrade
	_, err = st.Authenticate(secret, ip)
	var ae *keys.AuthError
	fmt.Println(errors.As(err, &ae), ae.Status, ae.Reason)
	st.Disconnected(id.KeyID, ip, time.Minute, 12)

	st.Revoke(k.ID)
	_, err = st.Check(secret, keys.KindSubscriber, time.Now())
	fmt.Println(err)
	// Output:
	// true 10
	// acme-bot <nil>
	// true 429 too many connections for this key
	// disconnect acme-bot because it was revoked
	// key revoked
}
