package main

// Settings (from the environment, the names bench/k6/chat.js takes with -e), the opener, the sender and
// the end of a run.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

type stepCfg struct{ rate, seconds float64 }

type config struct {
	scenario   string
	proto      wire
	base, run  string
	proc       string
	users      int
	total      int
	offset     int
	roomSize   int
	rooms      int
	rampS      float64
	startAt    float64
	steps      []stepCfg
	drainS     float64
	heartbeatS float64
	textBytes  int
	p99Ms      float64
	awayShare  float64
	awayS      float64
	awayAtS    float64
	page       int
}

func env(name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) {
		fail("%s: expected a number, got %q", name, v)
	}
	return n
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "parley-driver: "+format+"\n", args...)
	os.Exit(2)
}

func loadConfig(scenario string) *config {
	c := &config{scenario: scenario, proto: parleyWire{}}
	if os.Getenv("PROTO") == "socketio" {
		c.proto = socketioWire{}
	}
	c.base = os.Getenv("BASE")
	if c.base == "" {
		c.base = "http://127.0.0.1:8000"
	}
	c.run = os.Getenv("RUN")
	if c.run == "" {
		c.run = strconv.FormatInt(time.Now().UnixMilli(), 36)
		c.run = c.run[len(c.run)-6:]
	}
	c.proc = os.Getenv("PROC")
	if c.proc == "" {
		c.proc = "0"
	}
	c.users = int(env("USERS", 100))
	c.total = int(env("TOTAL_USERS", float64(c.users)))
	c.offset = int(env("USER_OFFSET", 0))
	c.roomSize = int(env("ROOM_SIZE", 10))
	c.rooms = max(1, c.total/c.roomSize)
	c.rampS = env("RAMP_S", 10)
	c.startAt = env("START_AT", 0)
	spec := os.Getenv("STEPS")
	if spec == "" {
		spec = "10:20"
	}
	for _, part := range strings.Split(spec, ",") {
		rs := strings.SplitN(part, ":", 2)
		if len(rs) != 2 {
			fail("STEPS: expected rate:seconds, got %s", part)
		}
		rate, e1 := strconv.ParseFloat(rs[0], 64)
		secs, e2 := strconv.ParseFloat(rs[1], 64)
		if e1 != nil || e2 != nil || rate < 0 || secs <= 0 {
			fail("STEPS: expected rate:seconds, got %s", part)
		}
		c.steps = append(c.steps, stepCfg{rate, secs})
	}
	c.drainS = env("DRAIN_S", 3)
	c.heartbeatS = env("HEARTBEAT_S", 30)
	c.textBytes = int(env("TEXT_BYTES", 64))
	c.p99Ms = env("P99_MS", 20)
	c.awayShare = env("AWAY_SHARE", 0.2)
	c.awayS = env("AWAY_S", 10)
	sendS := 0.0
	for _, s := range c.steps {
		sendS += s.seconds
	}
	c.awayAtS = env("AWAY_AT_S", sendS/4)
	c.page = int(env("PAGE", 200))
	return c
}

func (c *config) sendSeconds() float64 {
	t := 0.0
	for _, s := range c.steps {
		t += s.seconds
	}
	return t
}

func newSession(cfg *config) *session {
	s := &session{cfg: cfg, x: newExtras()}
	for i := range s.shards {
		s.shards[i].steps = newSteps(len(cfg.steps))
		s.shards[i].acks = map[string][]int64{}
	}
	s.res = vuResult{Proto: cfg.proto.name(), Driver: "parley-driver", Vu: 1, Proc: cfg.proc, Wanted: cfg.users,
		CloseCodes: map[string]int64{}, Errors: map[string]int64{}, ServerErrors: map[string]int64{}, ConnectHist: hist{}}
	return s
}

// flow runs the whole scenario and returns the process's exit code (99: a threshold failed, as k6).
func (s *session) flow() int {
	cfg := s.cfg
	t0 := nowMs()
	s.startAt = cfg.startAt
	if s.startAt == 0 {
		s.startAt = t0 + cfg.rampS*1000 + 3000
	}
	s.endAt = s.startAt + cfg.sendSeconds()*1000
	pad := strings.Repeat("x", max(0, cfg.textBytes))
	textLen := max(cfg.textBytes, 24)

	// Open the sockets evenly over the ramp.
	go func() {
		gap := cfg.rampS * 1000 / float64(max(1, cfg.users))
		for k := 0; k < cfg.users; k++ {
			if wait := t0 + float64(k)*gap - nowMs(); wait > 0 {
				time.Sleep(time.Duration(wait * float64(time.Millisecond)))
			}
			if s.closing.Load() {
				return
			}
			g := cfg.offset + k
			c := &client{g: g, user: fmt.Sprintf("u%s-%d", cfg.run, g), room: fmt.Sprintf("r%s-%d", cfg.run, g%cfg.rooms), last: -1}
			s.readyMu.Lock()
			s.clients = append(s.clients, c)
			s.readyMu.Unlock()
			s.connect(c, nil)
		}
	}()

	// Sending: the step's rate, round-robin over the joined sockets; heartbeats spread evenly.
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	owed, hbOwed := 0.0, 0.0
	rr, hbRr := 0, 0
	last := nowMs()
	end := s.endAt + cfg.drainS*1000
	for range ticker.C {
		now := nowMs()
		if now >= end {
			break
		}
		dt := now - last
		last = now
		if s.hooks.onTick != nil {
			s.hooks.onTick(now)
		}
		s.readyMu.Lock()
		ready := s.ready
		s.readyMu.Unlock()
		hbOwed += float64(len(ready)) * dt / (cfg.heartbeatS * 1000)
		for hbOwed >= 1 && len(ready) > 0 {
			hbOwed--
			c := ready[hbRr%len(ready)]
			hbRr++
			c.mu.Lock()
			conn, live := c.conn, c.live
			c.n++
			id := c.n
			c.mu.Unlock()
			if live && conn != nil {
				if c.write(conn, func(next *int64) []byte { return cfg.proto.heartbeat(next, id) }) == nil {
					s.hbSent.Add(1)
				}
			}
		}
		si := s.stepAt(now)
		if si < 0 || si >= len(cfg.steps) || len(ready) == 0 {
			continue
		}
		owed += cfg.steps[si].rate * dt / 1000
		sh := &s.shards[0]
		for tries := 0; owed >= 1 && tries < len(ready)*2; tries++ {
			c := ready[rr%len(ready)]
			rr++
			c.mu.Lock()
			conn := c.conn
			if !c.live || conn == nil {
				c.mu.Unlock()
				continue // away, closing or reconnecting: the next one sends
			}
			owed--
			us := time.Now().UnixMicro()
			text := strconv.AppendInt(make([]byte, 0, textLen+32), us/1000, 10)
			text = append(text, '.')
			text = append(text, byte('0'+us%1000/100), byte('0'+us%100/10), byte('0'+us%10), ' ')
			text = append(text, c.user...)
			text = append(text, ' ')
			text = append(text, pad...)
			text = text[:textLen]
			c.n++
			cid := "c" + strconv.FormatInt(us, 10) + "-" + strconv.FormatInt(c.n, 10)
			// Kept until acked: a client that reconnects sends its unacked messages again, with the same cid.
			c.unacked = append(c.unacked, pending{cid: cid, text: text})
			c.mu.Unlock()
			c.write(conn, func(next *int64) []byte { return cfg.proto.send(next, c.room, text, []byte(cid)) })
			sh.mu.Lock()
			sh.steps[si].Sent++
			sh.mu.Unlock()
		}
	}
	return s.finish()
}

func (s *session) finish() int {
	s.closing.Store(true)
	if s.hooks.onEnd != nil {
		s.hooks.onEnd()
	}
	s.readyMu.Lock()
	clients := s.clients
	s.readyMu.Unlock()
	// Close frames out before the process exits (as k6 closes its sockets), waiting at most 2 s.
	var wg sync.WaitGroup
	for _, c := range clients {
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			shut(c, conn)
		}()
	}
	closed := make(chan struct{})
	go func() {
		wg.Wait()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
	}
	r := &s.res
	s.resMu.Lock()
	defer s.resMu.Unlock()
	r.HbSent, r.HbOk = s.hbSent.Load(), s.hbOk.Load()
	r.Failed += max(0, int64(s.cfg.users)-r.Opened-r.Failed)
	r.Steps = newSteps(len(s.cfg.steps))
	r.Rooms = map[string]*room{}
	roomOf := func(name string) *room {
		rm := r.Rooms[name]
		if rm == nil {
			rm = &room{Acked: make([]int64, len(s.cfg.steps))}
			r.Rooms[name] = rm
		}
		return rm
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for k := range sh.steps {
			r.Steps[k].merge(&sh.steps[k])
		}
		for name, acked := range sh.acks {
			rm := roomOf(name)
			for k, n := range acked {
				rm.Acked[k] += n
			}
		}
		sh.mu.Unlock()
	}
	var waitingAfter, waitingFor int64
	for _, c := range clients {
		c.mu.Lock()
		r.Gaps += int64(len(c.holes))
		if c.inReady {
			roomOf(c.room).Members++
		}
		if !c.everOpened && !c.gaveUp {
			if c.upgraded {
				waitingAfter++
			} else {
				waitingFor++
			}
		}
		c.mu.Unlock()
	}
	s.x.add("waitingAfterUpgrade", waitingAfter)
	s.x.add("waitingForUpgrade", waitingFor)
	r.Extra = s.x.out()
	report(r)
	th := thresholds(r, s.cfg.p99Ms, s.cfg.scenario)
	b, _ := json.Marshal(th)
	fmt.Printf("THRESHOLDS %s\n", b)
	for _, ok := range th {
		if !ok {
			return 99
		}
	}
	return 0
}
