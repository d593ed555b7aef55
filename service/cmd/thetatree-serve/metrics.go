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
	shed         *prometheus.CounterVec // reason: concurrency, memory, connections
	authFailures *prometheus.CounterVec // result: missing_token, wrong_token, rate_limited
	accuracy     *prometheus.GaugeVec   // version: the guide's model_accuracy
	feedbackRows *prometheus.CounterVec // version, result: correct, wrong
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
			Help: "Reload attempts (startup, SIGHUP, /admin/reload) by result: success (a new version serves), unchanged, failure (refused or timed out; the old version keeps serving), busy (a load was already running), superseded (a rollback happened meanwhile). Requests for unknown or invalid names are not counted.",
		}, []string{"result"}),
		loadFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_model_load_failures_total",
			Help: "Model versions refused at load, by reason (unsigned, key_mismatch, bad_signature, checksum, not_regular_file, timeout, ...); a refused version is counted once until its file changes.",
		}, []string{"reason"}),
		rollbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_model_rollbacks_total",
			Help: "Rollback attempts by result.",
		}, []string{"result"}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_requests_shed_total",
			Help: "Requests refused for capacity (503 + Retry-After), by reason: concurrency (MAX_CONCURRENT_REQUESTS), memory (MAX_INFLIGHT_BYTES), connections (MAX_CONNECTIONS).",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_admin_auth_failures_total",
			Help: "Admin requests refused for their token: missing_token, wrong_token, rate_limited (429).",
		}, []string{"result"}),
		accuracy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "model_accuracy",
			Help: "Share of correct predictions among the last FEEDBACK_WINDOW labelled rows (POST /feedback) of each model version (the deployment guide's gauge).",
		}, []string{"version"}),
		feedbackRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "thetatree_feedback_rows_total",
			Help: "Labelled rows received through POST /feedback, by the version that predicted them and result (correct, wrong).",
		}, []string{"version", "result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inflight, m.rows, m.rowsPerReq, m.inputErrors,
		m.modelInfo, m.modelLoaded, m.reloads, m.loadFailures, m.rollbacks, m.shed, m.authFailures,
		m.accuracy, m.feedbackRows,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"success", "failure", "unchanged", "busy", "superseded"} {
		m.reloads.WithLabelValues(r)
	}
	for _, r := range []string{"concurrency", "memory", "connections"} {
		m.shed.WithLabelValues(r)
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
	m.modelInfo.WithLabelValues(s.Version, s.Digest, s.embeddedVersion,
		strconv.FormatBool(s.signed), strconv.FormatBool(s.verified)).Set(1)
	m.modelLoaded.Set(float64(s.loadedAt.UnixNano()) / 1e9)
}

// observeLimits exports how much of the request limits is in use.
func (m *Metrics) observeLimits(a *app) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thetatree_request_bytes_in_use",
			Help: "Request memory reserved by requests in flight (bodies and parsed rows), against MAX_INFLIGHT_BYTES.",
		}, func() float64 { return float64(a.budget.used.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "thetatree_request_bytes_limit",
			Help: "MAX_INFLIGHT_BYTES.",
		}, func() float64 { return float64(a.budget.limit) }),
	)
}
