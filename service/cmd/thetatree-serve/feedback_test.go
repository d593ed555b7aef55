package main

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/thetatree/thetatree/service/internal/predict"
)

func feedback(t *testing.T, ta *testApp, body string) (int, feedbackAnswer, []byte) {
	t.Helper()
	code, b := ta.post(t, "/feedback", body)
	var ans feedbackAnswer
	if code == 200 {
		if err := json.Unmarshal(b, &ans); err != nil {
			t.Fatalf("feedback answer: %v: %s", err, b)
		}
	}
	return code, ans, b
}

func labelsJSON(l []int32) string {
	parts := make([]string, len(l))
	for i, v := range l {
		parts[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestFeedbackAccuracy: labelled rows (sent again, or by the id of an earlier answer) feed
// a rolling window per version, exported as the guide's model_accuracy gauge.
func TestFeedbackAccuracy(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-feedback-window", "8"))
	rng := rand.New(rand.NewSource(5))
	rows := make([][]int8, 4)
	for i := range rows {
		rows[i] = make([]int8, 117)
		for j := range rows[i] {
			rows[i][j] = int8(rng.Intn(2))
		}
	}
	pred, _ := libraryPredict(t, exampleModel(t, "v1"), rows)
	truth := append([]int32(nil), pred...)
	truth[3] = 1 - truth[3] // one of four predictions wrong
	features := featuresBody(rows, false)
	body := strings.TrimSuffix(features, "}") + `,"labels":` + labelsJSON(truth) + "}"
	code, ans, b := feedback(t, ta, body)
	if code != 200 || ans.Accepted != 4 || ans.Accuracy["v1"] != (versionAccuracy{Accuracy: 0.75, Rows: 4}) {
		t.Fatalf("feedback by features: %d %s", code, b)
	}
	if !metric(t, ta, `model_accuracy{version="v1"} 0.75`) || !metric(t, ta, `thetatree_feedback_rows_total{result="wrong",version="v1"} 1`) {
		t.Error("gauge or counters not exported")
	}

	// By id: the rows of an earlier answer, by its X-Request-Id.
	req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/predict", strings.NewReader(features))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "batch-7")
	resp, err := ta.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/predict: %v %v", err, resp)
	}
	resp.Body.Close()
	ids := `["batch-7/0","batch-7/1","batch-7/2","batch-7/3","batch-7/4","nope/0"]`
	code, ans, b = feedback(t, ta, `{"ids":`+ids+`,"labels":`+strings.TrimSuffix(labelsJSON(truth), "]")+`,1,0]}`)
	// The window of 8 now holds both batches: 6 of 8 correct (the unmatched ids count for nothing).
	if code != 200 || ans.Accepted != 4 || ans.Unmatched != 2 || ans.Accuracy["v1"] != (versionAccuracy{Accuracy: 0.75, Rows: 8}) {
		t.Fatalf("feedback by id: %d %s", code, b)
	}
	code, ans, b = feedback(t, ta, `{"ids":["batch-7/0"],"labels":[1]}`)
	if code != 200 || ans.Accepted != 0 || ans.Duplicates != 1 {
		t.Fatalf("feedback twice for one row: %d %s", code, b)
	}
	// The window rolls: 8 correct rows push the wrong ones out.
	right := strings.TrimSuffix(featuresBody(append(rows[:3:3], rows[:3]...), false), "}") +
		`,"labels":` + labelsJSON(append(pred[:3:3], pred[:3]...)) + "}"
	feedback(t, ta, right)
	if code, ans, b = feedback(t, ta, right); code != 200 || ans.Accuracy["v1"] != (versionAccuracy{Accuracy: 1, Rows: 8}) {
		t.Fatalf("rolling window: %d %s", code, b)
	}
	if !metric(t, ta, `model_accuracy{version="v1"} 1`) {
		t.Error("gauge not updated")
	}

	// A new version gets its own window; answers of v1 still count for v1.
	publishVersion(t, dir, "v2", exampleModel(t, "v2"))
	if _, err := ta.reg.Reload(""); err != nil || ta.reg.Current().Version != "v2" {
		t.Fatal(err)
	}
	instances := `{"instances":[{"odor=n":1}],"labels":[0]}`
	if code, ans, b = feedback(t, ta, instances); code != 200 || ans.Accuracy["v2"].Rows != 1 || ans.Accuracy["v1"].Rows != 0 {
		t.Fatalf("feedback for v2: %d %s", code, b)
	}
}

// TestFeedbackValidation: feedback bodies go through the same parser and limits as /predict,
// with errors naming the row.
func TestFeedbackValidation(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir))
	for _, c := range []struct {
		body string
		code string
		row  int
	}{
		{`{"instances":[{}]}`, predict.CodeBadShape, -1},
		{`{"instances":[{},{}],"labels":[1]}`, predict.CodeBadShape, -1},
		{`{"instances":[{},{}],"labels":[1,2]}`, predict.CodeBadLabel, 1},
		{`{"instances":[{}],"labels":[null]}`, predict.CodeBadLabel, 0},
		{`{"instances":[{}],"labels":[[0]]}`, predict.CodeBadLabel, 0},
		{`{"ids":["a/0","b"],"labels":[1,1]}`, predict.CodeBadValue, 1},
		{`{"ids":["a/0",7],"labels":[1,1]}`, predict.CodeBadValue, 1},
		{`{"ids":[],"instances":[],"labels":[]}`, predict.CodeBadShape, -1},
		{`{"labels":[1],"extra":1}`, predict.CodeUnknownField, -1},
		{`{"instances":[{"odor=zz":1}],"labels":[1]}`, predict.CodeUnknownFeature, 0},
	} {
		code, _, b := feedback(t, ta, c.body)
		e := decodeError(t, b)
		if code != 400 || e.Error.Code != c.code || (c.row >= 0 && (e.Error.Row == nil || *e.Error.Row != c.row)) {
			t.Errorf("%s: %d %s", c.body, code, b)
		}
	}
	// /predict does not take labels.
	if code, b := ta.post(t, "/predict", `{"instances":[{}],"labels":[1]}`); code != 400 || decodeError(t, b).Error.Code != predict.CodeUnknownField {
		t.Errorf("/predict with labels: %d %s", code, b)
	}
}

// TestPredictLogFields: the access log line of a prediction carries the deployment guide's
// structured fields.
func TestPredictLogFields(t *testing.T) {
	dir := modelDir(t, map[string]string{"v1": exampleModel(t, "v1")})
	ta := newTestApp(t, testConfig(t, dir, "-access-log=true"))
	req, _ := http.NewRequest(http.MethodPost, ta.srv.URL+"/predict", strings.NewReader(`{"instances":[{"odor=n":1},{}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-42")
	resp, err := ta.srv.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", err, resp)
	}
	resp.Body.Close()
	for _, line := range strings.Split(ta.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" || rec["request_id"] != "req-42" {
			continue
		}
		shape, _ := rec["input_shape"].([]any)
		if rec["model_version"] != "v1" || len(shape) != 2 || shape[0] != 2.0 || shape[1] != 117.0 ||
			rec["predictions_count"] != 2.0 || rec["latency_seconds"] == nil || rec["status"] != 200.0 {
			t.Fatalf("log line lacks the guide's fields: %s", line)
		}
		return
	}
	t.Fatalf("no log line for req-42:\n%s", ta.logs.String())
}
