package collect

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEachVisitsAllWithinConcurrency(t *testing.T) {
	var running, peak, visited atomic.Int32
	seen := make([]bool, 100)
	ForEach(context.Background(), 100, 7, func(_ context.Context, i int) {
		cur := running.Add(1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		seen[i] = true
		visited.Add(1)
		running.Add(-1)
	})
	if visited.Load() != 100 {
		t.Fatalf("visited %d, want 100", visited.Load())
	}
	for i, s := range seen {
		if !s {
			t.Fatalf("index %d not visited", i)
		}
	}
	if peak.Load() > 7 {
		t.Fatalf("peak concurrency %d > 7", peak.Load())
	}
}

func TestForEachBoundedStuckCallsDoNotStarveOthers(t *testing.T) {
	// 2 slots, the first two calls hang until released: without slot
	// release the other 20 would wait for them.
	release := make(chan struct{})
	var fast atomic.Int32
	allFast := make(chan struct{})
	go func() {
		ForEachBounded(context.Background(), 22, 2, 20*time.Millisecond, func(_ context.Context, i int) {
			if i < 2 {
				<-release
				return
			}
			if fast.Add(1) == 20 {
				close(allFast)
			}
		})
	}()
	select {
	case <-allFast:
	case <-time.After(5 * time.Second):
		t.Fatalf("healthy calls starved behind stuck ones: %d/20 done", fast.Load())
	}
	close(release)
}
