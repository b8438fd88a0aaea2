import type { Duplex } from 'node:stream';

/**
 * aedes (through mqtt-packet) buffers a packet until its whole declared length has arrived — up to
 * 256 MB (MQTT-2.2.3) — so one client could make the broker hold that much. The guard reads the
 * fixed header of every packet as the bytes go by (type byte, then the Remaining Length, 1–4
 * bytes of 7 bits each, MQTT 3.1.1 §2.2.3) and skips the body without copying it: it costs a few
 * operations per packet, not per byte. A packet declaring more than `maxBytes` ends the
 * connection before its body is read.
 */
export function createPacketSizeCheck(maxBytes: number): (chunk: Buffer) => boolean {
  // Bytes of the current packet's body still to skip; -1 while reading a fixed header.
  let skip = 0;
  let length = 0;
  let multiplier = 1;
  let inHeader = false;
  return function withinLimit(chunk: Buffer): boolean {
    let offset = 0;
    while (offset < chunk.length) {
      if (skip > 0) {
        const step = Math.min(skip, chunk.length - offset);
        skip -= step;
        offset += step;
        continue;
      }
      if (!inHeader) {
        // The packet type and flags byte.
        inHeader = true;
        length = 0;
        multiplier = 1;
        offset++;
        continue;
      }
      const byte = chunk[offset++]!;
      length += (byte & 0x7f) * multiplier;
      if (byte & 0x80) {
        multiplier *= 128;
        // A fifth length byte is malformed (MQTT-2.2.3): the parser would refuse it too.
        if (multiplier > 128 ** 3) return false;
        continue;
      }
      inHeader = false;
      if (length > maxBytes) return false;
      skip = length;
    }
    return true;
  };
}

/**
 * Puts the check in front of aedes, which reads the connection with `read()`: an oversized packet
 * destroys the connection and `onRefused` is told. Returns the same stream.
 */
export function guardPacketSize<S extends Duplex>(
  stream: S,
  maxBytes: number,
  onRefused: () => void,
): S {
  const withinLimit = createPacketSizeCheck(maxBytes);
  const read = stream.read.bind(stream);
  let refused = false;
  stream.read = function readChecked(size?: number) {
    if (refused) return null;
    const chunk = read(size) as Buffer | string | null;
    if (chunk !== null && !withinLimit(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) {
      refused = true;
      onRefused();
      stream.destroy();
      return null;
    }
    return chunk;
  } as S['read'];
  return stream;
}
