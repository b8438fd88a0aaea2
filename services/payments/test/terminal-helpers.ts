import { randomUUID } from 'node:crypto';
import {
  encryptCard,
  paymentKeysSchema,
  terminalResultSchema,
  type CardPublicJwk,
  type TerminalRequest,
  type TerminalResult,
} from '@mercado/common/contract';
import { connectMqtt, type MqttClient } from '@mercado/common/mqtt';
import type { CardProcessor } from '../src/app.js';
import {
  card,
  eventually,
  startPayments,
  startTestBroker,
  type PaymentsHarness,
  type TestBroker,
} from './helpers.js';

interface TestContext {
  teardown(fn: () => unknown): void;
}

/** The broker (with a stand-in terminal registry) and payments on it, its work running. */
export async function setUpTerminals(
  t: TestContext,
  env: Record<string, string> = {},
  processor?: CardProcessor,
): Promise<{ broker: TestBroker; payments: PaymentsHarness }> {
  const broker = await startTestBroker(t);
  const payments = await startPayments(
    t,
    { MQTT_URL: broker.url, ...env },
    { work: true, ...(processor ? { processor } : {}) },
  );
  await eventually(
    'payments subscribed to its five topics',
    () =>
      payments.logs.lines.filter((line) => line.msg === 'mqtt consumer subscribed').length === 5,
  );
  await payments.work!.keys!.announced();
  return { broker, payments };
}

export interface TestTerminal {
  id: string;
  secret: string;
  client: MqttClient;
  /** Every answer heard on terminals/{id}/results, in order. */
  answers: TerminalResult[];
  /** A card as the terminal reads it: encrypted for payments' announced key. */
  card(number?: string): Promise<string>;
  /** Publishes a request (or any payload) on the terminal's own requests topic. */
  send(request: TerminalRequest | string | Buffer, topic?: string): Promise<void>;
  /** Sends a request and waits for the next answer to its request id. */
  ask(request: TerminalRequest): Promise<TerminalResult>;
  /** The next answer to `requestId` after the `after`-th answer heard. */
  answerTo(requestId: string, after?: number): Promise<TerminalResult>;
  /** Connects again (a new connection, as a terminal that lost its link). */
  reconnect(): Promise<void>;
}

/** A terminal registered with the broker, connected, listening to its results and the keys. */
export async function connectTerminal(
  t: TestContext,
  broker: TestBroker,
  id = `till-${randomUUID().slice(0, 8)}`,
): Promise<TestTerminal> {
  const secret = broker.registerTerminal(id);
  const resultsTopic = `terminals/${id}/results`;
  const answers: TerminalResult[] = [];
  let keys: CardPublicJwk[] | undefined;
  const terminal: TestTerminal = {
    id,
    secret,
    client: undefined as unknown as MqttClient,
    answers,
    async card(number) {
      const announced = await eventually('the card keys', () => keys);
      return encryptCard(card(number), { keys: announced });
    },
    async send(request, topic = `terminals/${id}/requests`) {
      const payload =
        typeof request === 'string' || Buffer.isBuffer(request) ? request : JSON.stringify(request);
      await terminal.client.publishAsync(topic, payload, { qos: 1 });
    },
    async ask(request) {
      const after = answers.length;
      await terminal.send(request);
      return terminal.answerTo(request.requestId, after);
    },
    answerTo(requestId, after = 0) {
      return eventually(`the answer to ${requestId}`, () =>
        answers.slice(after).find((answer) => answer.requestId === requestId),
      );
    },
    async reconnect() {
      await terminal.client.endAsync(true);
      await connect();
    },
  };
  async function connect() {
    const client = await connectMqtt(broker.url, {
      clientId: `terminal-${id}`,
      username: `terminal:${id}`,
      password: secret,
      reconnectPeriod: 0,
    });
    client.on('message', (topic, payload) => {
      if (topic === resultsTopic) {
        answers.push(terminalResultSchema.parse(JSON.parse(payload.toString())));
      } else if (topic === 'payments/keys') {
        keys = paymentKeysSchema.parse(JSON.parse(payload.toString())).keys as CardPublicJwk[];
      }
    });
    await client.subscribeAsync([resultsTopic, 'payments/keys'], { qos: 1 });
    terminal.client = client;
  }
  await connect();
  t.teardown(() => terminal.client.endAsync(true));
  return terminal;
}
