package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// Config is the service configuration. Every flag has an environment variable; a flag given
// on the command line wins over the variable, which wins over the default.
type Config struct {
	ModelDir               string
	Host                   string
	Port                   int
	AdminAddr              string // "" when the admin listener is off
	KeyFile                string
	AdminToken             string
	PinVersion             string
	MaxBodyBytes           int64
	MaxRows                int
	MaxJSONDepth           int
	UnknownFeatures        string // "reject" or "ignore"
	KeepVersions           int
	Mmap                   bool
	FollowExternalSymlinks bool
	MaxModelBytes          int64
	LoadTimeout            time.Duration
	MaxInflightBytes       int64
	MaxConcurrent          int
	MaxConnections         int
	BodyReadTimeout        time.Duration
	ShutdownTimeout        time.Duration
	DrainDelay             time.Duration
	FeedbackWindow         int
	FeedbackMemoryRows     int
	LogLevel               slog.Level
	AccessLog              bool
}

// minTokenLength is the shortest admin token accepted: 16 random bytes' worth of guessing.
const minTokenLength = 16

func (c *Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// limits are the request limits of /predict and /feedback.
func (c *Config) limits() predict.Limits {
	ignore, _ := predict.UnknownFeaturesPolicy(c.UnknownFeatures)
	return predict.Limits{MaxRows: c.MaxRows, MaxDepth: c.MaxJSONDepth, IgnoreUnknown: ignore}
}

// parseConfig reads flags (args without the program name) over environment variables.
func parseConfig(args []string, getenv func(string) string, usageOut io.Writer) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet("thetatree-serve", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	var envErrs []error
	str := func(p *string, name, env, def, usage string) {
		if v := getenv(env); v != "" {
			def = v
		}
		fs.StringVar(p, name, def, usage+" (env "+env+")")
	}
	num := func(p *int, name, env string, def int, usage string) {
		if v := getenv(env); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not an integer", env, v))
			}
			def = n
		}
		fs.IntVar(p, name, def, usage+" (env "+env+")")
	}
	boolean := func(p *bool, name, env string, def bool, usage string) {
		if v := getenv(env); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not a boolean", env, v))
			}
			def = b
		}
		fs.BoolVar(p, name, def, usage+" (env "+env+")")
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				envErrs = append(envErrs, fmt.Errorf("%s=%q: not a duration", env, v))
			}
			def = d
		}
		fs.DurationVar(p, name, def, usage+" (env "+env+")")
	}
	var maxBody, maxModel, maxInflight int
	var adminTokenFile, logLevel string
	str(&c.ModelDir, "model-dir", "MODEL_DIR", "", "directory of model versions: <dir>/<version>/model.ttm (required)")
	str(&c.Host, "host", "HOST", "0.0.0.0", "address to listen on")
	num(&c.Port, "port", "PORT", 8080, "TCP port")
	str(&c.AdminAddr, "admin-addr", "ADMIN_ADDR", "127.0.0.1:9090", "host:port of the admin listener (/admin/*), kept off the public port; \"off\" disables it")
	str(&c.KeyFile, "key-file", "MODEL_KEY_FILE", "", "HMAC key file: when set, every model must carry a valid signature for this key")
	str(&c.AdminToken, "admin-token", "ADMIN_TOKEN", "", "bearer token for /admin/*, at least 16 printable characters without spaces; empty disables the admin endpoints (prefer the env var or -admin-token-file: flags are visible in ps)")
	str(&adminTokenFile, "admin-token-file", "ADMIN_TOKEN_FILE", "", "file holding the admin token (trailing newlines ignored)")
	str(&c.PinVersion, "pin-version", "MODEL_VERSION", "", "serve exactly this version instead of the newest")
	num(&maxBody, "max-body-bytes", "MAX_BODY_BYTES", 4<<20, "largest accepted request body; larger gets 413")
	num(&c.MaxRows, "max-rows", "MAX_ROWS", 10000, "most rows in one /predict request; more gets 413")
	num(&c.MaxJSONDepth, "max-json-depth", "MAX_JSON_DEPTH", 32, "deepest JSON nesting accepted (>= 3)")
	str(&c.UnknownFeatures, "unknown-features", "UNKNOWN_FEATURES", "reject", "feature names the model does not know, in \"instances\": reject (400) or ignore")
	num(&c.KeepVersions, "keep-versions", "KEEP_VERSIONS", 3, "previously served versions kept loaded for instant rollback")
	boolean(&c.Mmap, "mmap", "MODEL_MMAP", false, "memory-map model files instead of copying them (then never rewrite a model file in place)")
	boolean(&c.FollowExternalSymlinks, "follow-external-symlinks", "FOLLOW_EXTERNAL_SYMLINKS", false, "serve version directories and model files that are symlinks leading out of the model directory")
	num(&maxModel, "max-model-bytes", "MAX_MODEL_BYTES", 1<<30, "largest model file loaded")
	dur(&c.LoadTimeout, "load-timeout", "LOAD_TIMEOUT", 30*time.Second, "longest wait for a model load (a hung file system); the old version keeps serving")
	num(&maxInflight, "max-inflight-bytes", "MAX_INFLIGHT_BYTES", 64<<20, "budget for the request bodies (and their parsed rows) held at once; past it requests get 503 + Retry-After")
	num(&c.MaxConcurrent, "max-concurrent-requests", "MAX_CONCURRENT_REQUESTS", 64, "most /predict and /feedback requests served at once; past it 503 + Retry-After")
	num(&c.MaxConnections, "max-connections", "MAX_CONNECTIONS", 1024, "most open client connections on the public port; past it new ones get 503 and are closed")
	dur(&c.BodyReadTimeout, "body-read-timeout", "BODY_READ_TIMEOUT", 10*time.Second, "longest time to receive one request body (then 408)")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 25*time.Second, "longest wait for in-flight requests at shutdown")
	dur(&c.DrainDelay, "drain-delay", "DRAIN_DELAY", 3*time.Second, "on SIGTERM, for this long report not-ready and answer every request with Connection: close before closing the listener (keep-alive clients reconnect elsewhere)")
	num(&c.FeedbackWindow, "feedback-window", "FEEDBACK_WINDOW", 1000, "labelled rows per model version in the rolling model_accuracy window")
	num(&c.FeedbackMemoryRows, "feedback-memory-rows", "FEEDBACK_MEMORY_ROWS", 10000, "rows of recent /predict answers remembered for feedback by id (0: feedback by id off)")
	str(&logLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	boolean(&c.AccessLog, "access-log", "ACCESS_LOG", true, "log every request (errors are always logged)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: thetatree-serve [flags]\n       thetatree-serve healthcheck [PATH]\n       thetatree-serve admin reload [VERSION] | rollback | unpin\n\nServes thetatree models over HTTP: POST /predict, /feedback, GET /health, /ready, /metrics,\n/v1/model; on the admin listener POST /admin/reload, /admin/rollback, /admin/unpin.\nSIGHUP reloads, SIGTERM/SIGINT drain and stop.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if len(envErrs) > 0 {
		return nil, errors.Join(envErrs...)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	c.MaxBodyBytes, c.MaxModelBytes, c.MaxInflightBytes = int64(maxBody), int64(maxModel), int64(maxInflight)
	if c.AdminAddr == "off" {
		c.AdminAddr = ""
	}
	if err := c.LogLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", logLevel, err)
	}
	if adminTokenFile != "" {
		b, err := os.ReadFile(adminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("admin token file: %w", err)
		}
		c.AdminToken = strings.TrimRight(string(b), "\r\n")
	}
	if err := checkToken(c.AdminToken); err != nil {
		src := "ADMIN_TOKEN"
		if adminTokenFile != "" {
			src = "admin token file " + adminTokenFile
		}
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	var problems []string
	if c.ModelDir == "" {
		problems = append(problems, "-model-dir (MODEL_DIR) is required")
	}
	if c.Port < 0 || c.Port > 65535 {
		problems = append(problems, "port out of range")
	}
	problems = append(problems, predict.Problems(c.MaxBodyBytes, c.limits())...)
	if _, ok := predict.UnknownFeaturesPolicy(c.UnknownFeatures); !ok {
		problems = append(problems, "unknown-features must be reject or ignore")
	}
	if c.KeepVersions < 0 {
		problems = append(problems, "keep-versions must be >= 0")
	}
	if c.PinVersion != "" && !validVersionName(c.PinVersion) {
		problems = append(problems, "pin-version is not a valid version directory name")
	}
	if c.ShutdownTimeout <= 0 {
		problems = append(problems, "shutdown-timeout must be positive")
	}
	if c.DrainDelay < 0 {
		problems = append(problems, "drain-delay must not be negative")
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			problems = append(problems, fmt.Sprintf("admin-addr %q is not host:port", c.AdminAddr))
		}
	}
	if c.MaxModelBytes < 1024 {
		problems = append(problems, "max-model-bytes must be at least 1024")
	}
	if c.LoadTimeout <= 0 || c.BodyReadTimeout <= 0 {
		problems = append(problems, "load-timeout and body-read-timeout must be positive")
	}
	if c.MaxInflightBytes < 2*c.MaxBodyBytes {
		problems = append(problems, fmt.Sprintf("max-inflight-bytes (%d) must be at least twice max-body-bytes (%d): one largest request must fit", c.MaxInflightBytes, c.MaxBodyBytes))
	}
	if c.MaxConcurrent < 1 || c.MaxConnections < 1 {
		problems = append(problems, "max-concurrent-requests and max-connections must be at least 1")
	}
	if c.FeedbackWindow < 1 || c.FeedbackMemoryRows < 0 {
		problems = append(problems, "feedback-window must be at least 1 and feedback-memory-rows not negative")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// checkToken enforces what makes a bearer token usable and hard to guess: at least
// minTokenLength bytes of printable ASCII without spaces (an inner space or a stray control
// character would make every comparison fail silently).
func checkToken(tok string) error {
	if tok == "" {
		return nil // admin API disabled
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("the admin token has byte %#02x at offset %d: use printable ASCII without spaces", c, i)
		}
	}
	if len(tok) < minTokenLength {
		return fmt.Errorf("the admin token is %d bytes: at least %d required (e.g. openssl rand -hex 32)", len(tok), minTokenLength)
	}
	return nil
}
