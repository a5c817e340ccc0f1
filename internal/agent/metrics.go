package agent

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the agent's Prometheus metrics, named as Prometheus
// recommends: one prefix, base units (seconds), _total for counters,
// _info for labels with a constant 1. The README lists them.
type metrics struct {
	reg *prometheus.Registry

	info           *prometheus.GaugeVec
	releaseApplied prometheus.Gauge
	releaseDesired prometheus.Gauge
	inSync         prometheus.Gauge
	deploying      prometheus.Gauge
	needsReboot    prometheus.Gauge
	lastPoll       prometheus.Gauge
	lastSuccess    prometheus.Gauge
	lastFailure    prometheus.Gauge
	lastFailureAt  *prometheus.GaugeVec
	failures       *prometheus.CounterVec
	deployments    *prometheus.CounterVec
	rollbacks      prometheus.Counter
	fetchFailures  prometheus.Counter
	fetches        prometheus.Counter
	duration       prometheus.Histogram
}

func newMetrics(machine, version string) *metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "nixherd_agent_" + name, Help: help})
	}
	m := &metrics{
		reg:            prometheus.NewRegistry(),
		info:           prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nixherd_agent_info", Help: "The agent's machine and nixherd version (always 1)."}, []string{"machine", "version"}),
		releaseApplied: g("release_applied", "The newest release this machine was brought to or found on (0: none yet)."),
		releaseDesired: g("release_desired", "The release number of the last verified manifest."),
		inSync:         g("in_sync", "1 when the machine runs the path its release names (running and boot default), else 0."),
		deploying:      g("deploying", "1 while a deployment is under way (realise, activate, health checks, confirmation)."),
		needsReboot:    g("needs_reboot", "1 when the running system's kernel, initrd or kernel modules differ from the booted ones."),
		lastPoll:       g("last_poll_timestamp_seconds", "When the last poll ended, in seconds since the epoch."),
		lastSuccess:    g("last_success_timestamp_seconds", "When a poll last ended with the machine on its release, in seconds since the epoch."),
		lastFailure:    g("last_failure_timestamp_seconds", "When a poll last failed, in seconds since the epoch (0: never)."),
		lastFailureAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "nixherd_agent_last_failure_info",
			Help: "The stage of the last failure (always 1; absent when there was none)."}, []string{"stage"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nixherd_agent_failures_total",
			Help: "Polls that failed, by stage (fetch, verify, realise, activate, health, confirm)."}, []string{"stage"}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "nixherd_agent_deployments_total",
			Help: "Deployments attempted, by outcome (switched, ROLLED BACK, failed, refused)."}, []string{"outcome"}),
		rollbacks: prometheus.NewCounter(prometheus.CounterOpts{Name: "nixherd_agent_rollbacks_total",
			Help: "Deployments the watchdog rolled back (activation, health checks or confirmation failed)."}),
		fetchFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "nixherd_agent_manifest_fetch_failures_total",
			Help: "Fetches of the release manifest that failed."}),
		fetches: prometheus.NewCounter(prometheus.CounterOpts{Name: "nixherd_agent_manifest_fetches_total",
			Help: "Fetches of the release manifest attempted."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "nixherd_agent_deployment_duration_seconds",
			Help: "How long deployments took, from realise to the watchdog's end.", Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800}}),
	}
	m.reg.MustRegister(m.info, m.releaseApplied, m.releaseDesired, m.inSync, m.deploying, m.needsReboot, m.lastPoll,
		m.lastSuccess, m.lastFailure, m.lastFailureAt, m.failures, m.deployments, m.rollbacks, m.fetchFailures, m.fetches, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.info.WithLabelValues(machine, version).Set(1)
	// Every stage's counter exists from the start, so rate() sees a zero.
	for _, s := range Stages {
		m.failures.WithLabelValues(string(s))
	}
	return m
}

func boolGauge(g prometheus.Gauge, b bool) {
	if b {
		g.Set(1)
	} else {
		g.Set(0)
	}
}
