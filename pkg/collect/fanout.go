package collect

import (
	"context"
	"sync"
)

// ForEach calls fn for every index in [0,n) with at most concurrency calls
// running at once, and returns when all have finished. fn must record its
// own result (by index) and never fail the others: one broken node is a row
// in the output, not an error for the run.
func ForEach(ctx context.Context, n, concurrency int, fn func(ctx context.Context, i int)) {
	if concurrency < 1 {
		concurrency = 1
	}
	if concurrency > n {
		concurrency = n
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(ctx, i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
