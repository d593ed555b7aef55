// Command rtt measures, with one client loop for all of them, what a prediction cache in
// front of the model would cost against what it would save: a Redis GET round trip on
// loopback (the deployment guide's cache lookup, value sized like the answer it would
// cache), a whole POST /predict round trip to thetatree-serve, and the in-process work of
// /predict (parse, predict, encode; internal/predict, no network) — for the same 1-row and
// 100-row bodies. Sequential requests on one kept-alive connection each; prints a markdown
// table of medians and 99th percentiles.
//
//	rtt -redis 127.0.0.1:6379 -predict http://127.0.0.1:8080/predict -model model.ttm body_1.json body_100.json
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"time"

	thetatree "github.com/thetatree/thetatree/bindings/go"

	"github.com/thetatree/thetatree/service/internal/predict"
)

func main() {
	redisAddr := flag.String("redis", "127.0.0.1:6379", "redis-server address")
	predictURL := flag.String("predict", "", "thetatree-serve /predict URL")
	modelPath := flag.String("model", "", "the model file thetatree-serve serves (for the in-process figure)")
	n := flag.Int("n", 20000, "measured round trips per case")
	warmup := flag.Int("warmup", 2000, "unmeasured round trips first")
	flag.Parse()
	if *predictURL == "" || *modelPath == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: rtt -redis ADDR -predict URL -model FILE BODY.json...")
		os.Exit(2)
	}
	if err := run(*redisAddr, *predictURL, *modelPath, flag.Args(), *n, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "rtt:", err)
		os.Exit(1)
	}
}

func run(redisAddr, predictURL, modelPath string, bodies []string, n, warmup int) error {
	lib, err := thetatree.Load(modelPath, thetatree.WithCopy())
	if err != nil {
		return err
	}
	defer lib.Close()
	model, err := predict.NewModel(lib, "rtt")
	if err != nil {
		return err
	}
	rc, err := dialRedis(redisAddr)
	if err != nil {
		return err
	}
	defer rc.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	fmt.Println("| operation | rows | bytes | p50 µs | p99 µs |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, path := range bodies {
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var buf predict.Buffers
		answer, rows, e := predict.Predict(model, body, predict.Limits{MaxRows: 10000, MaxDepth: 32}, &buf)
		if e != nil {
			return e
		}
		answer = append([]byte(nil), answer...)
		key := "prediction:" + strconv.Itoa(rows)
		if err := rc.set(key, answer); err != nil {
			return err
		}
		cases := []struct {
			name  string
			bytes int
			op    func() error
		}{
			{"Redis GET (loopback), value = the answer", len(answer), func() error { return rc.get(key, len(answer)) }},
			{"POST /predict to thetatree-serve (loopback)", len(body), func() error { return post(client, predictURL, body) }},
			{"/predict in process (parse + predict + encode)", len(body), func() error {
				_, _, e := predict.Predict(model, body, predict.Limits{MaxRows: 10000, MaxDepth: 32}, &buf)
				if e != nil {
					return e
				}
				return nil
			}},
		}
		for _, c := range cases {
			p50, p99, err := measure(c.op, n, warmup)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			fmt.Printf("| %s | %d | %d | %.1f | %.1f |\n", c.name, rows, c.bytes, us(p50), us(p99))
		}
	}
	return nil
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

func measure(op func() error, n, warmup int) (p50, p99 time.Duration, err error) {
	for i := 0; i < warmup; i++ {
		if err := op(); err != nil {
			return 0, 0, err
		}
	}
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		if err := op(); err != nil {
			return 0, 0, err
		}
		d[i] = time.Since(start)
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[n/2], d[n*99/100], nil
}

func post(client *http.Client, url string, body []byte) error {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// redisConn speaks just enough RESP for SET and GET.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRedis(addr string) (*redisConn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &redisConn{c: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
}

func (r *redisConn) Close() error { return r.c.Close() }

func (r *redisConn) command(args ...[]byte) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n", len(a))
		b.Write(a)
		b.WriteString("\r\n")
	}
	_, err := r.c.Write(b.Bytes())
	return err
}

func (r *redisConn) set(key string, value []byte) error {
	if err := r.command([]byte("SET"), []byte(key), value); err != nil {
		return err
	}
	line, err := r.r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+OK\r\n" {
		return fmt.Errorf("SET: %q", line)
	}
	return nil
}

// get fetches key and checks the value has the expected length.
func (r *redisConn) get(key string, want int) error {
	if err := r.command([]byte("GET"), []byte(key)); err != nil {
		return err
	}
	line, err := r.r.ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 4 || line[0] != '$' {
		return fmt.Errorf("GET: %q", line)
	}
	n, err := strconv.Atoi(line[1 : len(line)-2])
	if err != nil || n != want {
		return errors.New("GET: unexpected value length " + line)
	}
	_, err = r.r.Discard(n + 2)
	return err
}
