// Command openloop offers a fixed request rate to a /predict endpoint and reports the latency
// distribution: requests are due at fixed intervals whatever the answers do (an open loop,
// unlike wrk's closed loop of connections that each wait for their answer), and each latency
// is measured from the moment the request was due, so time spent queueing behind a slow
// answer counts (no coordinated omission). With both services at the same offered load below
// their capacity, the percentiles compare how long each takes to answer, not how the shared
// CPU is divided at saturation.
//
//	openloop -rate 1000 -duration 15s -conns 32 -url http://127.0.0.1:8080/predict body.json
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	rate := flag.Float64("rate", 1000, "requests per second offered")
	duration := flag.Duration("duration", 15*time.Second, "how long to offer them")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured time first, at the same rate")
	conns := flag.Int("conns", 32, "most requests in flight (kept-alive connections)")
	url := flag.String("url", "", "the /predict URL")
	flag.Parse()
	if *url == "" || flag.NArg() != 1 || *rate <= 0 {
		fmt.Fprintln(os.Stderr, "usage: openloop -rate R -duration D -conns C -url URL BODY.json")
		os.Exit(2)
	}
	body, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
	run(*url, body, *rate, *warmup, *conns)
	lat, errs, late := run(*url, body, *rate, *duration, *conns)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	// rate, answered, p50 ms, p99 ms, p99.9 ms, errors, requests not sent on time (all connections busy)
	fmt.Printf("%.0f %d %.2f %.2f %.2f %d %d\n", *rate, len(lat), pct(0.5), pct(0.99), pct(0.999), errs, late)
}

// run offers rate requests per second for d; it returns the latencies of the answered
// requests, the failures, and how many requests found every connection busy when due (they
// are sent as soon as one frees, and their wait counts in their latency).
func run(url string, body []byte, rate float64, d time.Duration, conns int) ([]time.Duration, int, int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 30 * time.Second}
	interval := time.Duration(float64(time.Second) / rate)
	n := int(d / interval)
	due := make(chan time.Time) // unbuffered: a send finds a free connection or counts as late
	var (
		mu   sync.Mutex
		lat  = make([]time.Duration, 0, n)
		errs int
		late int
		wg   sync.WaitGroup
	)
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range due {
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				ok := err == nil
				if ok {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					ok = err == nil && resp.StatusCode == 200
				}
				elapsed := time.Since(t)
				mu.Lock()
				if ok {
					lat = append(lat, elapsed)
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(t))
		select {
		case due <- t:
		default:
			mu.Lock()
			late++
			mu.Unlock()
			due <- t // blocks until a connection frees
		}
	}
	close(due)
	wg.Wait()
	return lat, errs, late
}
