package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/monitors"
	"github.com/stellarfeed/stellarfeed/monitors/amazon"
	"github.com/stellarfeed/stellarfeed/monitors/shopify"
	"github.com/stellarfeed/stellarfeed/monitors/walmart"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// plainMonitor is a registered site without its own target checks.
type plainMonitor struct{}

func (plainMonitor) Check(context.Context, *monitors.Target, monitors.Fetcher) monitors.Observation {
	return monitors.Observation{Outcome: monitors.Error, Reason: "test monitor"}
}

// pickyMonitor rejects targets the way a real monitor's ValidateTarget
// does: a *monitors.TargetError naming each field; "plain" gets a plain
// error, which config places at the target.
type pickyMonitor struct{ plainMonitor }

func (pickyMonitor) ValidateTarget(t *monitors.Target) error {
	var e monitors.TargetError
	if t.SKU != "GOOD" {
		e.Add("sku", "%q is not stocked by picky", t.SKU)
	}
	switch t.Merchant {
	case "nobody":
		e.Add("", "merchant nobody sells nothing")
	case "plain":
		return errors.New("a plain error lands at the target")
	}
	return e.Err()
}

// fakeLookup serves the real built-in monitors (config owns none of their
// rules) plus picky, a site only these tests know.
func fakeLookup(site string) (monitors.Monitor, error) {
	switch site {
	case "amazon":
		return amazon.New(), nil
	case "walmart":
		return walmart.New(), nil
	case "shopify":
		return shopify.New(), nil
	case "picky":
		return pickyMonitor{}, nil
	}
	return nil, fmt.Errorf("unknown site %q (known: amazon, picky, shopify, walmart)", site)
}

func fakeSites() []string { return []string{"amazon", "picky", "shopify", "walmart"} }

var testLoader = Loader{Lookup: fakeLookup, Sites: fakeSites}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
