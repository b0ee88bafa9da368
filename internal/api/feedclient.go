package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// ListFeeds returns every feed the token may see.
func (c *Client) ListFeeds(ctx context.Context) (FeedList, error) {
	var out FeedList
	return out, c.do(ctx, http.MethodGet, "/api/admin/feeds", nil, &out)
}

// GetFeed returns one feed with its usage.
func (c *Client) GetFeed(ctx context.Context, name string) (FeedInfo, error) {
	var out FeedInfo
	return out, c.do(ctx, http.MethodGet, "/api/admin/feeds/"+url.PathEscape(name), nil, &out)
}

// CreateFeed adds a feed.
func (c *Client) CreateFeed(ctx context.Context, req FeedRequest) (FeedInfo, error) {
	var out FeedInfo
	return out, c.do(ctx, http.MethodPost, "/api/admin/feeds", req, &out)
}

// UpdateFeed changes a feed.
func (c *Client) UpdateFeed(ctx context.Context, name string, p FeedPatchRequest) (FeedInfo, error) {
	var out FeedInfo
	return out, c.do(ctx, http.MethodPatch, "/api/admin/feeds/"+url.PathEscape(name), p, &out)
}

// DeleteFeed removes a feed without live keys.
func (c *Client) DeleteFeed(ctx context.Context, name string) (FeedInfo, error) {
	var out FeedInfo
	return out, c.do(ctx, http.MethodDelete, "/api/admin/feeds/"+url.PathEscape(name), nil, &out)
}

// Usage returns a month's usage report ("2026-12"), of one feed or all.
func (c *Client) Usage(ctx context.Context, month, feed string) (UsageReport, error) {
	q := url.Values{"month": {month}}
	if feed != "" {
		q.Set("feed", feed)
	}
	var out UsageReport
	return out, c.do(ctx, http.MethodGet, "/api/admin/usage?"+q.Encode(), nil, &out)
}

// UsageCSV copies a month's usage report as CSV to w.
func (c *Client) UsageCSV(ctx context.Context, w io.Writer, month, feed string) error {
	q := url.Values{"month": {month}, "format": {"csv"}}
	if feed != "" {
		q.Set("feed", feed)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/admin/usage?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("admin API usage: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API usage: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &APIError{Status: resp.StatusCode, Message: string(b)}
	}
	_, err = io.Copy(w, io.LimitReader(resp.Body, maxAnswer))
	return err
}
