// Command thetatree-serve serves thetatree decision-tree models over HTTP.
//
// See README.md beside this file for the API, configuration and deployment.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is main without os.Exit: parse configuration, load the model, serve until SIGTERM or
// SIGINT (graceful), reload on SIGHUP. It returns the exit code.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(args[1:], getenv, stderr)
	}
	if len(args) > 0 && args[0] == "admin" {
		return adminCommand(args[1:], getenv, os.Stdout, stderr)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "thetatree-serve: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})).
		With("service", "thetatree-serve")
	a, err := newApp(cfg, log)
	if err != nil {
		log.Error("startup failed", "error", err.Error(), "model_dir", cfg.ModelDir)
		return 1
	}
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		log.Error("startup failed", "error", err.Error())
		a.reg.Close()
		return 1
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			log.Error("startup failed", "error", "admin listener: "+err.Error())
			ln.Close()
			a.reg.Close()
			return 1
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				a.reloadFromSignal()
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := a.serve(ctx, ln, adminLn); err != nil {
		log.Error("server error", "error", err.Error())
		return 1
	}
	return 0
}

// healthcheck is `thetatree-serve healthcheck [PATH]`: GET http://127.0.0.1:$PORT/PATH (default
// /health) and exit 0 on 200, 1 otherwise. It serves as the container HEALTHCHECK, since the
// distroless image has no curl.
func healthcheck(args []string, getenv func(string) string, stderr io.Writer) int {
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	path := "/health"
	if len(args) > 0 {
		path = args[0]
	}
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + path)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}

// adminCommand is `thetatree-serve admin reload [VERSION] | rollback | unpin`: POST to the
// admin listener of the server running beside it (ADMIN_ADDR, default 127.0.0.1:9090) with
// the token from ADMIN_TOKEN or ADMIN_TOKEN_FILE, print the answer, exit 0 on success. It is
// how to reload from `kubectl exec` (the image has no curl and the admin port is loopback).
func adminCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	usage := func() int {
		fmt.Fprintln(stderr, "usage: thetatree-serve admin reload [VERSION] | rollback | unpin")
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	body := ""
	switch {
	case args[0] == "reload" && len(args) == 2:
		b, _ := json.Marshal(map[string]string{"version": args[1]})
		body = string(b)
	case (args[0] == "reload" || args[0] == "rollback" || args[0] == "unpin") && len(args) == 1:
	default:
		return usage()
	}
	addr := getenv("ADMIN_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9090"
	}
	token := getenv("ADMIN_TOKEN")
	if f := getenv("ADMIN_TOKEN_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "admin: %v\n", err)
			return 1
		}
		token = strings.TrimRight(string(b), "\r\n")
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/admin/"+args[0], strings.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "admin: %v\n", err)
		return 1
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "admin: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(stdout, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "admin: %s\n", resp.Status)
		return 1
	}
	return 0
}
