package main

// Accounting: latency histograms that several processes merge exactly (as bench/k6/lib/common.js
// writes them, in finer buckets below 100 ms), per-step counters kept in shards so that the reader
// goroutines seldom meet on a lock, and the result line bench/run.ts reads.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
)

// hist counts latencies in tenths of a millisecond: 0.1 ms buckets below 100 ms, 1 ms up to 10 s and
// 100 ms above (k6's clock has 1 ms; the driver's has a microsecond).
type hist map[int64]int64

func (h hist) add(ms float64) {
	var k int64
	switch {
	case ms < 0:
		k = 0
	case ms < 100:
		k = int64(ms*10 + 0.5)
	case ms < 10000:
		k = int64(ms+0.5) * 10
	default:
		k = int64(ms/100+0.5) * 1000
	}
	h[k]++
}

// addMs counts a latency whose ends are whole milliseconds (the server's stamp): 1 ms buckets.
func (h hist) addMs(ms float64) {
	if ms < 0 {
		ms = 0
	}
	if ms >= 10000 {
		h.add(ms)
		return
	}
	h[int64(ms+0.5)*10]++
}

func (h hist) merge(o hist) {
	for k, n := range o {
		h[k] += n
	}
}

func (h hist) count() int64 {
	var n int64
	for _, c := range h {
		n += c
	}
	return n
}

// quantile is the nearest-rank percentile in ms (as bench/stats.ts computes it).
func (h hist) quantile(q float64) float64 {
	keys := make([]int64, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	n := h.count()
	if n == 0 {
		return 0
	}
	rank := int64(q*float64(n) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for _, k := range keys {
		seen += h[k]
		if seen >= rank {
			return float64(k) / 10
		}
	}
	return float64(keys[len(keys)-1]) / 10
}

// MarshalJSON writes {"<ms>": count}, the keys in ms ("0.4", "12", "10100").
func (h hist) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	first := true
	for k, n := range h {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = strconv.AppendFloat(b, float64(k)/10, 'f', -1, 64)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, '}'), nil
}

type step struct {
	Sent      int64 `json:"sent"`
	Acked     int64 `json:"acked"`
	Delivered int64 `json:"delivered"`
	Dup       int64 `json:"dup"`
	Reordered int64 `json:"reordered"`
	Hist      hist  `json:"hist"`
	AckHist   hist  `json:"ackHist"`
	InHist    hist  `json:"inHist"`
	OutHist   hist  `json:"outHist"`
}

func newSteps(n int) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{Hist: hist{}, AckHist: hist{}, InHist: hist{}, OutHist: hist{}}
	}
	return s
}

func (s *step) merge(o *step) {
	s.Sent += o.Sent
	s.Acked += o.Acked
	s.Delivered += o.Delivered
	s.Dup += o.Dup
	s.Reordered += o.Reordered
	s.Hist.merge(o.Hist)
	s.AckHist.merge(o.AckHist)
	s.InHist.merge(o.InHist)
	s.OutHist.merge(o.OutHist)
}

// shard holds the counters of the clients whose number falls on it, under its own lock.
type shard struct {
	mu    sync.Mutex
	steps []step
	acks  map[string][]int64 // room → acked messages per step, of this shard's senders
}

const shardCount = 64

type room struct {
	Members int64   `json:"members"`
	Acked   []int64 `json:"acked"`
}

// vuResult is one process's line for bench/run.ts (the shape of bench/k6/lib/flow.js's).
type vuResult struct {
	Proto        string             `json:"proto"`
	Driver       string             `json:"driver"`
	Vu           int                `json:"vu"`
	Proc         string             `json:"proc"`
	Wanted       int                `json:"wanted"`
	Opened       int64              `json:"opened"`
	Failed       int64              `json:"failed"`
	ClosedEarly  int64              `json:"closedEarly"`
	Gaps         int64              `json:"gaps"`
	CloseCodes   map[string]int64   `json:"closeCodes"`
	Errors       map[string]int64   `json:"errors"`
	ServerErrors map[string]int64   `json:"serverErrors"`
	HbSent       int64              `json:"hbSent"`
	HbOk         int64              `json:"hbOk"`
	ConnectHist  hist               `json:"connectHist"`
	Steps        []step             `json:"steps"`
	Rooms        map[string]*room   `json:"rooms"`
	Extra        map[string]any     `json:"extra"`
	CPU          map[string]float64 `json:"cpu"`
}

func report(r *vuResult) {
	b, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "result:", err)
		return
	}
	os.Stdout.Write(append(append([]byte("BENCH "), b...), '\n'))
}

// thresholds are the k6 scenarios' thresholds, by the same names, computed on this process's counts.
func thresholds(r *vuResult, p99Ms float64, scenario string) map[string]bool {
	var dup int64
	all := hist{}
	for i := range r.Steps {
		dup += r.Steps[i].Dup
		all.merge(r.Steps[i].Hist)
	}
	var serverErrors int64
	for _, n := range r.ServerErrors {
		serverErrors += n
	}
	p99 := fmt.Sprintf("p(99)<%s", strconv.FormatFloat(p99Ms, 'f', -1, 64))
	th := map[string]bool{
		"ws_connect_failed{count==0}":   r.Failed == 0,
		"messages_gap{count==0}":        r.Gaps == 0,
		"messages_duplicated{count==0}": dup == 0,
		"server_errors{count==0}":       serverErrors == 0,
		"delivery_latency{" + p99 + "}": all.count() == 0 || all.quantile(0.99) < p99Ms,
	}
	if scenario != "storm" {
		th["ws_closed_early{count==0}"] = r.ClosedEarly == 0
	}
	extraZero := func(name, key string) {
		n, _ := r.Extra[key].(int64)
		th[name+"{count==0}"] = n == 0
	}
	switch scenario {
	case "history":
		extraZero("history_missing", "missing")
		extraZero("history_rest_failed", "restFailed")
	case "storm":
		extraZero("storm_unrecovered", "unrecovered")
		extraZero("storm_not_back", "notBack")
	}
	return th
}
