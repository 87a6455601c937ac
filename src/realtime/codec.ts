/**
 * How frames look on the wire (docs/protocol.md, "Encodings"). A socket speaks JSON text frames by
 * default, or the same frames as binary MessagePack when its upgrade asked for the subprotocol
 * `parley.v1.msgpack`. Everything that depends on the encoding is here: choosing it at the upgrade,
 * reading inbound frames, and `OutFrame`, which encodes an outbound frame at most once per encoding
 * however many sockets it goes to.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { type Encoding, LIMITS, SUBPROTOCOLS } from '@parley/client/wire';
import { type ParseResult, checkClientFrame, parseClientFrame } from '../protocol/inbound.ts';

export type { Encoding };

/**
 * The subprotocol to answer an upgrade with, from its `Sec-WebSocket-Protocol` header: the first
 * one the client offers that this server speaks, or undefined (no header in the answer: JSON) when
 * it offers none of them. Both runtimes' upgrades and the route call this on the same header.
 */
export function chooseProtocol(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  for (const offered of header.split(',')) {
    const name = offered.trim();
    if (name === SUBPROTOCOLS.msgpack || name === SUBPROTOCOLS.json) return name;
  }
  return undefined;
}

/** The encoding a socket speaks, from its upgrade's `Sec-WebSocket-Protocol` header. */
export function encodingOf(header: string | null | undefined): Encoding {
  return chooseProtocol(header) === SUBPROTOCOLS.msgpack ? 'msgpack' : 'json';
}

/** `readClientFrame`'s answer to a frame past `LIMITS.frameBytes`: the socket is closed with 1009. */
export const TOO_LARGE = 'too_large';

// A frame of at most 16 KiB cannot hold more items than bytes: refuse headers that claim more
// rather than allocate for them.
const decoder = new Decoder({
  maxStrLength: LIMITS.frameBytes,
  maxBinLength: LIMITS.frameBytes,
  maxArrayLength: LIMITS.frameBytes,
  maxMapLength: LIMITS.frameBytes,
  maxExtLength: LIMITS.frameBytes,
});
// Fields set to undefined are left out, as JSON.stringify leaves them out.
const encoder = new Encoder({ ignoreUndefined: true });

/**
 * One inbound frame in the socket's encoding, decoded and validated. A frame of the other kind
 * (binary on a JSON socket, text on a MessagePack socket) is refused with `invalid_message`; only
 * runtimes that do not enforce the size limit themselves (Node's `ws` closes first) get a larger
 * frame here, answered `TOO_LARGE`. Never throws.
 */
export function readClientFrame(encoding: Encoding, data: unknown): ParseResult | typeof TOO_LARGE {
  if (encoding === 'json') {
    if (typeof data !== 'string') return refusal('this socket speaks JSON: frames must be text (or upgrade with parley.v1.msgpack)');
    if (data.length > LIMITS.frameBytes / 4 && new TextEncoder().encode(data).byteLength > LIMITS.frameBytes) return TOO_LARGE;
    return parseClientFrame(data);
  }
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
  if (bytes === null) return refusal('this socket speaks MessagePack: frames must be binary');
  if (bytes.byteLength > LIMITS.frameBytes) return TOO_LARGE;
  let value: unknown;
  try {
    value = decoder.decode(bytes);
  } catch {
    return refusal('frame is not MessagePack');
  }
  return checkClientFrame(value);
}

const refusal = (message: string): ParseResult => ({ ok: false, code: 'invalid_message', message });

/** `frame` in MessagePack; the bytes are a copy of their own. */
const pack = (frame: object) => encoder.encode(frame) as Bytes;
type Bytes = Uint8Array<ArrayBuffer>;

/**
 * Frames serialized in this process, by encoding and frame type (`parley_frames_encoded_total`): one
 * per `encodeFrame` and one per encoding an `OutFrame` is made in. A batch is put together from its
 * events' encodings and is not counted itself. Plain counts, so that the hot path pays one map update.
 */
const encoded: Record<Encoding, Map<string, number>> = { json: new Map(), msgpack: new Map() };

function count(encoding: Encoding, frame: object): void {
  const type = (frame as { type?: unknown }).type;
  const key = typeof type === 'string' ? type : 'unknown';
  const counts = encoded[encoding];
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Every frame serialized in this process so far, by encoding and type. */
export function framesEncoded(): { encoding: Encoding; type: string; n: number }[] {
  return (['json', 'msgpack'] as const).flatMap((encoding) => [...encoded[encoding]].map(([type, n]) => ({ encoding, type, n })));
}

/** A frame written directly to one socket (not through the hub): text for JSON, bytes for MessagePack. */
export function encodeFrame(encoding: Encoding, frame: object): string | Bytes {
  count(encoding, frame);
  return encoding === 'json' ? JSON.stringify(frame) : pack(frame);
}

/**
 * A frame on its way out, to one socket or to every member of a room. Each encoding is made on
 * first use and kept (`prepare`, `text`, `packed`), so a room event costs one JSON serialization
 * if any JSON socket gets it and one MessagePack encoding if any MessagePack socket does, whatever
 * the number of sockets. The hub prepares a frame when it queues it, so what goes out is the frame
 * as it was then. Frames are never changed after they are made.
 */
export class OutFrame {
  readonly #value: object;
  /** The frames of a `batch`, whose encodings are put together from theirs. */
  readonly #events: readonly OutFrame[] | null;
  #text: string | undefined = undefined;
  #packed: Bytes | undefined = undefined;
  /** The runtime's UTF-8 copy of `text`, where it sends text from bytes (Node); shared like `text`. */
  bytes: Uint8Array | undefined = undefined;

  constructor(value: object, events: readonly OutFrame[] | null = null) {
    this.#value = value;
    this.#events = events;
  }

  /** One `{"type":"batch","events":[…]}` frame carrying `events` in order (never `hello`). */
  static batch(events: readonly OutFrame[]): OutFrame {
    return new OutFrame(BATCH, events);
  }

  /** The frame as JSON text. */
  get text(): string {
    if (this.#text === undefined) {
      if (this.#events) this.#text = `{"type":"batch","events":[${this.#events.map((e) => e.text).join(',')}]}`;
      else {
        this.#text = JSON.stringify(this.#value);
        count('json', this.#value);
      }
    }
    return this.#text;
  }

  /** The frame as MessagePack bytes. */
  get packed(): Bytes {
    if (this.#packed === undefined) {
      if (this.#events) this.#packed = packBatch(this.#events);
      else {
        this.#packed = pack(this.#value);
        count('msgpack', this.#value);
      }
    }
    return this.#packed;
  }

  /** Makes the frame's encoding for `encoding` now, unless it is made already. */
  prepare(encoding: Encoding): void {
    if (encoding === 'json') void this.text;
    else void this.packed;
  }
}

const BATCH = { type: 'batch' } as const;
/** MessagePack of a map of two entries, `type: "batch"` and the key `events`: what precedes the array. */
const BATCH_HEAD = pack({ type: 'batch', events: null }).subarray(0, -1);

/** `{type:"batch",events:[…]}` in MessagePack, from the events' own encodings (not encoded again). */
function packBatch(events: readonly OutFrame[]): Bytes {
  const n = events.length;
  const header = n < 16 ? [0x90 | n] : n < 0x10000 ? [0xdc, n >> 8, n & 0xff] : [0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const parts = events.map((e) => e.packed);
  const out = new Uint8Array(BATCH_HEAD.byteLength + header.length + parts.reduce((sum, p) => sum + p.byteLength, 0));
  out.set(BATCH_HEAD, 0);
  out.set(header, BATCH_HEAD.byteLength);
  let at = BATCH_HEAD.byteLength + header.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
