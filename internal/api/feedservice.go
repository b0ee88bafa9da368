package api

import (
	"context"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// FeedService administers feeds. Like KeyService it is the one back end
// of the feeds command, the admin API and the console: StoreFeeds serves
// it from the key store, Client from a running server's admin API.
type FeedService interface {
	ListFeeds(ctx context.Context) (FeedList, error)
	GetFeed(ctx context.Context, name string) (FeedInfo, error)
	CreateFeed(ctx context.Context, req FeedRequest) (FeedInfo, error)
	UpdateFeed(ctx context.Context, name string, p FeedPatchRequest) (FeedInfo, error)
	DeleteFeed(ctx context.Context, name string) (FeedInfo, error)
}

var (
	_ FeedService = StoreFeeds{}
	_ FeedService = (*Client)(nil)
)

// StoreFeeds serves FeedService from a key store, for every feed.
type StoreFeeds struct {
	Keys FeedStore
}

// Info returns f with its usage by month and its number of live keys.
func (s StoreFeeds) Info(f keys.Feed) FeedInfo {
	info := FeedInfo{Feed: f}
	if u, err := s.Keys.FeedUsage(f.Name); err == nil {
		info.Usage = &u
	}
	for _, k := range s.Keys.KeysOfFeed(f.Name) {
		if k.Revoked.IsZero() {
			info.Keys++
		}
	}
	return info
}

// ListFeeds returns every feed, with usage.
func (s StoreFeeds) ListFeeds(context.Context) (FeedList, error) {
	list := FeedList{Feeds: []FeedInfo{}}
	for _, f := range s.Keys.Feeds() {
		list.Feeds = append(list.Feeds, s.Info(f))
	}
	return list, nil
}

// GetFeed returns one feed, with usage.
func (s StoreFeeds) GetFeed(_ context.Context, name string) (FeedInfo, error) {
	f, err := s.Keys.Feed(name)
	if err != nil {
		return FeedInfo{}, err
	}
	return s.Info(f), nil
}

// CreateFeed adds a feed; the key store checks its settings.
func (s StoreFeeds) CreateFeed(_ context.Context, req FeedRequest) (FeedInfo, error) {
	f, err := s.Keys.CreateFeed(req.Options())
	if err != nil {
		return FeedInfo{}, err
	}
	return s.Info(f), nil
}

// UpdateFeed changes the settings p names.
func (s StoreFeeds) UpdateFeed(_ context.Context, name string, p FeedPatchRequest) (FeedInfo, error) {
	f, err := s.Keys.UpdateFeed(name, p.Patch())
	if err != nil {
		return FeedInfo{}, err
	}
	return s.Info(f), nil
}

// DeleteFeed removes a feed without live keys.
func (s StoreFeeds) DeleteFeed(_ context.Context, name string) (FeedInfo, error) {
	f, err := s.Keys.DeleteFeed(name)
	if err != nil {
		return FeedInfo{}, err
	}
	return FeedInfo{Feed: f}, nil
}
