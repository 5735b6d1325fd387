package collect

import (
	"context"
	"sync"
	"time"
)

// DoneCounter counts finished nodes for a progress callback (nil: no
// counting), safe for concurrent use.
type DoneCounter struct {
	mu               sync.Mutex
	total, n, failed int
	report           func(done, total, failed int)
}

// NewDoneCounter counts up to total for report.
func NewDoneCounter(total int, report func(done, total, failed int)) *DoneCounter {
	return &DoneCounter{total: total, report: report}
}

// Done records one finished node.
func (c *DoneCounter) Done(failed bool) {
	if c.report == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if failed {
		c.failed++
	}
	c.report(c.n, c.total, c.failed)
}

// ForEach calls fn for every index in [0,n) with at most concurrency calls
// running at once, and returns when all have finished. fn must record its
// own result (by index) and never fail the others: one broken node is a row
// in the output, not an error for the run.
func ForEach(ctx context.Context, n, concurrency int, fn func(ctx context.Context, i int)) {
	ForEachBounded(ctx, n, concurrency, 0, fn)
}

// ForEachBounded is ForEach for calls that may hang (an exec into a stuck
// agent): a call still running after slowAfter gives its slot back, so a
// handful of stuck nodes cannot starve the healthy ones, while never more
// than 4×concurrency calls are in flight. Calls are not retried: a stuck
// node simply ends with its own deadline. slowAfter <= 0 disables this.
func ForEachBounded(ctx context.Context, n, concurrency int, slowAfter time.Duration, fn func(ctx context.Context, i int)) {
	if n == 0 {
		return
	}
	if concurrency < 1 {
		concurrency = 1
	}
	slots := make(chan struct{}, concurrency)
	inflight := make(chan struct{}, 4*concurrency)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		slots <- struct{}{}
		inflight <- struct{}{}
		wg.Add(1)
		done := make(chan struct{})
		go func(i int) {
			defer wg.Done()
			defer func() { <-inflight }()
			defer close(done)
			fn(ctx, i)
		}(i)
		go func() {
			if slowAfter <= 0 {
				<-done
			} else {
				t := time.NewTimer(slowAfter)
				select {
				case <-done:
				case <-t.C:
				}
				t.Stop()
			}
			<-slots
		}()
	}
	wg.Wait()
}
