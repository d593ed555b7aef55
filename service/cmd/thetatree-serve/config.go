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
)

// Config is the service configuration. Every flag has an environment variable; a flag given
// on the command line wins over the variable, which wins over the default.
type Config struct {
	ModelDir        string
	Host            string
	Port            int
	KeyFile         string
	AdminToken      string
	PinVersion      string
	MaxBodyBytes    int64
	MaxRows         int
	MaxJSONDepth    int
	UnknownFeatures string // "reject" or "ignore"
	KeepVersions    int
	Mmap            bool
	ShutdownTimeout time.Duration
	DrainDelay      time.Duration
	LogLevel        slog.Level
	AccessLog       bool
}

func (c *Config) Addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

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
	var maxBody int
	var adminTokenFile, logLevel string
	str(&c.ModelDir, "model-dir", "MODEL_DIR", "", "directory of model versions: <dir>/<version>/model.ttm (required)")
	str(&c.Host, "host", "HOST", "0.0.0.0", "address to listen on")
	num(&c.Port, "port", "PORT", 8080, "TCP port")
	str(&c.KeyFile, "key-file", "MODEL_KEY_FILE", "", "HMAC key file: when set, every model must carry a valid signature for this key")
	str(&c.AdminToken, "admin-token", "ADMIN_TOKEN", "", "bearer token for /admin/*; empty disables the admin endpoints (prefer the env var or -admin-token-file: flags are visible in ps)")
	str(&adminTokenFile, "admin-token-file", "ADMIN_TOKEN_FILE", "", "file holding the admin token (trailing newlines ignored)")
	str(&c.PinVersion, "pin-version", "MODEL_VERSION", "", "serve exactly this version instead of the newest")
	num(&maxBody, "max-body-bytes", "MAX_BODY_BYTES", 4<<20, "largest accepted request body; larger gets 413")
	num(&c.MaxRows, "max-rows", "MAX_ROWS", 10000, "most rows in one /predict request; more gets 413")
	num(&c.MaxJSONDepth, "max-json-depth", "MAX_JSON_DEPTH", 32, "deepest JSON nesting accepted (>= 3)")
	str(&c.UnknownFeatures, "unknown-features", "UNKNOWN_FEATURES", "reject", "feature names the model does not know, in \"instances\": reject (400) or ignore")
	num(&c.KeepVersions, "keep-versions", "KEEP_VERSIONS", 3, "previously served versions kept loaded for instant rollback")
	boolean(&c.Mmap, "mmap", "MODEL_MMAP", false, "memory-map model files instead of copying them (then never rewrite a model file in place)")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 25*time.Second, "longest wait for in-flight requests at shutdown")
	dur(&c.DrainDelay, "drain-delay", "DRAIN_DELAY", 0, "on SIGTERM, report not-ready for this long before closing the listener (lets load balancers notice)")
	str(&logLevel, "log-level", "LOG_LEVEL", "info", "debug, info, warn or error")
	boolean(&c.AccessLog, "access-log", "ACCESS_LOG", true, "log every request (errors are always logged)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: thetatree-serve [flags]\n\nServes thetatree models over HTTP: POST /predict, GET /health, /ready, /metrics, /v1/model,\nPOST /admin/reload, /admin/rollback. SIGHUP reloads, SIGTERM/SIGINT drain and stop.\n\nFlags:\n")
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
	c.MaxBodyBytes = int64(maxBody)
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
	var problems []string
	if c.ModelDir == "" {
		problems = append(problems, "-model-dir (MODEL_DIR) is required")
	}
	if c.Port < 0 || c.Port > 65535 {
		problems = append(problems, "port out of range")
	}
	if c.MaxBodyBytes < 1024 {
		problems = append(problems, "max-body-bytes must be at least 1024")
	}
	if c.MaxRows < 1 {
		problems = append(problems, "max-rows must be at least 1")
	}
	if c.MaxJSONDepth < 3 || c.MaxJSONDepth > 1000 {
		problems = append(problems, "max-json-depth must be between 3 and 1000")
	}
	if c.UnknownFeatures != "reject" && c.UnknownFeatures != "ignore" {
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
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}
