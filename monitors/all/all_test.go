package all_test

import (
	"slices"
	"testing"

	"github.com/stellarfeed/stellarfeed/monitors"
	_ "github.com/stellarfeed/stellarfeed/monitors/all"
)

func TestAllRegistered(t *testing.T) {
	names := monitors.Names()
	for _, want := range []string{"amazon", "shopify", "walmart"} {
		if !slices.Contains(names, want) {
			t.Errorf("%q not registered (have %v)", want, names)
		}
		m, err := monitors.New(want)
		if err != nil || m == nil {
			t.Errorf("New(%q) = %v, %v", want, m, err)
			continue
		}
		if _, ok := m.(monitors.TargetValidator); !ok {
			t.Errorf("%q does not validate targets at config load", want)
		}
	}
	if _, err := monitors.New("target"); err == nil {
		t.Error("unknown site accepted")
	}
}
