package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// TestRunDemoWebhook follows the demo's webhook lines verbatim: the
// printed curl (the relay's example body) reaches a `watch` on the
// realtime /ws URL and the printed SSE URL, and feeds and usage can be
// listed through the running server.
func TestRunDemoWebhook(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testutil.SyncBuffer
	done := make(chan int, 1)
	go func() {
		done <- realMain(ctx, []string{"run", "--data", dir, "--ws-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0", "--log-level", "warn"}, &out, &errOut)
	}()
	ingestRE := regexp.MustCompile(`curl -X POST (http://[0-9.:]+/api/in/demo-[0-9a-f]+) \\\s+-H 'Content-Type: application/json' \\\s+-d '(\{"event": "user.signup", "email": "test@example.com"\})'`)
	sseRE := regexp.MustCompile(`http://[0-9.:]+/api/events/stream\?token=sfk_[0-9A-Za-z]+`)
	rtRE := regexp.MustCompile(`ws://[0-9.:]+/ws\?token=sfk_[0-9A-Za-z]+`)
	var m []string
	var sseURL, rtURL string
	testutil.Eventually(t, 20*time.Second, 20*time.Millisecond, func() error {
		s := out.String()
		m, sseURL, rtURL = ingestRE.FindStringSubmatch(s), sseRE.FindString(s), rtRE.FindString(s)
		if m == nil || sseURL == "" || rtURL == "" {
			return fmt.Errorf("demo output lacks the webhook lines:\n%s", s)
		}
		return nil
	})

	resp, err := http.Get(sseURL)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("SSE URL: %v %v", resp, err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		var wout, werr testutil.SyncBuffer
		realMain(ctx, []string{"watch", "-n", "1", rtURL}, &wout, &werr)
		got <- wout.String() + werr.String()
	}()
	watched := postUntilWatched(t, got, m[1], "", m[2], http.StatusOK)
	if !strings.Contains(watched, "subscribed *") || !strings.Contains(watched, `webhook   id=`) ||
		!strings.Contains(watched, `{"event":"user.signup","email":"test@example.com"}`) || strings.Contains(watched, "INVALID") {
		t.Fatalf("watch on /ws printed %q", watched)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"type":"webhook"`) || !strings.Contains(line, `"payload":{"event":"user.signup","email":"test@example.com"}`) {
				t.Fatalf("SSE data %q", line)
			}
			break
		}
	}

	code, list, errList := run(t, "feeds", "list", "--data", dir)
	if code != 0 || !strings.Contains(list, "demo-webhooks  webhook") {
		t.Fatalf("feeds list while running: %d %q %q", code, list, errList)
	}
	code, csv, errCSV := run(t, "keys", "usage", "--csv", "--data", dir)
	if code != 0 || !strings.HasPrefix(csv, "month,feed,key_id,") || !strings.Contains(csv, ",demo-webhooks,,feed,") {
		t.Fatalf("keys usage --csv while running: %d %q %q", code, csv, errCSV)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("run did not stop")
	}
}

// postUntilWatched posts body (as JSON, with a Bearer token if given)
// until the watcher reports what it printed, and returns that: the watcher
// may not be connected or subscribed yet when the first posts go out.
func postUntilWatched(t *testing.T, got <-chan string, url, token, body string, status int) string {
	t.Helper()
	for range 100 {
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("POST %s: %d, want %d", url, resp.StatusCode, status)
		}
		select {
		case out := <-got:
			return out
		case <-time.After(200 * time.Millisecond):
		}
	}
	return ""
}
