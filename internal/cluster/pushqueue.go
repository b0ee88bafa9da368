package cluster

import (
	"context"
	"sync"
	"time"
)

// pushQueue holds the local changes a sync has yet to put into its
// bucket: the latest value per name. One loop (run) pushes them and puts
// a failed push back, unless a newer change came meanwhile, for a retry a
// second later. add never waits for a push: it runs in the store's
// Subscribe callbacks, under the store's lock.
type pushQueue[V any] struct {
	mu      sync.Mutex
	pending map[string]V
	wake    chan struct{} // capacity 1: a dirty flag
}

func newPushQueue[V any]() *pushQueue[V] {
	return &pushQueue[V]{pending: map[string]V{}, wake: make(chan struct{}, 1)}
}

func (q *pushQueue[V]) add(name string, v V) {
	q.mu.Lock()
	q.pending[name] = v
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run pushes queued changes until ctx ends; failed reports a push that
// will be retried.
func (q *pushQueue[V]) run(ctx context.Context, push func(ctx context.Context, name string, v V) error, failed func(name string, err error)) {
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-retry.C:
		}
		q.mu.Lock()
		batch := q.pending
		q.pending = map[string]V{}
		q.mu.Unlock()
		retrying := false
		for name, v := range batch {
			if err := push(ctx, name, v); err != nil {
				if ctx.Err() != nil {
					return
				}
				failed(name, err)
				q.mu.Lock()
				if _, newer := q.pending[name]; !newer {
					q.pending[name] = v
				}
				q.mu.Unlock()
				retrying = true
			}
		}
		if retrying {
			retry.Reset(time.Second)
		}
	}
}
