package allreduce_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/levy-ml/levy/allreduce"
)

// Example sums one vector per rank over a ring of three ranks on the
// in-memory network. Each rank runs in its own goroutine, as each worker
// runs in its own process; all of them end with the same sum.
func Example() {
	const size = 3
	net := allreduce.NewMemNetwork(size)
	defer net.Close()

	bufs := [size][]float32{
		{1, 2, 3, 4, 5},
		{10, 20, 30, 40, 50},
		{100, 200, 300, 400, 500},
	}
	errs := make([]error, size)
	var wg sync.WaitGroup
	for rank := range size {
		cfg := allreduce.DefaultConfig()
		cfg.Rank, cfg.Size, cfg.Generation = rank, size, 1
		ring, err := allreduce.New(cfg, net.Transport(rank), nil)
		if err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[rank] = ring.AllReduce(context.Background(), bufs[rank])
		}()
	}
	wg.Wait()
	for rank := range size {
		fmt.Println("rank", rank, bufs[rank], errs[rank])
	}
	// Output:
	// rank 0 [111 222 333 444 555] <nil>
	// rank 1 [111 222 333 444 555] <nil>
	// rank 2 [111 222 333 444 555] <nil>
}

// ExampleMemNetwork_Cut cuts the link from rank 0 to rank 1: no rank can
// finish, and each one's call fails with ErrRingBroken at its deadline
// instead of hanging or returning a wrong sum.
func ExampleMemNetwork_Cut() {
	const size = 3
	net := allreduce.NewMemNetwork(size)
	defer net.Close()
	net.Cut(0, 1)

	errs := make([]error, size)
	var wg sync.WaitGroup
	for rank := range size {
		cfg := allreduce.DefaultConfig()
		cfg.Rank, cfg.Size, cfg.Generation = rank, size, 1
		cfg.Timeout = 50 * time.Millisecond
		ring, err := allreduce.New(cfg, net.Transport(rank), nil)
		if err != nil {
			panic(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[rank] = ring.AllReduce(context.Background(), []float32{1, 2, 3})
		}()
	}
	wg.Wait()
	for rank, err := range errs {
		fmt.Println("rank", rank, "ring broken:", errors.Is(err, allreduce.ErrRingBroken))
	}
	// Output:
	// rank 0 ring broken: true
	// rank 1 ring broken: true
	// rank 2 ring broken: true
}
