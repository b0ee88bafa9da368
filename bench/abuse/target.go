package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Target is the running server under attack.
type Target struct {
	WS  string // host:port of the WebSocket listener
	API string // host:port of the HTTP API

	Key         string // a subscriber key (sfk_...)
	IngestToken string // an ingest token (sfi_...)
	AdminToken  string // an admin token (sfa_...); checks that need it skip without
}

// Validate says which required field is missing.
func (t Target) Validate() error {
	switch {
	case t.WS == "":
		return errors.New("target: WebSocket address is required")
	case t.API == "":
		return errors.New("target: API address is required")
	case t.Key == "":
		return errors.New("target: subscriber key is required")
	case t.IngestToken == "":
		return errors.New("target: ingest token is required")
	}
	return nil
}

// Files a stellarfeed data directory holds (see internal/node/datadir.go):
// the CLI contract of `stellarfeed run`, read here without linking it.
const (
	adminTokenFile = "admin.token"
	demoKeysFile   = "demo-keys.json"
	apiAddrFile    = "api.addr"
)

// FillFromDataDir completes t with what a server started with --data dir
// wrote there: the admin token, the demo subscriber key and ingest token,
// and the API address. Fields already set are kept.
func (t *Target) FillFromDataDir(dir string) error {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "", fmt.Errorf("data directory %s: %w", dir, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if t.AdminToken == "" {
		tok, err := read(adminTokenFile)
		if err != nil {
			return err
		}
		t.AdminToken = tok
	}
	if t.Key == "" || t.IngestToken == "" {
		s, err := read(demoKeysFile)
		if err != nil {
			return fmt.Errorf("%w (was the server started with the demo on?)", err)
		}
		var dk struct{ Subscriber, Ingest string }
		if err := json.Unmarshal([]byte(s), &dk); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, demoKeysFile), err)
		}
		if t.Key == "" {
			t.Key = dk.Subscriber
		}
		if t.IngestToken == "" {
			t.IngestToken = dk.Ingest
		}
	}
	if t.API == "" {
		a, err := read(apiAddrFile)
		if err != nil {
			return err
		}
		t.API = a
	}
	return nil
}

// api is a small HTTP client for the target's API.
type api struct {
	base   string
	client *http.Client
}

func newAPI(addr string) *api {
	return &api{
		base: "http://" + addr,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 8, DisableCompression: true},
		},
	}
}

// do sends one request and returns the status and up to 64 KiB of body.
func (a *api) do(ctx context.Context, method, path, token, ctype string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, nil
}

// adminJSON calls the admin API and decodes a 2xx answer into out.
func (a *api) adminJSON(ctx context.Context, token, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	code, resp, err := a.do(ctx, method, path, token, "application/json", body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code/100 != 2 {
		return fmt.Errorf("%s %s: status %d: %s", method, path, code, bytes.TrimSpace(resp))
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// CreatedKey is the admin API's answer to create and rotate.
type CreatedKey struct {
	Secret string `json:"secret"`
	Key    struct {
		ID string `json:"id"`
	} `json:"key"`
}

// Admin is the part of the admin API the suite and the soak use.
type Admin struct {
	api   *api
	token string
}

// NewAdmin talks to the admin API at apiAddr with token.
func NewAdmin(apiAddr, token string) *Admin { return &Admin{api: newAPI(apiAddr), token: token} }

// Create makes a key of kind ("subscriber" or "ingest") with label.
func (a *Admin) Create(ctx context.Context, kind, label string) (CreatedKey, error) {
	var out CreatedKey
	err := a.api.adminJSON(ctx, a.token, http.MethodPost, "/api/admin/keys", map[string]string{"kind": kind, "label": label}, &out)
	return out, err
}

// Rotate gives key id a new secret; the old one stops working.
func (a *Admin) Rotate(ctx context.Context, id string) (CreatedKey, error) {
	var out CreatedKey
	err := a.api.adminJSON(ctx, a.token, http.MethodPost, "/api/admin/keys/"+id+"/rotate", nil, &out)
	return out, err
}

// Revoke revokes key id.
func (a *Admin) Revoke(ctx context.Context, id string) error {
	return a.api.adminJSON(ctx, a.token, http.MethodDelete, "/api/admin/keys/"+id, nil, nil)
}

// Metrics scrapes the target's /metrics (no token needed).
func (a *Admin) Metrics(ctx context.Context) (Metrics, error) { return a.api.Scrape(ctx) }
