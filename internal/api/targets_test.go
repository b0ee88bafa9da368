package api

import (
	"encoding/json"
	"testing"
	"time"
)

type fakeTargets []Target

func (f fakeTargets) Targets() []Target { return f }

func TestAdminTargets(t *testing.T) {
	since := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	src := fakeTargets{
		{ID: "00000000000000aa", Site: "amazon", Region: "DE", SKU: "B0CHX1W1XY", Outcome: "blocked", Reason: "captcha page",
			Since: &since, Streak: 7, Checks: 9, Proxy: "203.0.113.10:3128", IntervalSeconds: 5, DelaySeconds: 40, Backoff: 8},
		{ID: "00000000000000bb", Site: "amazon", Region: "UK", SKU: "B0CHX1W1XZ", Outcome: "in_stock", Checks: 3},
		{ID: "00000000000000cc", Site: "walmart", Region: "USA", SKU: "5113183757"},
	}
	e := newEnv(t, Config{}, func(d *Deps) { d.Targets = src })
	admin := []string{"Authorization", "Bearer " + e.admin}

	status, body, _ := e.do(t, "GET", "/api/admin/targets", nil, admin...)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var list TargetList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Total != 3 || len(list.Targets) != 3 || list.BySite["amazon"].Targets != 2 ||
		list.BySite["amazon"].ByOutcome["blocked"] != 1 || list.BySite["walmart"].ByOutcome["none"] != 1 {
		t.Errorf("list: %s", body)
	}
	b := list.Targets[0]
	if b.Reason != "captcha page" || b.Since == nil || !b.Since.Equal(since) || b.Proxy != "203.0.113.10:3128" || b.Backoff != 8 {
		t.Errorf("blocked target: %+v", b)
	}
	if list.Targets[2].LastCheck != nil || list.Targets[2].Since != nil {
		t.Errorf("an unchecked target shows times: %+v", list.Targets[2])
	}

	status, body, _ = e.do(t, "GET", "/api/admin/targets?site=amazon&outcome=blocked", nil, admin...)
	list = TargetList{}
	if err := json.Unmarshal([]byte(body), &list); status != 200 || err != nil || list.Total != 3 || len(list.Targets) != 1 || list.Targets[0].ID != "00000000000000aa" {
		t.Errorf("filtered: %d %s", status, body)
	}
	for _, tc := range []struct {
		method, path string
		hdr          []string
		status       int
		want         string
	}{
		{"GET", "/api/admin/targets", nil, 401, `{"error":"missing key"}`},
		{"GET", "/api/admin/targets", []string{"Authorization", "Bearer " + e.sub}, 401, `{"error":"unknown key"}`},
		{"POST", "/api/admin/targets", admin, 405, `{"error":"method not allowed"}`},
		{"GET", "/api/admin/targets/x", admin, 404, `{"error":"not found"}`},
	} {
		if status, body, _ := e.do(t, tc.method, tc.path, nil, tc.hdr...); status != tc.status || body != tc.want+"\n" {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}

	// A node without the engine answers 404.
	e2 := newEnv(t, Config{})
	if status, body, _ := e2.do(t, "GET", "/api/admin/targets", nil, "Authorization", "Bearer "+e2.admin); status != 404 ||
		body != `{"error":"the monitor engine does not run on this node"}`+"\n" {
		t.Errorf("no engine: %d %s", status, body)
	}
}
