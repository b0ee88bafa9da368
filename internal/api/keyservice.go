package api

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/typo"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// KeyService administers keys. It is the one back end behind the keys
// command, the admin API and the console: StoreService serves it from the
// key store, Client from a running server's admin API (which is itself a
// StoreService), so the answers are the same with or without a server.
// Every method that names a key accepts its ID or its secret.
type KeyService interface {
	Create(ctx context.Context, req KeyRequest) (CreatedKey, error)
	List(ctx context.Context) (KeyList, error)
	Get(ctx context.Context, idOrSecret string) (KeyInfo, error)
	Update(ctx context.Context, idOrSecret string, p KeyPatch) (KeyInfo, error)
	Rotate(ctx context.Context, idOrSecret string) (CreatedKey, error)
	Revoke(ctx context.Context, idOrSecret string) (KeyInfo, error)
}

var (
	_ KeyService = StoreService{}
	_ KeyService = (*Client)(nil)
)

// Keys is what StoreService needs of the key store (*keys.Store).
type Keys interface {
	Find(idOrSecret string) (keys.Key, error)
	Create(o keys.Options) (string, keys.Key, error)
	List() []keys.Key
	Usage(id string) (keys.Usage, error)
	Update(id string, p keys.Patch) (keys.Key, error)
	Rotate(id string) (string, keys.Key, error)
	Revoke(idOrSecret string) (keys.Key, error)
}

var _ Keys = (*keys.Store)(nil)

// StoreService serves KeyService from a key store.
type StoreService struct {
	Keys Keys
	// Feed, when set, is the one feed this service manages (a feed's admin
	// token): keys of other feeds are not found, new keys join it.
	Feed string
	// Now replaces time.Now for expiries given as durations (tests).
	Now func() time.Time
}

// find returns the key named by its ID or secret, within the service's feed.
func (s StoreService) find(idOrSecret string) (keys.Key, error) {
	k, err := s.Keys.Find(idOrSecret)
	if err == nil && !inScope(&k, s.Feed) {
		return keys.Key{}, fmt.Errorf("find: %w", keys.ErrNotFound)
	}
	return k, err
}

func (s StoreService) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create makes a key; the secret in the answer is shown only once.
func (s StoreService) Create(_ context.Context, req KeyRequest) (CreatedKey, error) {
	if s.Feed != "" {
		req.Feed = s.Feed
	}
	o, err := req.Options(s.now())
	if err != nil {
		return CreatedKey{}, err
	}
	if err := checkScopeSites(o.Scopes); err != nil {
		return CreatedKey{}, err
	}
	secret, k, err := s.Keys.Create(o)
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Secret: secret, Key: k}, nil
}

// List returns every key, oldest first, with its usage.
func (s StoreService) List(context.Context) (KeyList, error) {
	list := KeyList{Keys: []keys.Key{}, Usage: map[string]keys.Usage{}}
	for _, k := range s.Keys.List() {
		if inScope(&k, s.Feed) {
			list.Keys = append(list.Keys, k)
		}
	}
	for _, k := range list.Keys {
		if u, err := s.Keys.Usage(k.ID); err == nil {
			list.Usage[k.ID] = u
		}
	}
	return list, nil
}

// Get returns a key and its usage.
func (s StoreService) Get(_ context.Context, idOrSecret string) (KeyInfo, error) {
	k, err := s.find(idOrSecret)
	if err != nil {
		return KeyInfo{}, err
	}
	return s.info(k), nil
}

func (s StoreService) info(k keys.Key) KeyInfo {
	info := KeyInfo{Key: k}
	if u, err := s.Keys.Usage(k.ID); err == nil {
		info.Usage = &u
	}
	return info
}

// Update changes the settings p names. A patch that names none is an
// error rather than a silent success.
func (s StoreService) Update(_ context.Context, idOrSecret string, p KeyPatch) (KeyInfo, error) {
	if p.empty() {
		return KeyInfo{}, &keys.InvalidError{Field: "patch", Message: "no setting to change"}
	}
	k, err := s.find(idOrSecret)
	if err != nil {
		return KeyInfo{}, err
	}
	kp, err := p.Patch(s.now())
	if err != nil {
		return KeyInfo{}, err
	}
	if kp.Scopes != nil {
		if err := checkScopeSites(*kp.Scopes); err != nil {
			return KeyInfo{}, err
		}
	}
	if k, err = s.Keys.Update(k.ID, kp); err != nil {
		return KeyInfo{}, err
	}
	return s.info(k), nil
}

// Rotate gives a key a new secret, shown only once.
func (s StoreService) Rotate(_ context.Context, idOrSecret string) (CreatedKey, error) {
	k, err := s.find(idOrSecret)
	if err != nil {
		return CreatedKey{}, err
	}
	secret, k, err := s.Keys.Rotate(k.ID)
	if err != nil {
		return CreatedKey{}, err
	}
	return CreatedKey{Secret: secret, Key: k}, nil
}

// Revoke ends a key for good; revoking a revoked key returns it.
func (s StoreService) Revoke(_ context.Context, idOrSecret string) (KeyInfo, error) {
	k, err := s.find(idOrSecret)
	if err != nil {
		return KeyInfo{}, err
	}
	if k, err = s.Keys.Revoke(k.ID); err != nil {
		return KeyInfo{}, err
	}
	return s.info(k), nil
}

// KeyState words a key's state for people: revoked, disabled, expired or
// active (in that order: a revoked key is revoked whatever else it is).
func KeyState(k keys.Key, now time.Time) string {
	switch {
	case !k.Revoked.IsZero():
		return "revoked"
	case k.Disabled:
		return "disabled"
	case !k.Expires.IsZero() && !now.Before(k.Expires):
		return "expired"
	}
	return "active"
}

// empty reports whether the patch changes nothing.
func (p *KeyPatch) empty() bool {
	return p.Label == nil && p.Expires == nil && p.Disabled == nil && p.MaxConns == nil && p.Scopes == nil &&
		p.MaxIPsPerDay == nil && p.MonthlyQuota == nil && p.RatePerSec == nil && p.Slug == nil
}

// knownSites are the sites the built-in monitors ping. Other names are
// allowed (Stellar names sites such as Shopify stores freely), but one a
// typo away from a known site is surely a typo: a key scoped to "amazn"
// would receive nothing, silently.
var knownSites = []string{stellar.SiteAmazon, stellar.SiteWalmartUSA, stellar.SiteWalmartCA}

func checkScopeSites(scopes []string) error {
	for i, sc := range scopes {
		site, _, _ := strings.Cut(sc, ":")
		if slices.Contains(knownSites, site) {
			continue
		}
		if known, ok := typo.Closest(site, knownSites, 2); ok && len(site) > 3 {
			return &keys.InvalidError{Field: fmt.Sprintf("scopes[%d]", i), Message: fmt.Sprintf("%q: unknown site %q; did you mean %q?", sc, site, known)}
		}
	}
	return nil
}
