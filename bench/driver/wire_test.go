package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// recorder is a handler that writes down what it was told.
type recorder struct{ calls []string }

func (r *recorder) add(parts ...string) { r.calls = append(r.calls, strings.Join(parts, " ")) }
func (r *recorder) onOpen()             { r.add("open") }
func (r *recorder) onJoined(seq int64, epoch []byte, recovered bool, messages []byte) {
	n := 0
	eachElem(messages, func([]byte) { n++ })
	r.add("joined", itoa(seq), string(epoch), btoa(recovered), itoa(int64(n)))
}
func (r *recorder) onMessage(seq int64, text []byte, ts int64) {
	r.add("message", itoa(seq), string(text), itoa(ts))
}
func (r *recorder) onAck(cid []byte)          { r.add("ack", string(cid)) }
func (r *recorder) onHeartbeat()              { r.add("heartbeat") }
func (r *recorder) onServerError(code string) { r.add("error", code) }

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func btoa(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestParleyFrames(t *testing.T) {
	frames := []string{
		`{"type":"hello","user":"u1","conn":"c","instance":"i","heartbeatMs":30000}`,
		`{"type":"joined","room":"r","epoch":"e1","seq":57,"recovered":true,"messages":[{"seq":56,"text":"a"},{"seq":57,"text":"b {\"x\":[1]}"}],"members":[]}`,
		`{"type":"message","room":"r","epoch":"e1","seq":58,"from":"alice","text":"1732300000000.125 u1 xx","ts":1732300000001,"cid":"c-1"}`,
		`{"type":"batch","events":[{"type":"presence","room":"r","user":"b","status":"online"},{"type":"message","room":"r","seq":59,"text":"t59","ts":5},{"type":"ack","cid":"c9-1","room":"r","seq":59}]}`,
		`{"type":"heartbeat","id":7,"success":true}`,
		`{"type":"heartbeat","id":8,"success":false}`,
		`{"type":"error","code":"rate_limited","message":"slow down","cid":"c-2"}`,
	}
	r := &recorder{}
	for _, f := range frames {
		if reply := (parleyWire{}).handle([]byte(f), r); reply != nil {
			t.Fatalf("parley frames need no reply, got %q", reply)
		}
	}
	want := []string{
		"open",
		"joined 57 e1 true 2",
		"message 58 1732300000000.125 u1 xx 1732300000001",
		"message 59 t59 5",
		"ack c9-1",
		"heartbeat",
		"error rate_limited",
	}
	if strings.Join(r.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(r.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestParleyOutgoing(t *testing.T) {
	w := parleyWire{}
	var next int64
	for _, c := range []struct{ got, want string }{
		{string(w.join(&next, "r-1", "", -1, false)), `{"type":"join","room":"r-1"}`},
		{string(w.join(&next, "r-1", "e1", 41, true)), `{"type":"join","room":"r-1","since":{"epoch":"e1","seq":41}}`},
		{string(w.send(&next, "r-1", []byte("12.5 u x"), []byte("c12500-3"))), `{"type":"send","room":"r-1","text":"12.5 u x","cid":"c12500-3"}`},
		{string(w.heartbeat(&next, 7)), `{"type":"heartbeat","id":7}`},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
		if !json.Valid([]byte(c.got)) {
			t.Errorf("not JSON: %s", c.got)
		}
	}
}

func TestSocketIOFrames(t *testing.T) {
	w := socketioWire{}
	r := &recorder{}
	if reply := w.handle([]byte(`0{"sid":"x","pingInterval":25000}`), r); string(reply) != "40" {
		t.Fatalf("open: reply %q, want 40", reply)
	}
	if reply := w.handle([]byte(`2`), r); string(reply) != "3" {
		t.Fatalf("ping: reply %q, want 3", reply)
	}
	var next int64
	join := string(w.join(&next, "r", "", 0, false))                // id 0*4+0
	send := string(w.send(&next, "r", []byte("t"), []byte("c1-1"))) // id 1*4+1
	hb := string(w.heartbeat(&next, 3))                             // id 2*4+2
	if join != `420["join",{"room":"r"}]` || send != `425["send",{"room":"r","text":"t","cid":"c1-1"}]` || hb != `4210["heartbeat",{"id":3}]` {
		t.Fatalf("outgoing: %s %s %s", join, send, hb)
	}
	for _, f := range []string{
		`40{"sid":"abc"}`,
		`430[{"room":"r","seq":4}]`,
		`42["message",{"room":"r","seq":5,"from":"u","text":"99.5 u x","ts":100,"cid":"c1-1"}]`,
		`42["presence",{"room":"r"}]`,
		`435[{"cid":"c1-1","seq":5,"ts":100}]`,
		`4310[{"id":3,"success":true}]`,
		`439[{"cid":"c1-2","error":"not_joined"}]`,
		`44{"message":"unauthorized"}`,
	} {
		if reply := w.handle([]byte(f), r); reply != nil {
			t.Fatalf("%s: unexpected reply %q", f, reply)
		}
	}
	want := []string{"open", "joined 4  false 0", "message 5 99.5 u x 100", "ack c1-1", "heartbeat", "error not_joined", "error unauthorized"}
	if strings.Join(r.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(r.calls, "\n"), strings.Join(want, "\n"))
	}
}

func TestNumbersAndStamps(t *testing.T) {
	if got := stamp([]byte("1732300000000.125 u1 xx")); got != 1732300000000.125 {
		t.Errorf("stamp: %f", got)
	}
	if got := num([]byte("c")); got != 0 {
		t.Errorf("num of no digits: %f", got)
	}
	if got := integer([]byte("-42,")); got != -42 {
		t.Errorf("integer: %d", got)
	}
}

func TestHist(t *testing.T) {
	h := hist{}
	for _, ms := range []float64{0.04, 0.26, 12.34, 250.4, 12345, -3} {
		h.add(ms)
	}
	b, _ := json.Marshal(h)
	var m map[string]int
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"0", "0.3", "12.3", "250", "12300"} {
		if m[k] == 0 {
			t.Errorf("bucket %s missing in %s", k, b)
		}
	}
	if m["0"] != 2 {
		t.Errorf("negative and 0.04 ms go to 0: %s", b)
	}
	if q := h.quantile(0.5); q != 0.3 {
		t.Errorf("p50 %v, want 0.3 (nearest rank)", q)
	}
	if q := h.quantile(1); q != 12300 {
		t.Errorf("max %v", q)
	}
}
