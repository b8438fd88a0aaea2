import { randomUUID } from 'node:crypto';
import {
  paymentKeysSchema,
  terminalResultSchema,
  topics,
  type CardPublicJwk,
  type TerminalRequest,
  type TerminalResult,
} from '@mercado/common/contract';
import { connectMqtt, endMqtt, publishWithin, type MqttClient } from '@mercado/common/mqtt';
import { TerminalError } from './errors.js';

/** Real terminals wait about 120 s for an answer before they ask its status (payments' README). */
export const defaultTimeoutMs = 120_000;

/** The local broker `npm start` runs (MQTT_PORT, 1883 by default). */
export const defaultMqttUrl = 'mqtt://127.0.0.1:1883';

export interface TerminalOptions {
  url: string;
  terminalId: string;
  secret: string;
  /**
   * Presence (default true): `online` retained on every connection, `offline` as the last will
   * and on close, as the users service's README says a terminal does.
   */
  presence?: boolean;
  /** Between attempts to connect again once the broker dropped the connection (default 1 s). */
  reconnectPeriodMs?: number;
  /** What happened to the connection, for a human (the CLI writes it to stderr). */
  onEvent?: (message: string) => void;
}

/** One terminal's connection to the broker, subscribed to its results and to payments' keys. */
export interface TerminalConnection {
  readonly terminalId: string;
  readonly client: MqttClient;
  /** Payments' announced public keys (the retained `payments/keys`), once heard. */
  cardKeys(timeoutMs?: number): Promise<CardPublicJwk[]>;
  /** Publishes a request on `terminals/{id}/requests` (QoS 1, acknowledged by the broker). */
  publish(request: TerminalRequest): Promise<void>;
  /** The next answer to `requestId` heard from now on. */
  answerTo(requestId: string): Promise<TerminalResult>;
  /** Resolves the next time the connection is made again (results subscribed, presence sent). */
  reconnected(): Promise<void>;
  /** Presence `offline`, then a clean disconnect. */
  close(): Promise<void>;
}

/** A request id of the terminal's own: unique per terminal over 48 hours (a UUID is). */
export function newRequestId(): string {
  return randomUUID();
}

const statusPayload = (status: 'online' | 'offline') =>
  JSON.stringify({ type: 'terminal.status', status, at: new Date().toISOString() });

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3) as the broker's README explains them. */
const refusals: Record<number, string> = {
  2: 'client id refused',
  3: 'authentication unavailable: the broker could not reach the terminal registry',
  4: 'unknown terminal or wrong secret',
  5: 'no credentials',
};

function connectFailure(url: string, terminalId: string, error: unknown): TerminalError {
  const { code, message } = error as { code?: number | string; message?: string };
  if (typeof code === 'number' && refusals[code]) {
    return new TerminalError(`the broker refused terminal ${terminalId}: ${refusals[code]}`);
  }
  return new TerminalError(`cannot connect to ${url}: ${message ?? String(error)}`);
}

/**
 * Connects as the terminal (username `terminal:{id}`, client id `terminal-{id}`, its secret),
 * subscribes to its results and payments' keys, and says it is online. The broker admits one
 * connection per client id: another shell of the same terminal takes the connection over, and
 * this one connects again after `reconnectPeriodMs` (what `sendRequest` copes with).
 */
export async function connectTerminal(options: TerminalOptions): Promise<TerminalConnection> {
  const { url, terminalId, secret, presence = true, onEvent } = options;
  const resultsTopic = topics.terminalResults.build({ terminalId });
  const requestsTopic = topics.terminalRequests.build({ terminalId });
  const statusTopic = topics.terminalStatus.build({ terminalId });
  const keysTopic = topics.paymentKeys.build();
  let client: MqttClient;
  try {
    client = await connectMqtt(url, {
      clientId: `terminal-${terminalId}`,
      username: `terminal:${terminalId}`,
      password: secret,
      clean: true,
      reconnectPeriod: options.reconnectPeriodMs ?? 1_000,
      ...(presence
        ? {
            will: {
              topic: statusTopic,
              payload: Buffer.from(statusPayload('offline')),
              qos: 1,
              retain: true,
            },
          }
        : {}),
    });
  } catch (error) {
    throw connectFailure(url, terminalId, error);
  }

  const waiting = new Map<string, Array<(answer: TerminalResult) => void>>();
  let keys: CardPublicJwk[] | undefined;
  let keysHeard: Array<(keys: CardPublicJwk[]) => void> = [];
  let reconnections: Array<() => void> = [];
  let closing = false;

  client.on('message', function onTerminalMessage(topic, payload) {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return;
    }
    if (topic === resultsTopic) {
      const answer = terminalResultSchema.safeParse(json);
      if (!answer.success) return;
      const resolvers = waiting.get(answer.data.requestId) ?? [];
      waiting.delete(answer.data.requestId);
      for (const resolve of resolvers) resolve(answer.data);
    } else if (topic === keysTopic) {
      const announced = paymentKeysSchema.safeParse(json);
      if (!announced.success) return;
      keys = announced.data.keys as CardPublicJwk[];
      const heard = keysHeard;
      keysHeard = [];
      for (const resolve of heard) resolve(keys);
    }
  });

  async function subscribe(): Promise<void> {
    const granted = await client.subscribeAsync([resultsTopic, keysTopic], { qos: 1 });
    // SUBACK 0x80: the broker's topic contract refused the filter (MQTT-3.9.3).
    if (granted.some((grant) => grant.qos === 128)) {
      throw new TerminalError(`the broker refused terminal ${terminalId} its results or the keys`);
    }
    if (presence) {
      await client.publishAsync(statusTopic, statusPayload('online'), { qos: 1, retain: true });
    }
  }

  client.on('close', function onConnectionLost() {
    if (!closing) onEvent?.('connection lost (another connection of this terminal?); reconnecting');
  });
  // mqtt.js subscribes again by itself, but a status query sent right after must find the
  // results subscription in place: subscribing again first is harmless (MQTT-3.8.4-3).
  client.on('connect', function onReconnected() {
    subscribe().then(
      () => {
        onEvent?.('connected again');
        const waiters = reconnections;
        reconnections = [];
        for (const resolve of waiters) resolve();
      },
      (error: Error) => onEvent?.(error.message),
    );
  });

  await subscribe();

  return {
    terminalId,
    client,
    cardKeys(timeoutMs = 10_000) {
      if (keys) return Promise.resolve(keys);
      return withTimeout(
        new Promise<CardPublicJwk[]>((resolve) => keysHeard.push(resolve)),
        timeoutMs,
        () =>
          new TerminalError(
            `no card keys on ${keysTopic} in ${timeoutMs} ms: is payments running?`,
          ),
      );
    },
    async publish(request) {
      await client.publishAsync(requestsTopic, JSON.stringify(request), { qos: 1 });
    },
    answerTo(requestId) {
      return new Promise((resolve) => {
        waiting.set(requestId, [...(waiting.get(requestId) ?? []), resolve]);
      });
    },
    reconnected() {
      return new Promise((resolve) => reconnections.push(resolve));
    },
    async close() {
      closing = true;
      if (presence && client.connected) {
        await publishWithin(client, statusTopic, statusPayload('offline'), {
          qos: 1,
          retain: true,
        }).catch(() => undefined);
      }
      await endMqtt(client);
    },
  };
}

export interface SendOptions {
  /** How long to wait for the answer before asking its status (default 120 s). */
  timeoutMs?: number;
  /** Status queries answered `in_progress` before giving up (default 3). */
  maxStatusQueries?: number;
  /** Told when the simulator asks a status or sends the request again. */
  onEvent?: (message: string) => void;
}

/**
 * How a request ended: `answer` is payments' answer to it — straight, or the `original` a status
 * query returned — and `status` the status query's own answer when one was needed. `answer` is
 * the status answer itself (state `not_found`) when the request never reached payments.
 */
export interface RequestOutcome {
  request: TerminalRequest;
  answer: TerminalResult;
  status?: TerminalResult;
}

type Waited<T> = { kind: 'answer'; answer: T } | { kind: 'timeout' } | { kind: 'reconnected' };

/**
 * Sends one request and waits for its answer, as nexo's Sale-to-POI has a terminal do: no answer
 * within the timeout is followed by a status query for the request id, never by sending it again
 * blindly (it may have been charged) — `processed` gives the first answer, `in_progress` means
 * it is on its way (wait again), `not_found` that it never arrived. A connection the broker
 * dropped meanwhile (another shell of the terminal took it over) lost whatever was published to
 * it, so on reconnecting the simulator asks at once; only then, for `not_found`, is the request
 * sent again, which payments' README says is safe (a repeat gets the first answer).
 */
export async function sendRequest(
  terminal: TerminalConnection,
  request: TerminalRequest,
  options: SendOptions = {},
): Promise<RequestOutcome> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const maxStatusQueries = options.maxStatusQueries ?? 3;
  let answered = terminal.answerTo(request.requestId);
  await terminal.publish(request);
  let inProgress = 0;
  for (;;) {
    const waited = await waitFor(answered, terminal, timeoutMs);
    if (waited.kind === 'answer') return { request, answer: waited.answer };
    options.onEvent?.(
      waited.kind === 'timeout'
        ? `no answer in ${timeoutMs / 1000} s: asking the status of ${request.requestId}`
        : `asking the status of ${request.requestId}`,
    );
    const status = await askStatus(terminal, request.requestId, timeoutMs);
    if (status.state === 'processed' && status.original) {
      return { request, answer: status.original, status };
    }
    if (status.state === 'not_found') {
      if (waited.kind === 'timeout') return { request, answer: status, status };
      // Lost with the connection before payments had it: sending it again is safe.
      options.onEvent?.(`not found: sending ${request.requestId} again`);
      answered = terminal.answerTo(request.requestId);
      await terminal.publish(request);
    } else if (waited.kind === 'timeout' && ++inProgress >= maxStatusQueries) {
      throw new TerminalError(
        `${request.requestId} is still in progress after ${inProgress} status queries`,
      );
    }
  }
}

/** A status query of `ofRequestId`, asked again on each reconnection until it is answered. */
async function askStatus(
  terminal: TerminalConnection,
  ofRequestId: string,
  timeoutMs: number,
): Promise<TerminalResult> {
  for (;;) {
    const query = {
      type: 'terminal.status_requested' as const,
      requestId: newRequestId(),
      ofRequestId,
    };
    const answered = terminal.answerTo(query.requestId);
    await terminal.publish(query);
    const waited = await waitFor(answered, terminal, timeoutMs);
    if (waited.kind === 'answer') return waited.answer;
    if (waited.kind === 'timeout') {
      throw new TerminalError(`no answer to the status query of ${ofRequestId} either`);
    }
  }
}

async function waitFor<T>(
  answered: Promise<T>,
  terminal: TerminalConnection,
  timeoutMs: number,
): Promise<Waited<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      answered.then((answer): Waited<T> => ({ kind: 'answer', answer })),
      terminal.reconnected().then((): Waited<T> => ({ kind: 'reconnected' })),
      new Promise<Waited<T>>((resolve) => {
        timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
