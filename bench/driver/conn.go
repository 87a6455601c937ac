package main

// One client: its socket, a reader goroutine that turns frames into handler calls, and a write lock
// (one writer at a time on a WebSocket: the sender, the heartbeats and the reader's own replies).

import (
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

var writePool = &sync.Pool{}

var dialer = &websocket.Dialer{
	HandshakeTimeout: 60 * time.Second,
	ReadBufferSize:   2048,
	WriteBufferSize:  1024,
	WriteBufferPool:  writePool,
	NetDialContext:   (&net.Dialer{Timeout: 60 * time.Second}).DialContext,
}

type pending struct {
	cid  string
	text []byte
}

type buffered struct {
	seq  int64
	text []byte
	at   float64
}

type client struct {
	g    int
	user string
	room string

	mu         sync.Mutex // everything below
	conn       *websocket.Conn
	gen        int // which connection of this client (reconnects make new ones)
	next       int64
	last       int64
	holes      []int64
	epoch      string
	n          int64
	unacked    []pending
	upgraded   bool
	opened     bool
	everOpened bool
	live       bool
	inReady    bool
	gaveUp     bool
	leaving    bool
	away       bool
	resume     bool
	buffer     []buffered
	holding    bool
	began      time.Time
	onJoined   func(c *client, seq int64, messages []byte, recovered bool) bool
	wmu        sync.Mutex
}

// write sends one text frame built under the write lock (Socket.IO's ack ids count up in order).
func (c *client) write(conn *websocket.Conn, build func(next *int64) []byte) error {
	if conn == nil {
		return errors.New("not connected")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return conn.WriteMessage(websocket.TextMessage, build(&c.next))
}

var digits = regexp.MustCompile(`[0-9.:]+`)

// errorKey is an error's message with numbers, addresses and ports folded, as flow.js counts errors.
func errorKey(err error) string {
	k := digits.ReplaceAllString(err.Error(), "#")
	if len(k) > 100 {
		k = k[:100]
	}
	return k
}

// dialErrorKey is errorKey with the HTTP status of a refused upgrade ("bad handshake"), which tells
// a balancer's 503 (no instance in rotation, or its queue timed out) from an instance's 429 or 503.
func dialErrorKey(err error, resp *http.Response) string {
	if resp == nil {
		return errorKey(err)
	}
	return errorKey(err) + " (HTTP " + strconv.Itoa(resp.StatusCode) + ")"
}

// closeCode is the close frame's code, or 1006 when the connection ended without one.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return websocket.CloseAbnormalClosure
}

// readLoop reads frames until the socket ends and hands each text frame to the wire; it returns the reason.
func readLoop(conn *websocket.Conn, w wire, h handler, c *client) error {
	return readFrames(conn, func(b []byte) {
		if reply := w.handle(b, h); reply != nil {
			c.write(conn, func(*int64) []byte { return reply })
		}
	})
}

// readFrames reads text frames into one buffer, reused from frame to frame (f must copy what it keeps).
func readFrames(conn *websocket.Conn, f func(b []byte)) error {
	buf := make([]byte, 0, 1024)
	for {
		typ, r, err := conn.NextReader()
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				break
			}
		}
		if typ == websocket.TextMessage {
			f(buf)
		}
	}
}
