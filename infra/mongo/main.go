// Command parley-mongo is the local MongoDB-compatible server for development and tests:
// FerretDB v1 embedded, with its SQLite backend, on a loopback TCP port.
//
//	go -C infra/mongo build -o ../../.data/bin/parley-mongo .   (npm run mongo:up does this)
//	.data/bin/parley-mongo [-listen 127.0.0.1:27018] [-data-dir .data/mongo-27018] [-log-level info]
//
// MONGO_PORT overrides the port of the default listen address; MONGO_DATA_DIR and MONGO_LOG_LEVEL
// are the defaults of -data-dir and -log-level. It runs until SIGTERM or SIGINT, then closes the
// listener, its connections and the SQLite databases, and exits 0. Production uses real MongoDB.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "parley-mongo: %s\n", err)
		os.Exit(1)
	}
}

func run() error {
	port := "27018"
	if p := os.Getenv("MONGO_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("MONGO_PORT: expected a port from 1 to 65535, got %q", p)
		}
		port = strconv.Itoa(n)
	}

	listen := flag.String("listen", net.JoinHostPort("127.0.0.1", port), "TCP address to listen on (loopback only)")
	dataDir := flag.String("data-dir", env("MONGO_DATA_DIR", ""), "SQLite data directory (default .data/mongo-<port>/)")
	logLevel := flag.String("log-level", env("MONGO_LOG_LEVEL", "info"), "debug, info, warn or error")
	flag.Parse()

	host, lport, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen: %q is not a loopback address", host)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	dir := *dataDir
	if dir == "" {
		dir = filepath.Join(".data", "mongo-"+lport)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// FerretDB wants a "file:" URI of an existing directory, ending with "/".
	// WAL (FerretDB's default) with synchronous=NORMAL: a commit no longer waits for fsync, which
	// made every single-document update cost a disk flush. A crash of the process loses nothing;
	// a crash of the machine may lose the last commits, which is fine for a development server.
	sqliteURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir) + "/", RawQuery: "_pragma=synchronous(normal)"}).String()
	if !strings.Contains(sqliteURL, "/?") {
		return fmt.Errorf("unexpected SQLite URL %q", sqliteURL)
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	go indexIDLookups(ctx, dir, time.Second, logger)

	logger.Info("parley-mongo starting", "listen", *listen, "data", dir, "pid", os.Getpid())
	if err := f.Run(ctx); err != nil {
		return err
	}
	logger.Info("parley-mongo stopped")
	return nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
