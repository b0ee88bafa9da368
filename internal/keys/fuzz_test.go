package keys

import (
	"errors"
	"testing"
)

// FuzzCheck: any presented string is refused without panic unless it is
// exactly a live secret, and refusals are always one of the sentinels.
func FuzzCheck(f *testing.F) {
	st, _, _ := newStore(f, newClock(t0))
	secret, _ := mustCreate(f, st, Options{Kind: KindSubscriber})
	f.Add(secret)
	f.Add(secret[:len(secret)-1] + "x")
	f.Add("")
	f.Add("sfk_")
	f.Add("sfa_" + secret[4:])
	f.Add("\xff\x00sfk_")
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []Kind{KindSubscriber, KindIngest, KindAdmin, "other"} {
			k, err := st.Check(s, kind, t0)
			if s == secret && kind == KindSubscriber {
				if err != nil {
					t.Fatalf("live secret refused: %v", err)
				}
				continue
			}
			if !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrMissing) || k.ID != "" {
				t.Fatalf("Check(%q, %s) = %+v, %v", s, kind, k, err)
			}
		}
		if k, err := st.Get(s); err == nil && k.ID != s {
			t.Fatalf("Get(%q) found key %s", s, k.ID)
		}
	})
}
