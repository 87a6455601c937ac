/**
 * The typed client on Deno (its global WebSocket, as in browsers), one user speaking MessagePack
 * and one JSON in the same room: run by ws-encoding.suite.ts as
 * `deno run --allow-net --allow-env --allow-read test/e2e/deno-client.ts <url> <room>`; prints what
 * the MessagePack user got, as JSON.
 */
import { ParleyClient } from '@parley/client';

const [url, room] = Deno.args as [string, string];
setTimeout(() => {
  console.error('timed out');
  Deno.exit(1);
}, 15_000);
const packed = new ParleyClient({ url, user: `${room}-packed`, encoding: 'msgpack' });
const json = new ParleyClient({ url, user: `${room}-json` });
const joined = new Promise((resolve) => packed.on('joined', resolve));
const got = new Promise<{ from: string; text: string; seq: number }>((resolve) => packed.on('message', resolve));
packed.connect();
packed.join(room);
await joined;
json.connect();
json.join(room);
const ack = await json.send(room, 'from Deno ✓');
const message = await got;
packed.close();
json.close();
console.log(JSON.stringify({ ack: ack.seq, from: message.from, text: message.text, seq: message.seq }));
Deno.exit(0);
