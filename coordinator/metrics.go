package coordinator

import "github.com/prometheus/client_golang/prometheus"

// Metrics are a coordinator's Prometheus series.
type Metrics struct {
	Workers     prometheus.Gauge
	Step        prometheus.Gauge
	Loss        prometheus.Gauge
	StepsPerSec prometheus.Gauge
	AllReduceMS prometheus.Gauge
	Generation  prometheus.Gauge
	Checkpoint  prometheus.Gauge
	Failures    prometheus.Counter
}

// NewMetrics registers a coordinator's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	m := &Metrics{
		Workers:     g("levy_coordinator_workers", "Workers in the current job."),
		Step:        g("levy_coordinator_job_step", "Steps completed by the current job."),
		Loss:        g("levy_coordinator_job_loss", "Mean training loss over the last progress report."),
		StepsPerSec: g("levy_coordinator_job_steps_per_second", "Training speed over the last progress report."),
		AllReduceMS: g("levy_coordinator_allreduce_milliseconds", "Mean all-reduce time per step over the last progress report."),
		Generation:  g("levy_coordinator_generation", "Ring generation of the current job."),
		Checkpoint:  g("levy_coordinator_checkpoint_step", "Step of the newest checkpoint."),
		Failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "levy_coordinator_rank_failures_total",
			Help: "Ranks that reported a failure."}),
	}
	reg.MustRegister(m.Workers, m.Step, m.Loss, m.StepsPerSec, m.AllReduceMS, m.Generation, m.Checkpoint, m.Failures)
	return m
}
