package main

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's Prometheus metrics, on a registry of their own (one per app, so
// tests can run several apps in one process).
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec   // handler, code
	latency      *prometheus.HistogramVec // handler
	inflight     prometheus.Gauge
	rows         prometheus.Counter
	rowsPerReq   prometheus.Histogram
	inputErrors  *prometheus.CounterVec // code
	modelInfo    *prometheus.GaugeVec   // version, digest, embedded_version, signed, verified
	modelLoaded  prometheus.Gauge       // unix time the current model was loaded
	reloads      *prometheus.CounterVec // result: success, failure, unchanged
	loadFailures *prometheus.CounterVec // reason
	rollbacks    *prometheus.CounterVec // result
}

func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_http_requests_total",
			Help: "HTTP requests by handler and status code.",
		}, []string{"handler", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "thetatree_http_request_duration_seconds",
			Help:    "Time from request start to the end of the response, by handler.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"handler"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "thetatree_http_requests_in_flight",
			Help: "Requests being served.",
		}),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "thetatree_predict_rows_total",
			Help: "Rows predicted successfully.",
		}),
		rowsPerReq: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "thetatree_predict_request_rows",
			Help:    "Rows per successful /predict request.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000},
		}),
		inputErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_predict_rejected_total",
			Help: "/predict requests rejected, by error code (invalid_json, bad_value, wrong_width, ...).",
		}, []string{"code"}),
		modelInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "thetatree_model_info",
			Help: "The model being served (value 1), with its version and SHA-256 digest as labels.",
		}, []string{"version", "digest", "embedded_version", "signed", "verified"}),
		modelLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "thetatree_model_loaded_timestamp_seconds",
			Help: "Unix time at which the served model was loaded (0: none).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_model_reloads_total",
			Help: "Reload attempts (startup, SIGHUP, /admin/reload) by result: success (a new version serves), unchanged, failure (refused; the old version keeps serving).",
		}, []string{"result"}),
		loadFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_model_load_failures_total",
			Help: "Model versions refused at load, by reason (unsigned, key_mismatch, bad_signature, checksum, ...).",
		}, []string{"reason"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_model_rollbacks_total",
			Help: "Rollback attempts by result.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inflight, m.rows, m.rowsPerReq, m.inputErrors,
		m.modelInfo, m.modelLoaded, m.reloads, m.loadFailures, m.rollbacks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"success", "failure", "unchanged"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"success", "failure"} {
		m.rollbacks.WithLabelValues(r)
	}
	return m
}

// setModel publishes the served model (nil: none).
func (m *Metrics) setModel(s *servedModel) {
	m.modelInfo.Reset()
	if s == nil {
		m.modelLoaded.Set(0)
		return
	}
	m.modelInfo.WithLabelValues(s.version, s.digest, s.embeddedVersion,
		strconv.FormatBool(s.signed), strconv.FormatBool(s.verified)).Set(1)
	m.modelLoaded.Set(float64(s.loadedAt.UnixNano()) / 1e9)
}
