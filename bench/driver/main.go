// parley-driver: a lean load driver for bench/run.ts. One goroutine per socket reads its frames and
// scans them for the few fields it counts (no JSON decoding on the path of a delivery); one goroutine
// sends at the step's rate. It runs the scenarios of bench/k6/ (chat, history, storm) against parley or
// the Socket.IO peer, with the same settings and the same accounting, and prints the same result line.
//
//	parley-driver chat|history|storm     settings from the environment, as bench/k6/chat.js documents them
//	parley-driver ceiling [-url ws://127.0.0.1:24900/] [-conns 10000] [-dur 25]
//	parley-driver version
//
// Built into .data/bin/ by bench/driver/build.ts (npm run setup does it).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"
)

const version = "1.0.0"

func main() {
	if len(os.Args) < 2 {
		fail("usage: parley-driver chat|history|storm|ceiling|version")
	}
	// Few, large collections: the driver's garbage is mostly per-frame buffers.
	debug.SetGCPercent(400)
	switch cmd := os.Args[1]; cmd {
	case "version":
		fmt.Printf("parley-driver %s\n", version)
	case "chat", "history", "storm":
		s := newSession(loadConfig(cmd))
		switch cmd {
		case "history":
			history(s)
		case "storm":
			storm(s)
		}
		os.Exit(s.flow())
	case "ceiling":
		fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
		url := fs.String("url", "ws://127.0.0.1:24900/", "the bare server of bench/k6/ceiling-server.ts")
		conns := fs.Int("conns", 10000, "sockets")
		dur := fs.Float64("dur", 25, "seconds in all; frames are counted after the first 8")
		fs.Parse(os.Args[2:])
		ceiling(*url, *conns, *dur)
	default:
		fail("unknown command %s", cmd)
	}
}
