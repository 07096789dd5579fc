package kern

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Parallel calls f on consecutive chunks [lo, hi) of [0, n) of grain
// items each (the last may be shorter), spread over GOMAXPROCS
// goroutines, and returns when all are done. The chunks do not depend
// on the number of cores, so a kernel whose chunks write disjoint output
// gives the same bits on any machine.
func Parallel(n, grain int, f func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(1, grain)
	chunks := (n + grain - 1) / grain
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += grain {
			f(lo, min(n, lo+grain))
		}
		return
	}
	var next atomic.Int64
	run := func() {
		for {
			c := int(next.Add(1) - 1)
			if c >= chunks {
				return
			}
			lo := c * grain
			f(lo, min(n, lo+grain))
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(run)
	}
	run()
	wg.Wait()
}

// RowGrain is the chunk size for row-parallel kernels over rows of
// width w: about 16 K values, so that a chunk stays in L1/L2.
func RowGrain(w int) int { return max(16, (1<<14)/max(1, w)) }
