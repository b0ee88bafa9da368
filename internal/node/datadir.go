package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// Files in the data directory.
const (
	dbFile        = "stellarfeed.db"
	adminFile     = "admin.token" // the admin API token, for the local CLI
	apiAddrFile   = "api.addr"    // where the running server's API listens
	demoKeysFile  = "demo-keys.json"
	lockedTimeout = 300 * time.Millisecond
)

// ErrLocked means another process (a running server) holds the database.
var ErrLocked = errors.New("data directory is in use by a running stellarfeed")

// OpenDB opens the store in dir, creating dir if needed. When a running
// server holds it, OpenDB returns ErrLocked quickly instead of waiting.
func OpenDB(dir string, readOnly bool) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockedTimeout, ReadOnly: readOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// LocalAPI returns the running server's API address and admin token, as it
// wrote them in dir, for the CLI to use while the database is locked.
func LocalAPI(dir string) (baseURL, adminToken string, err error) {
	addr, err := os.ReadFile(filepath.Join(dir, apiAddrFile))
	if err != nil {
		return "", "", fmt.Errorf("find the running server's API: %w", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, adminFile))
	if err != nil {
		return "", "", fmt.Errorf("read admin token: %w", err)
	}
	return "http://" + strings.TrimSpace(string(addr)), strings.TrimSpace(string(tok)), nil
}

func writeSecretFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// adminToken returns the admin token stored in dir, creating one when the
// file is missing or its key no longer works.
func adminToken(dir string, st *keys.Store) (string, error) {
	path := filepath.Join(dir, adminFile)
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, err := st.Check(tok, keys.KindAdmin, time.Now()); err == nil {
			return tok, nil
		}
	}
	secret, _, err := st.Create(keys.Options{Kind: keys.KindAdmin, Label: "local admin (" + adminFile + ")"})
	if err != nil {
		return "", fmt.Errorf("create admin token: %w", err)
	}
	if err := writeSecretFile(path, secret); err != nil {
		return "", fmt.Errorf("save admin token: %w", err)
	}
	return secret, nil
}

// DemoKeys are the subscriber key and ingest token `make run` prints.
type DemoKeys struct {
	Subscriber string `json:"subscriber"`
	Ingest     string `json:"ingest"`
}

// demoKeys reuses the demo keys saved in dir while they still work, so
// that a restart prints the same URL, and creates them otherwise.
func demoKeys(dir string, st *keys.Store) (DemoKeys, error) {
	path := filepath.Join(dir, demoKeysFile)
	var dk DemoKeys
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &dk) == nil {
		now := time.Now()
		_, errSub := st.Check(dk.Subscriber, keys.KindSubscriber, now)
		_, errIn := st.Check(dk.Ingest, keys.KindIngest, now)
		if errSub == nil && errIn == nil {
			return dk, nil
		}
	}
	var err error
	if dk.Subscriber, _, err = st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "demo subscriber"}); err != nil {
		return dk, fmt.Errorf("create demo key: %w", err)
	}
	if dk.Ingest, _, err = st.Create(keys.Options{Kind: keys.KindIngest, Label: "demo ingest"}); err != nil {
		return dk, fmt.Errorf("create demo ingest token: %w", err)
	}
	b, _ := json.Marshal(dk)
	if err := writeSecretFile(path, string(b)); err != nil {
		return dk, fmt.Errorf("save demo keys: %w", err)
	}
	return dk, nil
}
