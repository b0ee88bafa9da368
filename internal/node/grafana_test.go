package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGrafanaDashboardMetrics: every metric the Grafana dashboard in
// deploy/grafana queries is one a running node exposes, so a rename does
// not leave an empty panel behind.
func TestGrafanaDashboardMetrics(t *testing.T) {
	data, err := os.ReadFile("../../deploy/grafana/stellarfeed.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	// A node with the simulator and the engine, so the monitors' metrics
	// exist too.
	n := startNode(t, Config{Sim: true, RunEngine: true})
	name := regexp.MustCompile(`\b(?:stellarfeed|process|go)_[a-z0-9_]+`)
	var exposition string
	check := func() error {
		resp, err := http.Get(fmt.Sprintf("http://%s/metrics", n.APIAddr()))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		exposition = string(b)
		if err != nil {
			return err
		}
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				for _, m := range name.FindAllString(tg.Expr, -1) {
					if !regexp.MustCompile(`(?m)^` + m + `[{ ]`).MatchString(exposition) {
						return fmt.Errorf("panel %q queries %s, which /metrics does not have", p.Title, m)
					}
				}
			}
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			break
		}
		// The engine's per-site metrics appear with its first checks.
		if time.Now().After(deadline) {
			t.Fatalf("%v\n/metrics:\n%s", err, firstLines(exposition, 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
