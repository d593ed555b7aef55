package main

import "time"

// Error codes of the service beyond those of the /predict body (internal/predict). Stable:
// clients, the metrics and the logs use them.
const (
	codeOverloaded         = "overloaded"           // 503: MAX_CONCURRENT_REQUESTS or MAX_INFLIGHT_BYTES
	codeTooManyConnections = "too_many_connections" // 503: MAX_CONNECTIONS
	codeBodyTimeout        = "body_timeout"         // 408: the body did not arrive within BODY_READ_TIMEOUT
	codeRequestTimeout     = "request_timeout"      // 408: the headers did not arrive in time
	codeBadRequest         = "bad_request"          // 400: malformed HTTP (request line, headers)
	codeHeaderTooLarge     = "header_too_large"     // 431
	codeNotImplemented     = "not_implemented"      // 501: unknown transfer coding
	codeExpectationFailed  = "expectation_failed"   // 417
	codeHTTPVersion        = "http_version_not_supported"
	codeUnauthorized       = "unauthorized"
	codeAuthLimited        = "too_many_auth_failures" // 429
	codeAdminDisabled      = "admin_disabled"
	codeShuttingDown       = "shutting_down"
	codeReloadRefused      = "reload_refused"
	codeReloadBusy         = "reload_in_progress"
	codeLoadTimeout        = "load_timeout"
	codeReloadSuperseded   = "reload_superseded"
	codeRollbackRefused    = "rollback_refused"
	codeUnknownVersion     = "unknown_version"
	codeInvalidVersion     = "invalid_version"
)

// readHeaderTimeout is how long a client has to send the request line and headers.
const readHeaderTimeout = 10 * time.Second
