package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
)

func TestARefusedUpgradeIsCountedWithItsStatus(t *testing.T) {
	if got := dialErrorKey(websocket.ErrBadHandshake, &http.Response{StatusCode: 503}); got != errorKey(websocket.ErrBadHandshake)+" (HTTP 503)" {
		t.Fatalf("refused upgrade: %q", got)
	}
	refused := errors.New("dial tcp 127.0.0.1:8080: connect: connection refused")
	if got := dialErrorKey(refused, nil); got != errorKey(refused) {
		t.Fatalf("no answer at all: %q", got)
	}
}
