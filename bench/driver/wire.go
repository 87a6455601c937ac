package main

// The two wire protocols, behind one interface: parley's JSON frames on /ws (PROTOCOL.md) and the
// Socket.IO peer's Socket.IO 4 packets in Engine.IO 4 framing, spoken directly on a WebSocket (no polling;
// see bench/k6/lib/socketio.js for the frames).

import (
	"net/url"
	"strconv"
	"strings"
)

// handler gets what a socket's frames mean. Every call comes from the socket's reader goroutine.
type handler interface {
	onOpen()
	onJoined(seq int64, epoch []byte, recovered bool, messages []byte)
	onMessage(seq int64, text []byte, ts int64)
	onAck(cid []byte)
	onHeartbeat()
	onServerError(code string)
}

type wire interface {
	name() string
	url(base, user string) string
	// handle reads one text frame; reply, when not nil, is a frame to send back at once (Engine.IO's pong).
	handle(b []byte, h handler) (reply []byte)
	// The frames a client sends; next is the connection's counter of Socket.IO ack ids.
	join(next *int64, room string, epoch string, seq int64, resume bool) []byte
	send(next *int64, room string, text []byte, cid []byte) []byte
	heartbeat(next *int64, id int64) []byte
}

func wsBase(base string) string {
	if strings.HasPrefix(base, "http") {
		return "ws" + base[4:]
	}
	return base
}

// ---- parley

type parleyWire struct{}

func (parleyWire) name() string { return "parley" }

func (parleyWire) url(base, user string) string {
	return wsBase(base) + "/ws?user=" + url.QueryEscape(user)
}

func (p parleyWire) handle(b []byte, h handler) []byte {
	var typ, seq, text, ts, cid, code, epoch, messages, events, success, recovered []byte
	eachField(b, func(k, v []byte) {
		switch string(k) {
		case "type":
			typ = unquote(v)
		case "seq":
			seq = v
		case "text":
			text = unquote(v)
		case "ts":
			ts = v
		case "cid":
			cid = unquote(v)
		case "code":
			code = unquote(v)
		case "epoch":
			epoch = unquote(v)
		case "messages":
			messages = v
		case "events":
			events = v
		case "success":
			success = v
		case "recovered":
			recovered = v
		}
	})
	switch string(typ) {
	case "message":
		h.onMessage(integer(seq), text, integer(ts))
	case "batch":
		eachElem(events, func(e []byte) { p.handle(e, h) })
	case "ack":
		h.onAck(cid)
	case "heartbeat":
		if eq(success, "true") {
			h.onHeartbeat()
		}
	case "joined":
		h.onJoined(integer(seq), epoch, eq(recovered, "true"), messages)
	case "hello":
		h.onOpen()
	case "error":
		h.onServerError(string(code))
	}
	return nil
}

func (parleyWire) join(_ *int64, room string, epoch string, seq int64, resume bool) []byte {
	b := append([]byte(`{"type":"join","room":"`), room...)
	if resume {
		b = append(b, `","since":{"epoch":"`...)
		b = append(b, epoch...)
		b = append(b, `","seq":`...)
		b = strconv.AppendInt(b, seq, 10)
		return append(b, "}}"...)
	}
	return append(b, `"}`...)
}

func (parleyWire) send(_ *int64, room string, text []byte, cid []byte) []byte {
	b := make([]byte, 0, 64+len(room)+len(text)+len(cid))
	b = append(b, `{"type":"send","room":"`...)
	b = append(b, room...)
	b = append(b, `","text":"`...)
	b = append(b, text...)
	b = append(b, `","cid":"`...)
	b = append(b, cid...)
	return append(b, `"}`...)
}

func (parleyWire) heartbeat(_ *int64, id int64) []byte {
	return append(strconv.AppendInt([]byte(`{"type":"heartbeat","id":`), id, 10), '}')
}

// ---- Socket.IO peer

// The ack id carries what was asked in its low two bits, so a socket keeps no table of pending acks.
const (
	askJoin = iota
	askSend
	askHeartbeat
)

type socketioWire struct{}

func (socketioWire) name() string { return "socketio" }

func (socketioWire) url(base, user string) string {
	return wsBase(base) + "/socket.io/?EIO=4&transport=websocket&user=" + url.QueryEscape(user)
}

var pong = []byte("3")
var connectNs = []byte("40")

func (socketioWire) handle(b []byte, h handler) []byte {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '4': // Engine.IO message: a Socket.IO packet follows
	case '2': // ping
		return pong
	case '0': // open
		return connectNs
	default: // '1' close, '6' noop
		return nil
	}
	if len(b) < 2 {
		return nil
	}
	switch b[1] {
	case '2': // event: 42["message",{…}]
		i := skipSpace(b, 2)
		if i >= len(b) || b[i] != '[' {
			return nil
		}
		ne := skipString(b, skipSpace(b, i+1))
		if !eq(unquote(b[skipSpace(b, i+1):ne]), "message") {
			return nil
		}
		j := skipSpace(b, ne)
		if j < len(b) && b[j] == ',' {
			var seq, text, ts []byte
			eachField(b[j+1:], func(k, v []byte) {
				switch string(k) {
				case "seq":
					seq = v
				case "text":
					text = unquote(v)
				case "ts":
					ts = v
				}
			})
			h.onMessage(integer(seq), text, integer(ts))
		}
	case '3': // ack: 43<id>[answer]
		open := 2
		for open < len(b) && b[open] != '[' {
			open++
		}
		id := integer(b[2:open])
		var answer []byte
		eachElem(b[open:], func(v []byte) {
			if answer == nil {
				answer = v
			}
		})
		var errCode, cid, seq, success []byte
		eachField(answer, func(k, v []byte) {
			switch string(k) {
			case "error":
				errCode = unquote(v)
			case "cid":
				cid = unquote(v)
			case "seq":
				seq = v
			case "success":
				success = v
			}
		})
		if answer == nil {
			return nil
		}
		if errCode != nil {
			h.onServerError(string(errCode))
			return nil
		}
		switch id & 3 {
		case askJoin:
			h.onJoined(integer(seq), nil, false, nil)
		case askSend:
			h.onAck(cid)
		case askHeartbeat:
			if eq(success, "true") {
				h.onHeartbeat()
			}
		}
	case '0': // namespace connected
		h.onOpen()
	case '4': // connect error
		msg := "connect_error"
		eachField(b[2:], func(k, v []byte) {
			if eq(k, "message") {
				msg = string(unquote(v))
			}
		})
		h.onServerError(msg)
	}
	return nil
}

// emit frames 42<id>["event",{…}]; the id counter lives with the connection (next).
func emit(next *int64, kind int64, event string, body []byte) []byte {
	b := make([]byte, 0, 16+len(event)+len(body))
	b = append(b, "42"...)
	b = strconv.AppendInt(b, *next*4+kind, 10)
	*next++
	b = append(b, `["`...)
	b = append(b, event...)
	b = append(b, `",`...)
	b = append(b, body...)
	return append(b, ']')
}

func (socketioWire) join(next *int64, room string, _ string, _ int64, _ bool) []byte {
	return emit(next, askJoin, "join", []byte(`{"room":"`+room+`"}`))
}

func (socketioWire) send(next *int64, room string, text []byte, cid []byte) []byte {
	b := make([]byte, 0, 40+len(room)+len(text)+len(cid))
	b = append(b, `{"room":"`...)
	b = append(b, room...)
	b = append(b, `","text":"`...)
	b = append(b, text...)
	b = append(b, `","cid":"`...)
	b = append(b, cid...)
	return emit(next, askSend, "send", append(b, `"}`...))
}

func (socketioWire) heartbeat(next *int64, id int64) []byte {
	return emit(next, askHeartbeat, "heartbeat", append(strconv.AppendInt([]byte(`{"id":`), id, 10), '}'))
}
