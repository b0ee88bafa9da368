package api

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// TestKeyServiceBackEndsAgree runs the same script against the store and
// against a running server's admin API: a secret names a key everywhere,
// and both answer alike, errors included.
func TestKeyServiceBackEndsAgree(t *testing.T) {
	e := newEnv(t, Config{})
	backEnds := map[string]KeyService{
		"store":  StoreService{Keys: e.st, Now: func() time.Time { return t0 }},
		"client": NewClient("http://stellarfeed.test", e.admin, e.httpClient()),
	}
	for name, svc := range backEnds {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ck, err := svc.Create(ctx, KeyRequest{Label: "by-" + name, Scopes: []string{"amazon:USA"}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := svc.Get(ctx, ck.Secret)
			if err != nil || info.Key.ID != ck.Key.ID || info.Usage == nil {
				t.Fatalf("Get(secret) = %+v, %v", info, err)
			}
			disabled := true
			info, err = svc.Update(ctx, ck.Secret, KeyPatch{Disabled: &disabled})
			if err != nil || !info.Key.Disabled {
				t.Fatalf("Update(secret, disable) = %+v, %v", info.Key, err)
			}
			// A disabled key's secret still names it.
			enabled := false
			if info, err = svc.Update(ctx, ck.Secret, KeyPatch{Disabled: &enabled}); err != nil || info.Key.Disabled {
				t.Fatalf("Update(secret, enable) = %+v, %v", info.Key, err)
			}
			none := []string{}
			if info, err = svc.Update(ctx, ck.Key.ID, KeyPatch{Scopes: &none}); err != nil || len(info.Key.Scopes) != 0 {
				t.Fatalf("Update(scopes empty) = %+v, %v", info.Key, err)
			}
			var ie *keys.InvalidError
			if _, err := svc.Update(ctx, ck.Key.ID, KeyPatch{}); !errors.As(err, &ie) || ie.Field != "patch" {
				t.Fatalf("empty patch: %v", err)
			}
			typo := []string{"walmart", "amazn:USA"}
			if _, err := svc.Update(ctx, ck.Key.ID, KeyPatch{Scopes: &typo}); !errors.As(err, &ie) || ie.Field != "scopes[1]" {
				t.Fatalf("typo scope: %v", err)
			}
			rot, err := svc.Rotate(ctx, ck.Secret)
			if err != nil || rot.Key.ID != ck.Key.ID || rot.Secret == ck.Secret {
				t.Fatalf("Rotate(secret) = %+v, %v", rot, err)
			}
			if _, err := svc.Get(ctx, ck.Secret); !errors.Is(err, keys.ErrNotFound) {
				t.Fatalf("Get(old secret) = %v, want ErrNotFound", err)
			}
			rev, err := svc.Revoke(ctx, rot.Secret)
			if err != nil || rev.Key.Revoked.IsZero() {
				t.Fatalf("Revoke(secret) = %+v, %v", rev.Key, err)
			}
			if _, err := svc.Rotate(ctx, rot.Secret); !errors.Is(err, keys.ErrConflict) {
				t.Fatalf("Rotate(revoked) = %v, want ErrConflict", err)
			}
			list, err := svc.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, k := range list.Keys {
				found = found || k.ID == ck.Key.ID
			}
			if _, ok := list.Usage[ck.Key.ID]; !found || !ok {
				t.Fatalf("List misses %s: %+v", ck.Key.ID, list)
			}
		})
	}
}
