/**
 * How the client writes and reads frames: JSON text frames (the default), or the same frames as
 * binary MessagePack over the subprotocol `parley.v1.msgpack` (`encoding: 'msgpack'`). The
 * MessagePack codec is a module of its own, imported on first use, so that bundles of JSON users do
 * not carry it (bundlers split a dynamic import into a chunk of its own).
 */
import { decodeFrames } from './decode.ts';
import type { Encoding, ServerFrame } from './wire.ts';

export type Codec = {
  /** The subprotocol the socket asks for; none for JSON, which every server speaks. */
  readonly protocol: string | undefined;
  /** Socket property to set, for binary frames to arrive as ArrayBuffers (browsers default to Blobs). */
  readonly binaryType: 'arraybuffer' | undefined;
  encode(frame: object): string | Uint8Array;
  /** The frames one WebSocket message carries, batches unwrapped; [] for anything malformed. Never throws. */
  decode(data: unknown): ServerFrame[];
};

export const jsonCodec: Codec = {
  protocol: undefined,
  binaryType: undefined,
  encode: (frame) => JSON.stringify(frame),
  decode: decodeFrames,
};

let msgpack: Promise<Codec> | undefined;

/** The codec of `encoding`: JSON at once, MessagePack once its module has loaded (a failed load is tried again next time). */
export function loadCodec(encoding: Encoding): Codec | Promise<Codec> {
  if (encoding === 'json') return jsonCodec;
  msgpack ??= import('./msgpack.ts').then(
    (m) => m.msgpackCodec,
    (err: unknown) => {
      msgpack = undefined;
      throw err;
    },
  );
  return msgpack;
}
