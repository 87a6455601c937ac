/**
 * The MessagePack codec (subprotocol `parley.v1.msgpack`): the frames of docs/protocol.md as binary
 * MessagePack. Imported by `codec.ts` only when a client asks for `encoding: 'msgpack'`.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { Codec } from './codec.ts';
import { collectFrames } from './decode.ts';
import { SUBPROTOCOLS } from './wire.ts';

export const msgpackCodec: Codec = {
  protocol: SUBPROTOCOLS.msgpack,
  binaryType: 'arraybuffer',
  // Fields set to undefined are left out, as JSON leaves them out.
  encode: (frame) => encode(frame, { ignoreUndefined: true }),
  decode(data) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
    if (bytes === null) return [];
    try {
      return collectFrames(decode(bytes));
    } catch {
      return [];
    }
  },
};
