package worker

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a training worker's Prometheus series, labelled with the
// worker's ID.
type Metrics struct {
	Step             prometheus.Gauge
	Loss             prometheus.Gauge
	StepSeconds      prometheus.Histogram
	AllReduceSeconds prometheus.Histogram
	BusBandwidth     prometheus.Gauge
	Generation       prometheus.Gauge
	Rank             prometheus.Gauge
	World            prometheus.Gauge
	Skipped          prometheus.Counter
	Checkpoints      prometheus.Counter
}

// NewMetrics registers a worker's series on reg.
func NewMetrics(reg prometheus.Registerer, workerID string) *Metrics {
	l := prometheus.Labels{"worker": workerID}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: l})
	}
	h := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: l,
			Buckets: prometheus.ExponentialBuckets(1e-4, 2, 18)}) // 0.1 ms … 13 s
	}
	m := &Metrics{
		Step:             g("levy_worker_step", "Optimizer steps completed in the current job."),
		Loss:             g("levy_worker_loss", "Training loss of the last step, averaged over the ring."),
		StepSeconds:      h("levy_worker_step_seconds", "Wall time of one training step (data, forward, backward, all-reduce, update)."),
		AllReduceSeconds: h("levy_worker_allreduce_seconds", "Wall time of one gradient all-reduce."),
		BusBandwidth:     g("levy_worker_allreduce_busbw_bytes_per_second", "Bus bandwidth of the last all-reduce: 2(N−1)/N · bytes / time (nccl-tests' definition)."),
		Generation:       g("levy_worker_generation", "Ring generation of the current job."),
		Rank:             g("levy_worker_rank", "This worker's rank in the current ring."),
		World:            g("levy_worker_world_size", "Workers in the current ring."),
		Skipped:          prometheus.NewCounter(prometheus.CounterOpts{Name: "levy_worker_skipped_steps_total", Help: "Steps skipped for a non-finite gradient.", ConstLabels: l}),
		Checkpoints:      prometheus.NewCounter(prometheus.CounterOpts{Name: "levy_worker_checkpoints_total", Help: "Checkpoints written by this worker.", ConstLabels: l}),
	}
	reg.MustRegister(m.Step, m.Loss, m.StepSeconds, m.AllReduceSeconds, m.BusBandwidth, m.Generation,
		m.Rank, m.World, m.Skipped, m.Checkpoints)
	return m
}
