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

// RegisterMetrics exports the node's raft state on reg, read at scrape
// time: levy_coordinator_raft_state (0 follower, 1 candidate, 2 leader,
// 3 shut down: raft.RaftState), levy_coordinator_raft_leader (1 on the
// leader) and levy_coordinator_raft_last_index.
func (n *Node) RegisterMetrics(reg prometheus.Registerer) {
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "levy_coordinator_raft_state",
		Help: "Raft state of this coordinator: 0 follower, 1 candidate, 2 leader, 3 shut down."},
		func() float64 { return float64(n.raft.State()) })
	leader := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "levy_coordinator_raft_leader",
		Help: "1 while this coordinator is the raft leader."},
		func() float64 {
			if n.IsLeader() {
				return 1
			}
			return 0
		})
	last := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "levy_coordinator_raft_last_index",
		Help: "Index of the last raft log entry on this coordinator."},
		func() float64 { return float64(n.raft.LastIndex()) })
	reg.MustRegister(state, leader, last)
}
