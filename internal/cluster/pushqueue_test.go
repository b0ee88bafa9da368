package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestPushQueue: every change is pushed; a failed push is retried with
// its value unless a newer change for the name came in the meantime.
func TestPushQueue(t *testing.T) {
	q := newPushQueue[int]()
	var mu sync.Mutex
	pushed := map[string][]int{}
	failOnce := map[string]bool{"a": true, "b": true}
	push := func(_ context.Context, name string, v int) error {
		mu.Lock()
		defer mu.Unlock()
		if failOnce[name] {
			failOnce[name] = false
			if name == "b" {
				// A newer change arrives while b's push fails (add
				// never waits for a push).
				q.add("b", 2)
			}
			return errors.New("bucket unavailable")
		}
		pushed[name] = append(pushed[name], v)
		return nil
	}
	var failures sync.Map
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.run(ctx, push, func(name string, err error) { failures.Store(name, err) })
	}()
	defer func() { cancel(); <-done }()

	q.add("a", 1)
	q.add("b", 1)
	q.add("c", 1)
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pushed["a"]) > 0 && len(pushed["b"]) > 0 && len(pushed["c"]) > 0
	})
	mu.Lock()
	got := fmt.Sprint(pushed["a"], pushed["b"], pushed["c"])
	mu.Unlock()
	if got != "[1] [2] [1]" {
		t.Errorf("pushed a, b, c = %s, want [1] [2] [1]: a retried, b's newer value instead of the failed one", got)
	}
	for _, name := range []string{"a", "b"} {
		if _, ok := failures.Load(name); !ok {
			t.Errorf("failed push of %s not reported", name)
		}
	}
}
