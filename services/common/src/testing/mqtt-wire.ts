import net from 'node:net';

/**
 * A minimal MQTT 3.1.1 encoder and decoder (§2, §3), for bytes mqtt.js would refuse to send or
 * would send differently, and for thousands of cheap connections (the broker's tests, the broker
 * benchmark's idle connections).
 */

/** MQTT's Remaining Length: 7 bits a byte, low first, the high bit saying more follow (§2.2.3). */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  do {
    let byte = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) byte |= 0x80;
    bytes.push(byte);
  } while (length > 0);
  return Buffer.from(bytes);
}

/** A UTF-8 string with its two-byte length prefix (§1.5.3); NUL and all, as given. */
function utf8String(value: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A two-byte integer, most significant byte first (§1.5.2). */
function uint16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

/** A whole control packet: the first byte, the Remaining Length, then the parts (§2.1). */
function packet(firstByte: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

export const encode = {
  /**
   * CONNECT (§3.1): protocol `MQTT` level 4, clean session, a user name and a password when
   * given.
   */
  connect({
    clientId,
    username,
    password,
    keepalive = 30,
  }: {
    clientId: string;
    username?: string;
    password?: string | Buffer;
    keepalive?: number;
  }): Buffer {
    const flags = (username !== undefined ? 0x80 : 0) | (password !== undefined ? 0x40 : 0) | 0x02;
    return packet(
      0x10,
      utf8String('MQTT'),
      Buffer.from([4, flags]),
      uint16(keepalive),
      utf8String(clientId),
      ...(username !== undefined ? [utf8String(username)] : []),
      ...(password !== undefined ? [utf8String(password)] : []),
    );
  },
  /** SUBSCRIBE (§3.8): every filter at the same requested QoS. */
  subscribe(messageId: number, filters: Array<string | Buffer>, qos: 0 | 1 = 1): Buffer {
    return packet(
      0x82,
      uint16(messageId),
      ...filters.flatMap((filter) => [utf8String(filter), Buffer.from([qos])]),
    );
  },
  /** PUBLISH (§3.3): the packet identifier only at QoS 1. */
  publish({
    topic,
    payload,
    qos = 0,
    retain = false,
    messageId = 1,
  }: {
    topic: string | Buffer;
    payload: string | Buffer;
    qos?: 0 | 1;
    retain?: boolean;
    messageId?: number;
  }): Buffer {
    return packet(
      0x30 | (qos << 1) | (retain ? 1 : 0),
      utf8String(topic),
      ...(qos > 0 ? [uint16(messageId)] : []),
      Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8'),
    );
  },
  pingreq: () => Buffer.from([0xc0, 0x00]),
  disconnect: () => Buffer.from([0xe0, 0x00]),
};

export interface RawPacket {
  /** The packet type (§2.2.1): 2 CONNACK, 3 PUBLISH, 4 PUBACK, 9 SUBACK, 13 PINGRESP. */
  type: number;
  flags: number;
  body: Buffer;
}

/**
 * The first whole packet at the start of `bytes` and how many bytes it takes, or undefined while
 * it has not all arrived.
 */
export function decodePacket(bytes: Buffer): (RawPacket & { size: number }) | undefined {
  if (bytes.length < 2) return undefined;
  let length = 0;
  let multiplier = 1;
  let offset = 1;
  for (;;) {
    if (offset >= bytes.length) return undefined;
    const byte = bytes[offset++]!;
    length += (byte & 0x7f) * multiplier;
    multiplier *= 128;
    if ((byte & 0x80) === 0) break;
  }
  if (bytes.length < offset + length) return undefined;
  const first = bytes[0]!;
  return {
    type: first >> 4,
    flags: first & 0x0f,
    body: bytes.subarray(offset, offset + length),
    size: offset + length,
  };
}

/** One TCP connection speaking raw MQTT bytes, reading whole packets back. */
export class RawMqtt {
  private buffered = Buffer.alloc(0);
  private packets: RawPacket[] = [];
  private waiters: Array<() => void> = [];
  isClosed = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static open(port: number, options: { host?: string; localAddress?: string } = {}) {
    const { host = '127.0.0.1', localAddress } = options;
    return new Promise<RawMqtt>((resolve, reject) => {
      const socket = net.connect({ port, host, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawMqtt(socket));
      });
      socket.once('error', reject);
    });
  }

  private wake() {
    for (const wake of this.waiters.splice(0)) wake();
  }

  private parse() {
    for (;;) {
      const decoded = decodePacket(this.buffered);
      if (!decoded) return;
      const { type, flags, body, size } = decoded;
      this.packets.push({ type, flags, body });
      this.buffered = this.buffered.subarray(size);
    }
  }

  send(bytes: Buffer): void {
    if (!this.isClosed) this.socket.write(bytes);
  }

  /** The next packet of `type` (others before it are skipped), 'closed', or 'timeout'. */
  async next(type: number, timeoutMs = 3_000): Promise<RawPacket | 'closed' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.packets.findIndex((p) => p.type === type);
      if (index !== -1) return this.packets.splice(index, 1)[0]!;
      if (this.isClosed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends CONNECT; the CONNACK return code, or 'closed' when the broker hung up without one. */
  async connect(
    options: Parameters<typeof encode.connect>[0],
    timeoutMs = 3_000,
  ): Promise<number | 'closed' | 'timeout'> {
    this.send(encode.connect(options));
    const connack = await this.next(2, timeoutMs);
    return typeof connack === 'string' ? connack : connack.body[1]!;
  }

  /** Sends SUBSCRIBE; the SUBACK's codes, or 'closed' / 'timeout'. */
  async subscribe(
    filters: Array<string | Buffer>,
    messageId = 1,
    timeoutMs = 3_000,
  ): Promise<number[] | 'closed' | 'timeout'> {
    this.send(encode.subscribe(messageId, filters));
    const suback = await this.next(9, timeoutMs);
    return typeof suback === 'string' ? suback : [...suback.body.subarray(2)];
  }

  /** Sends a QoS 1 PUBLISH: 'acked', or 'closed' / 'timeout'. */
  async publish(
    topic: string | Buffer,
    payload: string | Buffer,
    options: { retain?: boolean; messageId?: number; timeoutMs?: number } = {},
  ): Promise<'acked' | 'closed' | 'timeout'> {
    const { retain = false, messageId = 1, timeoutMs = 3_000 } = options;
    this.send(encode.publish({ topic, payload, qos: 1, retain, messageId }));
    const puback = await this.next(4, timeoutMs);
    return typeof puback === 'string' ? puback : 'acked';
  }

  /** Whether the broker still answers: a PINGREQ gets its PINGRESP. */
  async alive(timeoutMs = 3_000): Promise<boolean> {
    this.send(encode.pingreq());
    return typeof (await this.next(13, timeoutMs)) !== 'string';
  }

  destroy(): void {
    this.socket.destroy();
  }
}
