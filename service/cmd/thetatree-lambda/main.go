// Command thetatree-lambda serves a thetatree model on AWS Lambda (the provided.al2023
// runtime) behind API Gateway: POST /predict and GET /health, answered exactly as
// thetatree-serve answers them (the same internal/predict code).
//
// Build (from service/): CGO_ENABLED=1 go build -tags lambda.norpc -o bootstrap ./cmd/thetatree-lambda
// (deploy/sam/Makefile links it statically). Configuration, from the environment:
//
//	MODEL_PATH        the .ttm file, bundled in the deployment package (relative: to LAMBDA_TASK_ROOT)
//	MODEL_KEY_FILE    optional: require a valid signature made with this HMAC key file
//	MODEL_VERSION     optional: the model_version of the answers (default: the version embedded in the file)
//	MAX_BODY_BYTES    largest body (default 4194304); MAX_ROWS (10000); MAX_JSON_DEPTH (32)
//	UNKNOWN_FEATURES  reject (default) or ignore
//	LOG_LEVEL         debug, info (default), warn, error
//
// The model is loaded once, at init; a model that does not load fails the init (the
// function never answers with a broken model).
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/modelfile"
	"github.com/thetatree/thetatree/service/internal/predict"
)

// maxModelBytes caps the model file read at init (a deployment package is at most 250 MB).
const maxModelBytes = 256 << 20

func main() {
	h, err := newHandler(os.Getenv, os.Stdout)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stderr, nil)).Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.StartHandler(h)
}

// newHandler reads the configuration and loads the model.
func newHandler(getenv func(string) string, logOut io.Writer) (*handler, error) {
	var problems []string
	num := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s=%q: not an integer", name, v))
		}
		return n
	}
	maxBody := int64(num("MAX_BODY_BYTES", 4<<20))
	lim := predict.Limits{MaxRows: num("MAX_ROWS", 10000), MaxDepth: num("MAX_JSON_DEPTH", 32)}
	problems = append(problems, predict.Problems(maxBody, lim)...)
	unknown := getenv("UNKNOWN_FEATURES")
	if unknown == "" {
		unknown = "reject"
	}
	var ok bool
	if lim.IgnoreUnknown, ok = predict.UnknownFeaturesPolicy(unknown); !ok {
		problems = append(problems, fmt.Sprintf("UNKNOWN_FEATURES=%q: reject or ignore", unknown))
	}
	var level slog.Level
	if v := getenv("LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			problems = append(problems, fmt.Sprintf("LOG_LEVEL=%q: %v", v, err))
		}
	}
	path := getenv("MODEL_PATH")
	if path == "" {
		problems = append(problems, "MODEL_PATH is required")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	if !filepath.IsAbs(path) && getenv("LAMBDA_TASK_ROOT") != "" {
		path = filepath.Join(getenv("LAMBDA_TASK_ROOT"), path)
	}
	m, err := loadModel(path, getenv("MODEL_KEY_FILE"), getenv("MODEL_VERSION"))
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level})).With("service", "thetatree-lambda")
	log.Info("model loaded", "path", path, "model_version", m.Version, "digest", m.Digest,
		"signed", m.Lib.IsSigned(), "verified", getenv("MODEL_KEY_FILE") != "", "n_features", m.NFeatures)
	return &handler{model: m, lim: lim, maxBody: maxBody, maxAnswer: maxLambdaResponse - responseSlack, log: log}, nil
}

// loadModel reads a regular model file (never a FIFO or device: internal/modelfile),
// verifies its signature when a key file is given, and validates it.
func loadModel(path, keyFile, version string) (*predict.Model, error) {
	b, _, err := modelfile.Policy{}.ReadFile(path, maxModelBytes)
	if err != nil {
		return nil, fmt.Errorf("MODEL_PATH: %w", err)
	}
	var opts []thetatree.Option
	if keyFile != "" {
		key, err := modelfile.ReadKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("MODEL_KEY_FILE: %w", err)
		}
		opts = append(opts, thetatree.WithKey(key))
	}
	lib, err := thetatree.LoadBytes(b, opts...)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	if version == "" {
		version = lib.Version()
	}
	m, err := predict.NewModel(lib, version)
	if err != nil {
		lib.Close()
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}
