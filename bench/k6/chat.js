// The reference design's chat flow (../../../shared/reference/01-…): every user connects through the
// balancer with a unique name, joins a room, sends at an interval and heartbeats. Delivery latency is
// measured from the sender's clock, written into the message text, to its receipt by every member of
// the room (the sender included).
//
//   npm run bench -- chat 10k          # starts the stack, runs this in enough k6 processes, writes results
//   .data/bin/k6 run bench/k6/chat.js -e BASE=http://127.0.0.1:8000 -e USERS=1000 -e STEPS=100:30
//
// Settings (-e NAME=value), read by ./lib/flow.js:
//   PROTO        parley (default) or socketio: which adapter in ./lib speaks to the backend
//   BASE         the balancer, http://127.0.0.1:8000
//   USERS        users (sockets) held by this k6 process; TOTAL_USERS and USER_OFFSET when several
//                processes share one run (bench/run.ts starts one per 9,000 sockets)
//   ROOM_SIZE    members per room (rooms = TOTAL_USERS / ROOM_SIZE; user g joins room g % rooms)
//   VUS          VUs of this process; each holds USERS / VUS sockets (k6/websockets: many per VU)
//   RAMP_S       seconds over which the sockets are opened
//   START_AT     epoch ms at which sending starts (the same for every process); default: after the ramp
//   STEPS        rate:seconds,… messages/s sent by this process in each step (fan-out sweeps use several)
//   DRAIN_S      seconds to wait for in-flight deliveries after the last step (default 3)
//   HEARTBEAT_S  seconds between one socket's heartbeats (default 30, as in the reference design)
//   TEXT_BYTES   message text length (default 64)
//   SAMPLE_EVERY feed 1 in N deliveries to the k6 Trend behind the threshold; the result lines count all
//   P99_MS       threshold on delivery_latency's p(99) (default 20)
//   RUN          a short id that makes user and room names unique to this run
import { flowOptions, runFlow } from './lib/flow.js';

export const options = flowOptions();

export default function () {
  runFlow();
}
