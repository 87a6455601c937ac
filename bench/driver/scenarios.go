package main

// The scenarios beyond chat, as bench/k6/history.js and bench/k6/storm.js run them.

import (
	"io"
	"math"
	"math/rand"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// extras are a scenario's own figures: counts (summed over processes by bench/run.ts) and histograms.
type extras struct {
	mu     sync.Mutex
	counts map[string]int64
	hists  map[string]hist
}

func newExtras() *extras { return &extras{counts: map[string]int64{}, hists: map[string]hist{}} }

func (x *extras) add(k string, n int64) {
	x.mu.Lock()
	x.counts[k] += n
	x.mu.Unlock()
}

func (x *extras) observe(k string, ms float64) {
	x.mu.Lock()
	h := x.hists[k]
	if h == nil {
		h = hist{}
		x.hists[k] = h
	}
	h.add(ms)
	x.mu.Unlock()
}

func (x *extras) out() map[string]any {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := map[string]any{}
	for k, n := range x.counts {
		m[k] = n
	}
	for k, h := range x.hists {
		m[k] = h
	}
	return m
}

// history: a share of the users leave (their sockets close) for AWAY_S seconds in the middle of
// sending; each then reconnects, joins its room again (live from the room's head on) and fetches what
// it missed over REST, page by page, before its held live messages are counted.
func history(s *session) {
	cfg := s.cfg
	every := max(1, int(math.Round(1/cfg.awayShare)))
	for _, k := range []string{"away", "back", "restRequests", "restFailed", "missing"} {
		s.x.add(k, 0)
	}
	web := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200}}
	left, returned := false, false
	s.hooks.onTick = func(now float64) {
		if !left && now >= s.startAt+cfg.awayAtS*1000 {
			left = true
			for _, c := range s.snapshot() {
				c.mu.Lock()
				// User g is member number g / rooms of its room: every room loses the same share, and
				// the members that stay keep posting to it while the others are away.
				if (c.g/cfg.rooms)%every != 0 || !c.live {
					c.mu.Unlock()
					continue
				}
				c.leaving, c.away, c.live = true, true, false
				conn := c.conn
				c.mu.Unlock()
				s.x.add("away", 1)
				go leaveAfterAcks(c, conn)
			}
		}
		if left && !returned && now >= s.startAt+(cfg.awayAtS+cfg.awayS)*1000 {
			returned = true
			for _, c := range s.snapshot() {
				c.mu.Lock()
				away := c.away
				c.leaving, c.away = false, false
				c.mu.Unlock()
				if !away {
					continue
				}
				began := time.Now()
				// Live from the room's head on; what came before it is fetched over REST.
				s.connect(c, func(cl *client, head int64, _ []byte, _ bool) bool {
					after := cl.last
					go func() {
						msgs := catchUp(s, web, cl, after, head)
						cl.mu.Lock()
						defer cl.mu.Unlock()
						for _, m := range msgs {
							s.account(cl, m.seq, m.text, 0, 0)
						}
						if cl.last < head {
							s.x.add("missing", head-cl.last)
							cl.last = head
						}
						s.x.add("back", 1)
						s.x.observe("catchupMs", float64(time.Since(began).Microseconds())/1000)
						s.release(cl)
					}()
					return true // live messages after the head wait until the gap is filled
				})
			}
		}
	}
}

// leaveAfterAcks closes a leaving user's socket once the acks of what it sent have come (at most
// 2 s): closed at once, a message stored and delivered to the room would never be acked, and the
// room's members would seem to get more than was acked.
func leaveAfterAcks(c *client, conn *websocket.Conn) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		pending := len(c.unacked)
		c.mu.Unlock()
		if pending == 0 {
			break
		}
	}
	shut(c, conn)
}

func (s *session) snapshot() []*client {
	s.readyMu.Lock()
	defer s.readyMu.Unlock()
	return s.clients
}

type restMsg struct {
	seq  int64
	text []byte
}

// catchUp: GET /v1/rooms/:room/messages?after=<seq>&limit=<PAGE> until the head.
func catchUp(s *session, web *http.Client, c *client, after, head int64) []restMsg {
	var got []restMsg
	for after < head {
		t := time.Now()
		req, _ := http.NewRequest("GET", s.cfg.base+"/v1/rooms/"+c.room+"/messages?after="+strconv.FormatInt(after, 10)+"&limit="+strconv.Itoa(s.cfg.page), nil)
		req.Header.Set("X-User", c.user)
		res, err := web.Do(req)
		s.x.add("restRequests", 1)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		s.x.observe("restMs", float64(time.Since(t).Microseconds())/1000)
		if err != nil || res.StatusCode != 200 {
			s.x.add("restFailed", 1)
			break
		}
		var msgs []byte
		more := false
		eachField(body, func(k, v []byte) {
			switch string(k) {
			case "messages":
				msgs = v
			case "hasMore":
				more = eq(v, "true")
			}
		})
		n := 0
		eachElem(msgs, func(m []byte) {
			var seq int64
			var text []byte
			eachField(m, func(k, v []byte) {
				switch string(k) {
				case "seq":
					seq = integer(v)
				case "text":
					text = unquote(v)
				}
			})
			n++
			after = seq
			if seq <= head {
				got = append(got, restMsg{seq, text})
			}
		})
		if n == 0 || !more {
			break
		}
	}
	return got
}

// storm: bench/run.ts kills one instance while messages flow; every socket it held closes and its
// client reconnects with the protocol's backoff, min(30 s, 500 ms · 2^attempt) + random(0..1 s), joins
// its room again from where it left off, and sends again what was never acked, with the same cid.
func storm(s *session) {
	type outage struct {
		since   time.Time
		attempt int
	}
	var mu sync.Mutex
	down := map[*client]*outage{}
	for _, k := range []string{"dropped", "back", "attemptsFailed", "unrecovered", "recovered", "resent"} {
		s.x.add(k, 0)
	}
	var rejoin func(c *client)
	rejoin = func(c *client) {
		s.connect(c, func(cl *client, head int64, messages []byte, recovered bool) bool {
			mu.Lock()
			d := down[cl]
			delete(down, cl)
			mu.Unlock()
			if recovered && messages != nil {
				now := nowMs()
				eachElem(messages, func(m []byte) {
					var seq int64
					var text []byte
					eachField(m, func(k, v []byte) {
						switch string(k) {
						case "seq":
							seq = integer(v)
						case "text":
							text = unquote(v)
						}
					})
					s.account(cl, seq, text, now, 0)
					s.x.add("recovered", 1)
				})
			}
			if cl.last < head {
				// Not resumable (the peer has no resume; parley: outside the hot window or a new epoch).
				s.x.add("unrecovered", head-cl.last)
				cl.last = head
			}
			s.x.add("back", 1)
			if d != nil {
				s.x.observe("reconnectMs", float64(time.Since(d.since).Microseconds())/1000)
			}
			// Messages whose ack the dead connection never brought: sent again with the same cid.
			for _, p := range cl.unacked {
				cl.write(cl.conn, func(next *int64) []byte { return s.cfg.proto.send(next, cl.room, p.text, []byte(p.cid)) })
				s.x.add("resent", 1)
			}
			return false
		})
	}
	s.hooks.onClosed = func(c *client, _ int, wasOpen bool) bool {
		c.mu.Lock()
		everOpened := c.everOpened
		c.mu.Unlock()
		mu.Lock()
		d := down[c]
		if d == nil {
			if !wasOpen && !everOpened {
				mu.Unlock()
				return false // never connected: the flow counts it as failed
			}
			d = &outage{since: time.Now()}
			down[c] = d
			s.x.add("dropped", 1)
		} else {
			d.attempt++
			s.x.add("attemptsFailed", 1)
		}
		wait := math.Min(30000, 500*math.Pow(2, float64(d.attempt))) + rand.Float64()*1000
		mu.Unlock()
		c.mu.Lock()
		c.resume = true
		c.mu.Unlock()
		time.AfterFunc(time.Duration(wait*float64(time.Millisecond)), func() {
			if !s.closing.Load() {
				rejoin(c)
			}
		})
		return true
	}
	s.hooks.onEnd = func() {
		mu.Lock()
		s.x.add("notBack", int64(len(down)))
		mu.Unlock()
	}
}
