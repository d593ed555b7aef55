package main

import (
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkPredictHandler measures the /predict handler in-process (no network), per batch size.
func BenchmarkPredictHandler(b *testing.B) {
	dir := modelDir(b, map[string]string{"v1": exampleModel(b, "v1")})
	cfg := testConfig(b, dir)
	ta := newTestApp(b, cfg)
	h := ta.publicHandler()
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 100} {
		rows := make([][]int8, n)
		for i := range rows {
			rows[i] = make([]int8, 117)
			for j := range rows[i] {
				rows[i][j] = int8(rng.Intn(2))
			}
		}
		body := featuresBody(rows, false)
		b.Run(strconv.Itoa(n)+"rows", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}
