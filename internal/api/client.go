package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// Client calls the admin API of a running server. The CLI uses it when the
// data dir's bbolt file is locked by that server.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client of the server at baseURL ("http://host:port")
// authenticating with an admin token. hc nil means a client with a 10 s
// timeout.
func NewClient(baseURL, adminToken string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: adminToken, hc: hc}
}

// APIError is a non-2xx answer. It unwraps to keys.ErrNotFound (404),
// keys.ErrConflict (409) or a *keys.InvalidError (400 naming a field), so
// callers can use errors.Is and errors.As as with a Store.
type APIError struct {
	Status  int
	Message string
	Field   string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("admin API: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest:
		if e.Field != "" {
			return &keys.InvalidError{Field: e.Field, Message: strings.TrimPrefix(e.Message, e.Field+": ")}
		}
	case http.StatusNotFound:
		return keys.ErrNotFound
	case http.StatusConflict:
		return keys.ErrConflict
	}
	return nil
}

// Create makes a key; the secret in the answer is shown only once.
func (c *Client) Create(ctx context.Context, req KeyRequest) (CreatedKey, error) {
	var out CreatedKey
	return out, c.do(ctx, http.MethodPost, "/api/admin/keys", req, &out)
}

// List returns every key with its usage.
func (c *Client) List(ctx context.Context) (KeyList, error) {
	var out KeyList
	return out, c.do(ctx, http.MethodGet, "/api/admin/keys", nil, &out)
}

// Connections lists the live connections.
func (c *Client) Connections(ctx context.Context) (ConnList, error) {
	var out ConnList
	return out, c.do(ctx, http.MethodGet, "/api/admin/connections", nil, &out)
}

// Kick closes one live connection.
func (c *Client) Kick(ctx context.Context, id uint64) error {
	var out struct {
		Kicked uint64 `json:"kicked"`
	}
	return c.do(ctx, http.MethodDelete, "/api/admin/connections/"+strconv.FormatUint(id, 10), nil, &out)
}

// Get returns a key and its usage.
func (c *Client) Get(ctx context.Context, idOrSecret string) (KeyInfo, error) {
	var out KeyInfo
	if keys.IsSecret(idOrSecret) {
		return out, c.do(ctx, http.MethodPost, "/api/admin/keys/lookup", LookupRequest{Secret: idOrSecret}, &out)
	}
	return out, c.do(ctx, http.MethodGet, "/api/admin/keys/"+url.PathEscape(idOrSecret), nil, &out)
}

// id turns a secret into its key's ID; secrets never go into URLs.
func (c *Client) id(ctx context.Context, idOrSecret string) (string, error) {
	if !keys.IsSecret(idOrSecret) {
		return idOrSecret, nil
	}
	info, err := c.Get(ctx, idOrSecret)
	return info.Key.ID, err
}

// Update changes the given settings of a key.
func (c *Client) Update(ctx context.Context, idOrSecret string, p KeyPatch) (KeyInfo, error) {
	var out KeyInfo
	id, err := c.id(ctx, idOrSecret)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodPatch, "/api/admin/keys/"+url.PathEscape(id), p, &out)
}

// Rotate gives a key a new secret, shown only once.
func (c *Client) Rotate(ctx context.Context, idOrSecret string) (CreatedKey, error) {
	var out CreatedKey
	id, err := c.id(ctx, idOrSecret)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodPost, "/api/admin/keys/"+url.PathEscape(id)+"/rotate", nil, &out)
}

// Revoke ends a key.
func (c *Client) Revoke(ctx context.Context, idOrSecret string) (KeyInfo, error) {
	var out KeyInfo
	id, err := c.id(ctx, idOrSecret)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodDelete, "/api/admin/keys/"+url.PathEscape(id), nil, &out)
}

// maxAnswer bounds what the client reads of an answer.
const maxAnswer = 16 << 20

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin API %s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("admin API %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb errorBody
		if json.Unmarshal(data, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Message: eb.Error, Field: eb.Field}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API %s %s: decode answer: %w", method, path, err)
	}
	return nil
}
