package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/predict"
)

// healthAnswer is GET /health: the deployment guide's keys (status "healthy", model_loaded),
// so clients of the guide's Flask app keep working, plus the served version.
type healthAnswer struct {
	Status       string `json:"status"`
	ModelLoaded  bool   `json:"model_loaded"`
	ModelVersion string `json:"model_version,omitempty"`
}

// handleHealth is liveness: 200 while the process serves HTTP, model or not (readiness is
// /ready).
func (a *app) handleHealth(w *respWriter, r *http.Request) {
	s := a.reg.Current()
	a.writeJSON(w, http.StatusOK, healthAnswer{Status: "healthy", ModelLoaded: s != nil, ModelVersion: versionOf(s)})
}

func (a *app) handleReady(w *respWriter, r *http.Request) {
	if a.shuttingDown.Load() {
		a.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting_down"})
		return
	}
	s := a.reg.Current()
	if s == nil {
		a.writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no_model"})
		return
	}
	a.writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "model_version": s.Version,
		"model_digest": s.Digest, "verified": s.verified})
}

// inputHelp is /v1/model's "input": how to write a /predict body.
var inputHelp = "values 0 (absent), 1 (present), -1 or null (missing); \"features\" rows in this feature order, " +
	"or \"instances\" objects by feature name (absent names = 0); " +
	fmt.Sprintf("\"explain\": true adds each row's leaf, path and top contributions (\"top_k\" 1-%d, default %d)",
		predict.MaxTopK, predict.DefaultTopK)

// modelInfo is GET /v1/model.
type modelInfo struct {
	Version         string          `json:"version"`
	EmbeddedVersion string          `json:"embedded_version"`
	Digest          string          `json:"digest"`
	Signed          bool            `json:"signed"`
	Verified        bool            `json:"verified"`
	LoadedAt        time.Time       `json:"loaded_at"`
	NFeatures       int             `json:"n_features"`
	Features        []string        `json:"features"`
	Classes         []string        `json:"classes"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	Pinned          string          `json:"pinned_version,omitempty"`
	RollbackTargets []string        `json:"rollback_versions"`
	Input           string          `json:"input"`
	LibraryVersion  string          `json:"library_version"`
}

func (a *app) handleModel(w *respWriter, r *http.Request) {
	s := a.reg.Current()
	if s == nil {
		a.writeError(w, predict.Errorf(http.StatusServiceUnavailable, predict.CodeNoModel, "no model is loaded"))
		return
	}
	a.writeJSON(w, http.StatusOK, modelInfo{
		Version: s.Version, EmbeddedVersion: s.embeddedVersion, Digest: s.Digest, Signed: s.signed,
		Verified: s.verified, LoadedAt: s.loadedAt, NFeatures: s.NFeatures, Features: s.FeatureNames,
		Classes: s.Classes, Metadata: s.metadata, Pinned: a.reg.Pin(), RollbackTargets: a.reg.History(),
		LibraryVersion: thetatree.LibraryVersion(),
		Input:          inputHelp,
	})
}
