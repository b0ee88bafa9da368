package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/monitors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// plainMonitor is a registered site without its own target checks.
type plainMonitor struct{}

func (plainMonitor) Check(context.Context, *monitors.Target, monitors.Fetcher) monitors.Observation {
	return monitors.Observation{Outcome: monitors.Error, Reason: "test monitor"}
}

// pickyMonitor rejects targets the way a real monitor's ValidateTarget
// does: "field: message", one problem a line.
type pickyMonitor struct{ plainMonitor }

func (pickyMonitor) ValidateTarget(t *monitors.Target) error {
	var errs []error
	if t.SKU != "GOOD" {
		errs = append(errs, fmt.Errorf("sku: %q is not stocked by picky", t.SKU))
	}
	if t.Merchant == "nobody" {
		errs = append(errs, errors.New("merchant nobody sells nothing"))
	}
	return errors.Join(errs...)
}

func fakeLookup(site string) (monitors.Monitor, error) {
	switch site {
	case "amazon", "walmart", "shopify":
		return plainMonitor{}, nil
	case "picky":
		return pickyMonitor{}, nil
	}
	return nil, fmt.Errorf("unknown site %q (known: amazon, picky, shopify, walmart)", site)
}

var testLoader = Loader{Lookup: fakeLookup}

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

// checkFor polls cond until it holds or timeout passes.
func checkFor(t testing.TB, timeout, step time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(step)
	}
}
