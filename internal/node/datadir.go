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
	"github.com/stellarfeed/stellarfeed/internal/webhook"
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
	tok, err := AdminToken(dir)
	if err != nil {
		return "", "", err
	}
	return "http://" + strings.TrimSpace(string(addr)), tok, nil
}

// AdminToken reads the admin token a server wrote to its data directory
// dir on first start (the console's login, the admin API's bearer token).
func AdminToken(dir string) (string, error) {
	tok, err := os.ReadFile(filepath.Join(dir, adminFile))
	if err != nil {
		return "", fmt.Errorf("read admin token: %w (start the server once with this data directory)", err)
	}
	return strings.TrimSpace(string(tok)), nil
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
	// The demo webhook feed: the slug that posts into it (alone, as the
	// relay service documents) and a subscriber key of that feed.
	WebhookSlug string `json:"webhookSlug,omitempty"`
	WebhookKey  string `json:"webhookKey,omitempty"`
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
			before := dk
			if err := demoWebhook(st, &dk); err != nil {
				return dk, err
			}
			if dk == before {
				return dk, nil // nothing to save: a read-only data directory still starts
			}
			b, _ := json.Marshal(dk)
			return dk, writeSecretFile(path, string(b))
		}
	}
	var err error
	if dk.Subscriber, _, err = st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "demo subscriber"}); err != nil {
		return dk, fmt.Errorf("create demo key: %w", err)
	}
	if dk.Ingest, _, err = st.Create(keys.Options{Kind: keys.KindIngest, Label: "demo ingest"}); err != nil {
		return dk, fmt.Errorf("create demo ingest token: %w", err)
	}
	if err := demoWebhook(st, &dk); err != nil {
		return dk, err
	}
	b, _ := json.Marshal(dk)
	if err := writeSecretFile(path, string(b)); err != nil {
		return dk, fmt.Errorf("save demo keys: %w", err)
	}
	return dk, nil
}

// DemoWebhookFeed is the webhook feed `make run` creates.
const DemoWebhookFeed = "demo-webhooks"

// demoWebhook makes sure the demo webhook feed exists with a slug and a
// subscriber key in dk that still work. The slug is random: on a webhook
// feed it is the credential.
func demoWebhook(st *keys.Store, dk *DemoKeys) error {
	f, err := st.Feed(DemoWebhookFeed)
	if err != nil {
		f, err = st.CreateFeed(keys.FeedOptions{
			Name: DemoWebhookFeed, Kind: keys.FeedWebhook, Label: "demo webhook feed",
			Slugs: []string{"demo-" + webhook.NewID()[:10]}, RatePerSec: 50, IPRatePerSec: 5,
		})
		if err != nil {
			return fmt.Errorf("create demo webhook feed: %w", err)
		}
	}
	if len(f.Slugs) == 0 {
		return fmt.Errorf("demo webhook feed %q has no slug: give it one (feeds update %s --slug …)", f.Name, f.Name)
	}
	dk.WebhookSlug = f.Slugs[0]
	if k, err := st.Check(dk.WebhookKey, keys.KindSubscriber, time.Now()); err == nil && k.Feed == f.Name {
		return nil
	}
	if dk.WebhookKey, _, err = st.Create(keys.Options{Kind: keys.KindSubscriber, Label: "demo webhook subscriber", Feed: f.Name}); err != nil {
		return fmt.Errorf("create demo webhook key: %w", err)
	}
	return nil
}
