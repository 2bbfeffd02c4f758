// Command stocksoak is `make soak`: open-loop constant-rate load against
// the real handlers and connector runner on a throwaway PostgreSQL
// cluster, checkouts (reserve, then commit or release), a Square-shaped
// feed and page views of four roles at once, with optional faults
// (-faults: PostgreSQL restarted mid-load, then a disturbed connection).
// It reports latency percentiles measured from each request's intended
// send time, errors, database connections, retries, goroutines and
// memory, runs the consistency check, and exits 1 when a goal is missed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"
)

type config struct {
	duration       time.Duration
	checkouts      float64 // a second
	feed           float64 // events a second
	pages          float64 // page views a second
	faults         bool
	feedBatch      int // feed events per transaction; 0 for the runner's default
	requestTimeout time.Duration
	goroutineBound int   // allowed growth in goroutines, end against start
	heapBound      int64 // allowed growth in heap in use, bytes
	keep, verbose  bool
}

func main() {
	var cfg config
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.Float64Var(&cfg.checkouts, "checkouts", 200, "checkouts a second (reserve, then commit or release)")
	flag.Float64Var(&cfg.feed, "feed", 500, "Square feed events a second")
	flag.Float64Var(&cfg.pages, "pages", 20, "page views a second, spread over four roles")
	flag.IntVar(&cfg.feedBatch, "feed-batch", 0, "feed events per transaction (0: the runner's default)")
	flag.BoolVar(&cfg.faults, "faults", false, "inject faults mid-load: restart PostgreSQL, then disturb the connection")
	flag.DurationVar(&cfg.requestTimeout, "request-timeout", 10*time.Second, "the server's per-request time-out")
	flag.IntVar(&cfg.goroutineBound, "goroutine-bound", 25, "allowed goroutine growth, end against start")
	heapMiB := flag.Int64("heap-bound-mib", 64, "allowed growth of the heap in use, end against start, MiB")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the cluster and its folder")
	flag.BoolVar(&cfg.verbose, "v", false, "print the server's warnings and errors, and each second the feed, the pool and what the database sessions wait on")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server and load) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
	}
	cfg.heapBound = *heapMiB << 20
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := soak(ctx, cfg, os.Stdout)
	pprof.StopCPUProfile() // before any exit; a no-op without -cpuprofile
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if fails := rep.goalsMissed(cfg); len(fails) > 0 {
		for _, f := range fails {
			fmt.Println("GOAL MISSED:", f)
		}
		os.Exit(1)
	}
	fmt.Println("every goal met")
}
