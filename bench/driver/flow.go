package main

// The chat flow every scenario shares, as bench/k6/lib/flow.js runs it: open the sockets over the
// ramp, join one room each, send at the step's rate round-robin over the joined sockets, heartbeat,
// account every delivery, and print one result line at the end. Scenarios add behaviour through hooks
// (history: users going away and catching up over REST; storm: reconnecting after an instance dies).
//
// A message's step is decided by its send stamp (the text starts with it, in ms with a fraction), so
// every process attributes it the same way; bench/run.ts sums acks × room members into the expected
// deliveries of a step and compares them with what the members counted.

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

type hooks struct {
	onClosed func(c *client, code int, wasOpen bool) bool // a socket closed that the flow did not close; true when handled
	onTick   func(now float64)                            // every tick of the sender
	onEnd    func()
}

type session struct {
	cfg    *config
	hooks  hooks
	shards [shardCount]shard
	x      *extras

	resMu sync.Mutex
	res   vuResult

	hbSent, hbOk atomic.Int64

	readyMu sync.Mutex
	ready   []*client
	clients []*client

	closing atomic.Bool
	startAt float64 // epoch ms
	endAt   float64
}

func nowMs() float64 { return float64(time.Now().UnixMicro()) / 1000 }

func (s *session) stepAt(t float64) int {
	if t < s.startAt {
		return -1
	}
	end := s.startAt
	for i, st := range s.cfg.steps {
		end += st.seconds * 1000
		if t < end {
			return i
		}
	}
	return len(s.cfg.steps)
}

func stamp(text []byte) float64 {
	for i, ch := range text {
		if ch == ' ' {
			return num(text[:i])
		}
	}
	return num(text)
}

// account counts one message a member got (live, recovered on join, or over REST); its latency when
// receivedAt is given, split at the server's stamp ts when that is given too. The caller holds c.mu.
func (s *session) account(c *client, seq int64, text []byte, receivedAt float64, ts int64) {
	at := stamp(text)
	si := s.stepAt(at)
	sh := &s.shards[c.g%shardCount]
	inStep := si >= 0 && si < len(s.cfg.steps)
	if seq <= c.last {
		// Behind the newest seen: a hole filled late (reordered) or a duplicate.
		i := -1
		for k, h := range c.holes {
			if h == seq {
				i = k
				break
			}
		}
		if i < 0 {
			if inStep {
				sh.mu.Lock()
				sh.steps[si].Dup++
				sh.mu.Unlock()
			}
			return
		}
		c.holes = append(c.holes[:i], c.holes[i+1:]...)
		if inStep {
			sh.mu.Lock()
			sh.steps[si].Reordered++
			sh.mu.Unlock()
		}
	} else {
		if seq > c.last+1 && c.last >= 0 {
			for h := c.last + 1; h < seq && len(c.holes) < 10000; h++ {
				c.holes = append(c.holes, h)
			}
		}
		c.last = seq
	}
	if !inStep {
		return
	}
	sh.mu.Lock()
	st := &sh.steps[si]
	st.Delivered++
	if receivedAt > 0 {
		st.Hist.add(receivedAt - at)
		if ts > 0 {
			st.InHist.addMs(float64(ts) - at)
			st.OutHist.addMs(receivedAt - float64(ts))
		}
	}
	sh.mu.Unlock()
}

// release takes a held client live: what arrived meanwhile is counted, in order. The caller holds c.mu.
func (s *session) release(c *client) {
	for _, b := range c.buffer {
		s.account(c, b.seq, b.text, b.at, 0)
	}
	c.buffer = nil
	c.holding = false
	c.live = true
}

func (s *session) count(m map[string]int64, key string) {
	s.resMu.Lock()
	m[key]++
	s.resMu.Unlock()
}

// connect opens (or re-opens) a client's socket and joins its room (resuming when c.resume). onJoined,
// when given, handles the answer; returning true holds the client: live messages wait in c.buffer
// until release.
func (s *session) connect(c *client, onJoined func(c *client, seq int64, messages []byte, recovered bool) bool) {
	c.mu.Lock()
	c.live = false
	c.onJoined = onJoined
	c.began = time.Now()
	c.gen++
	gen := c.gen
	c.mu.Unlock()
	go s.serve(c, gen)
}

// serve dials, then reads the socket until it ends, and accounts for its end.
func (s *session) serve(c *client, gen int) {
	conn, resp, err := dialer.Dial(s.cfg.proto.url(s.cfg.base, c.user), nil)
	if err != nil {
		if !s.closing.Load() {
			s.count(s.res.Errors, dialErrorKey(err, resp))
		}
		s.closed(c, gen, websocket.CloseAbnormalClosure)
		return
	}
	c.mu.Lock()
	stale := c.gen != gen
	if !stale {
		c.conn = conn
		c.upgraded = true
	}
	c.mu.Unlock()
	if stale || s.closing.Load() {
		conn.Close()
		return
	}
	err = readLoop(conn, s.cfg.proto, &connHandler{s: s, c: c, conn: conn}, c)
	conn.Close()
	if _, isClose := err.(*websocket.CloseError); !isClose && !s.closing.Load() {
		c.mu.Lock()
		leaving := c.leaving || c.gen != gen
		c.mu.Unlock()
		if !leaving {
			s.count(s.res.Errors, errorKey(err))
		}
	}
	s.closed(c, gen, closeCode(err))
}

func (s *session) closed(c *client, gen int, code int) {
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return
	}
	was := c.opened
	c.opened = false
	c.live = false
	c.buffer = nil
	c.holding = false
	c.conn = nil
	leaving := c.leaving
	everOpened := c.everOpened
	c.mu.Unlock()
	if s.closing.Load() || leaving {
		return
	}
	s.count(s.res.CloseCodes, strconv.Itoa(code))
	if s.hooks.onClosed != nil && s.hooks.onClosed(c, code, was) {
		return
	}
	s.resMu.Lock()
	if was {
		s.res.ClosedEarly++
	} else if !everOpened {
		s.res.Failed++
		c.mu.Lock()
		c.gaveUp = true
		c.mu.Unlock()
	}
	s.resMu.Unlock()
}

// shut closes a socket the flow is done with: a close frame, then the TCP connection.
func shut(c *client, conn *websocket.Conn) {
	if conn == nil {
		return
	}
	c.wmu.Lock()
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	conn.Close()
}

type connHandler struct {
	s    *session
	c    *client
	conn *websocket.Conn
}

func (h *connHandler) onOpen() {
	c, s := h.c, h.s
	c.mu.Lock()
	c.opened = true
	if !c.everOpened {
		c.everOpened = true
		ms := float64(time.Since(c.began).Microseconds()) / 1000
		s.resMu.Lock()
		s.res.Opened++
		s.res.ConnectHist.add(ms)
		s.resMu.Unlock()
	}
	resume := c.resume && c.epoch != "" && c.last >= 0
	epoch, last := c.epoch, c.last
	c.mu.Unlock()
	c.write(h.conn, func(next *int64) []byte { return s.cfg.proto.join(next, c.room, epoch, last, resume) })
}

func (h *connHandler) onJoined(seq int64, epoch []byte, recovered bool, messages []byte) {
	c, s := h.c, h.s
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live || c.conn != h.conn {
		return
	}
	hold := false
	if c.onJoined != nil {
		hold = c.onJoined(c, seq, messages, recovered)
	} else if c.last < 0 {
		c.last = seq
	}
	c.epoch = string(epoch)
	if hold {
		c.buffer = c.buffer[:0]
		c.holding = true
	} else {
		c.live = true
	}
	if !c.inReady {
		c.inReady = true
		s.readyMu.Lock()
		s.ready = append(s.ready, c)
		s.readyMu.Unlock()
	}
}

func (h *connHandler) onMessage(seq int64, text []byte, ts int64) {
	now := nowMs()
	c := h.c
	c.mu.Lock()
	if c.live {
		h.s.account(c, seq, text, now, ts)
	} else if c.holding {
		c.buffer = append(c.buffer, buffered{seq: seq, text: append([]byte(nil), text...), at: now})
	}
	c.mu.Unlock()
}

// onAck: the cid is c<send time in µs>-<n>.
func (h *connHandler) onAck(cid []byte) {
	now := nowMs()
	c, s := h.c, h.s
	c.mu.Lock()
	for i, p := range c.unacked {
		if p.cid == string(cid) {
			c.unacked = append(c.unacked[:i], c.unacked[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	dash := len(cid)
	for i, ch := range cid {
		if ch == '-' {
			dash = i
			break
		}
	}
	if len(cid) < 2 {
		return
	}
	at := num(cid[1:dash]) / 1000
	si := s.stepAt(at)
	if si < 0 || si >= len(s.cfg.steps) {
		return
	}
	sh := &s.shards[c.g%shardCount]
	sh.mu.Lock()
	sh.steps[si].Acked++
	sh.steps[si].AckHist.add(now - at)
	r := sh.acks[c.room]
	if r == nil {
		r = make([]int64, len(s.cfg.steps))
		sh.acks[c.room] = r
	}
	r[si]++
	sh.mu.Unlock()
}

func (h *connHandler) onHeartbeat() { h.s.hbOk.Add(1) }

func (h *connHandler) onServerError(code string) { h.s.count(h.s.res.ServerErrors, code) }
