package predict

import (
	"encoding/json"
	"fmt"

	thetatree "github.com/thetatree/thetatree/bindings/go"
)

// Model is one loaded model plus what the request path needs, computed once at load time.
// It is immutable; the caller owns Lib (and closes it when no request uses it any more).
type Model struct {
	Lib          *thetatree.Model
	Version      string // what the answers report as model_version
	Digest       string // SHA-256 of the model bytes (hex)
	NFeatures    int
	FeatureNames []string
	FeatureIndex map[string]int
	Classes      []string

	// Pre-encoded JSON fragments of the answer.
	versionJSON []byte
	digestJSON  []byte

	// For explanations (explain.go): the split rules by node, the names as JSON strings.
	maxDepth    int
	nodes       []nodeRule
	nameJSON    [][]byte
	maxNameJSON int
}

// NewModel wraps a loaded model that will answer as `version`. It runs one all-missing row
// through the prediction and explanation calls first: a model that cannot answer never
// serves.
func NewModel(lib *thetatree.Model, version string) (*Model, error) {
	m := &Model{
		Lib:          lib,
		Version:      version,
		Digest:       lib.DigestHex(),
		NFeatures:    lib.NFeatures(),
		FeatureNames: lib.FeatureNames(),
		Classes:      lib.ClassLabels(),
	}
	if m.NFeatures <= 0 || len(m.FeatureNames) != m.NFeatures {
		return nil, fmt.Errorf("model reports %d features but %d names", m.NFeatures, len(m.FeatureNames))
	}
	m.FeatureIndex = make(map[string]int, m.NFeatures)
	for i, n := range m.FeatureNames {
		m.FeatureIndex[n] = i
	}
	m.versionJSON, _ = json.Marshal(version)
	m.digestJSON, _ = json.Marshal(m.Digest)
	row := make([]int8, m.NFeatures)
	for i := range row {
		row[i] = -1
	}
	if err := lib.PredictInto(row, 1, make([]int32, 1)); err != nil {
		return nil, fmt.Errorf("smoke prediction failed: %w", err)
	}
	if err := lib.PredictProbaInto(row, 1, make([]float64, 2)); err != nil {
		return nil, fmt.Errorf("smoke prediction failed: %w", err)
	}
	if err := m.explainTables(); err != nil {
		return nil, err
	}
	if _, err := lib.DecisionPath(row); err != nil {
		return nil, fmt.Errorf("smoke explanation failed: %w", err)
	}
	if err := lib.PredictContribInto(row, 1, make([]float64, m.NFeatures+1)); err != nil {
		return nil, fmt.Errorf("smoke explanation failed: %w", err)
	}
	return m, nil
}
