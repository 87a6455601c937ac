package main

// The driver's own ceiling: sockets that receive chat-shaped frames from bench/k6/ceiling-server.ts
// and measure the latency from the send time in the text, counted after the first 8 s (connections
// settled), with the CPU this process used meanwhile (getrusage: user + system).

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func ceiling(url string, conns int, dur float64) {
	t0 := time.Now()
	warm := t0.Add(8 * time.Second)
	var mu sync.Mutex
	h := hist{}
	var received atomic.Int64
	var opened, failed atomic.Int64
	for i := 0; i < conns; i++ {
		go func() {
			conn, _, err := dialer.Dial(url, nil)
			if err != nil {
				failed.Add(1)
				return
			}
			opened.Add(1)
			defer conn.Close()
			local := hist{}
			flushAt := time.Now().Add(time.Second)
			readFrames(conn, func(b []byte) {
				now := time.Now()
				if now.Before(warm) {
					return
				}
				var text []byte
				eachField(b, func(k, v []byte) {
					if eq(k, "text") {
						text = unquote(v)
					}
				})
				local.add(float64(now.UnixMicro())/1000 - stamp(text))
				received.Add(1)
				if now.After(flushAt) {
					mu.Lock()
					h.merge(local)
					mu.Unlock()
					local = hist{}
					flushAt = now.Add(time.Second)
				}
			})
			mu.Lock()
			h.merge(local)
			mu.Unlock()
		}()
	}
	time.Sleep(time.Until(warm))
	cpu0, at0 := cpuSeconds(), time.Now()
	time.Sleep(time.Until(t0.Add(time.Duration(dur * float64(time.Second)))))
	cpu1, at1 := cpuSeconds(), time.Now()
	n := received.Load()
	secs := at1.Sub(at0).Seconds()
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("sockets %d opened, %d failed\n", opened.Load(), failed.Load())
	fmt.Printf("received %.0f frames/s over %.1f s; driver CPU %.1f %% of one core\n", float64(n)/secs, secs, (cpu1-cpu0)/secs*100)
	fmt.Printf("latency ms: p50 %.1f  p90 %.1f  p99 %.1f  max %.1f (%d counted)\n", h.quantile(0.5), h.quantile(0.9), h.quantile(0.99), h.quantile(1), h.count())
}
