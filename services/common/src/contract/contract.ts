/**
 * The MQTT topic contract: every topic Mercado uses, its payload, and who may publish and
 * subscribe it. The broker's authorization hooks call `mayPublish` / `maySubscribe`; services build
 * topic names with `topics.x.build()` and check what they receive with `parsePayload`. A topic
 * that is not here is refused by the broker, whoever asks.
 */

import type { z } from 'zod';
import {
  lowStockReachedSchema,
  orderStatusChangedSchema,
  paymentIntentSchema,
  paymentKeysSchema,
  paymentRequestSchema,
  paymentResultSchema,
  refundRequestSchema,
  paymentStatusRequestSchema,
  paymentStatusSchema,
  revocationSchema,
  terminalRequestSchema,
  terminalResultSchema,
  terminalStatusSchema,
  terminalTransactionSchema,
} from './payloads.js';

export const mqttServices = [
  'users',
  'products',
  'inventory',
  'orders',
  'payments',
  'gateway',
] as const;
export type MqttServiceName = (typeof mqttServices)[number];

/** Who holds an MQTT connection, as the broker established when it authenticated it. */
export type Principal =
  | { kind: 'service'; service: MqttServiceName }
  | {
      kind: 'browser';
      userId: string;
      /** The roles its access token carries (a role taken away revokes the token). */
      roles?: readonly string[];
    }
  | { kind: 'terminal'; terminalId: string };

/**
 * MQTT allows 65535 bytes (MQTT-4.7.3-3); Mercado's topics are a few ids long, so anything near
 * these caps is a mistake or an attack on the broker's subscription tree.
 */
export const maxTopicBytes = 256;
export const maxTopicLevelBytes = 128;
/** Every Mercado payload is a small JSON object; the largest, a card payment, is under 1 KiB. */
export const maxPayloadBytes = 64 * 1024;

/** The names of a pattern's `{param}` levels, as a union of string literals. */
export type PatternParams<Pattern extends string> =
  Pattern extends `${string}{${infer Param}}${infer Rest}` ? Param | PatternParams<Rest> : never;

/**
 * Who a rule admits: any of the listed services, every terminal, the one terminal / browser
 * whose own id is the topic's value at `idParam`, or every browser whose token carries `role`
 * (whatever the topic's ids: only for reading, an admin's back office).
 */
export type AccessRule<Param extends string = string> =
  | { kind: 'service'; services: readonly MqttServiceName[] }
  | { kind: 'terminals' }
  | { kind: 'terminal'; idParam: Param }
  | { kind: 'browser'; idParam: Param }
  | { kind: 'browserRole'; role: 'admin' };

type PatternLevel = { kind: 'literal'; value: string } | { kind: 'param'; name: string };

type BuildArgs<Pattern extends string> = [PatternParams<Pattern>] extends [never]
  ? []
  : [params: Record<PatternParams<Pattern>, string>];

interface TopicDefinition<Pattern extends string, Schema extends z.ZodType> {
  /** Levels in braces are parameters, each one whole level. */
  readonly pattern: Pattern;
  readonly schema: Schema;
  /** The QoS publishers use and subscribers ask for. */
  readonly qos: 0 | 1;
  /** Whether messages are published retained; on any other topic a retained publish is refused. */
  readonly retain: boolean;
  readonly publish: readonly AccessRule<PatternParams<Pattern>>[];
  readonly subscribe: readonly AccessRule<PatternParams<Pattern>>[];
}

export interface TopicSpec<
  Name extends string = string,
  Pattern extends string = string,
  Schema extends z.ZodType = z.ZodType,
> extends TopicDefinition<Pattern, Schema> {
  readonly name: Name;
  readonly levels: readonly PatternLevel[];
  /**
   * The concrete topic for these parameters; throws a TypeError naming the parameter (never its
   * value) when one is not exactly one topic level.
   */
  build(...args: BuildArgs<Pattern>): string;
}

/** What the functions below need of a spec, whatever its pattern. */
interface AnyTopicSpec {
  readonly name: TopicKey;
  readonly levels: readonly PatternLevel[];
  readonly schema: z.ZodType;
  readonly retain: boolean;
  readonly publish: readonly AccessRule[];
  readonly subscribe: readonly AccessRule[];
}

function defineTopic<
  const Name extends string,
  const Pattern extends string,
  Schema extends z.ZodType,
>(name: Name, definition: TopicDefinition<Pattern, Schema>): TopicSpec<Name, Pattern, Schema> {
  const levels = definition.pattern.split('/').map((level): PatternLevel => {
    const param = /^\{(\w+)\}$/.exec(level)?.[1];
    return param === undefined ? { kind: 'literal', value: level } : { kind: 'param', name: param };
  });
  // Frozen: this is the broker's policy, and no importer may loosen it at run time.
  return Object.freeze({
    ...definition,
    publish: Object.freeze(definition.publish.map((rule) => Object.freeze(rule))),
    subscribe: Object.freeze(definition.subscribe.map((rule) => Object.freeze(rule))),
    name,
    levels: Object.freeze(levels),
    build(...args: BuildArgs<Pattern>): string {
      const params: Partial<Record<string, unknown>> = args[0] ?? {};
      const topic = levels
        .map((level) => {
          if (level.kind === 'literal') return level.value;
          const value = params[level.name];
          const problem = checkTopicParam(value);
          if (problem !== undefined) {
            throw new TypeError(`topic ${name}: parameter ${level.name} ${problem}`);
          }
          return value as string;
        })
        .join('/');
      const problem = checkTopicName(topic);
      if (problem !== undefined) throw new TypeError(`topic ${name}: ${problem}`);
      return topic;
    },
  });
}

const service = (...services: MqttServiceName[]): AccessRule<never> => ({
  kind: 'service',
  services: Object.freeze(services),
});

export const topics = Object.freeze({
  paymentIntents: defineTopic('paymentIntents', {
    pattern: 'payments/intents',
    schema: paymentIntentSchema,
    qos: 1,
    retain: false,
    publish: [service('orders')],
    subscribe: [service('payments')],
  }),
  paymentRequests: defineTopic('paymentRequests', {
    pattern: 'payments/requests',
    schema: paymentRequestSchema,
    qos: 1,
    retain: false,
    publish: [service('gateway')],
    // It carries a card: only the service that charges it may read it.
    subscribe: [service('payments')],
  }),
  paymentResults: defineTopic('paymentResults', {
    pattern: 'payments/results/{orderId}',
    schema: paymentResultSchema,
    qos: 1,
    retain: false,
    publish: [service('payments')],
    // orders through `$share/orders/…/+`; a gateway replica only the orders it waits for.
    subscribe: [service('orders', 'gateway')],
  }),
  refundRequests: defineTopic('refundRequests', {
    pattern: 'payments/refunds',
    schema: refundRequestSchema,
    qos: 1,
    retain: false,
    publish: [service('orders')],
    subscribe: [service('payments')],
  }),
  paymentStatusRequests: defineTopic('paymentStatusRequests', {
    pattern: 'payments/status-requests',
    schema: paymentStatusRequestSchema,
    qos: 1,
    retain: false,
    publish: [service('orders')],
    subscribe: [service('payments')],
  }),
  paymentStatus: defineTopic('paymentStatus', {
    pattern: 'payments/status/{orderId}',
    schema: paymentStatusSchema,
    qos: 1,
    retain: false,
    publish: [service('payments')],
    // orders through `$share/orders/…/+`: any replica may apply an answer.
    subscribe: [service('orders')],
  }),
  paymentKeys: defineTopic('paymentKeys', {
    pattern: 'payments/keys',
    schema: paymentKeysSchema,
    qos: 1,
    // Retained: a gateway replica learns the keys on subscribing, whenever it starts.
    retain: true,
    publish: [service('payments')],
    // Terminals encrypt the cards they read for payments, as the gateway does.
    subscribe: [service('gateway'), { kind: 'terminals' }],
  }),
  terminalRequests: defineTopic('terminalRequests', {
    pattern: 'terminals/{terminalId}/requests',
    schema: terminalRequestSchema,
    qos: 1,
    retain: false,
    publish: [{ kind: 'terminal', idParam: 'terminalId' }],
    // Payments through `$share/payments/terminals/+/requests`.
    subscribe: [service('payments')],
  }),
  terminalResults: defineTopic('terminalResults', {
    pattern: 'terminals/{terminalId}/results',
    schema: terminalResultSchema,
    qos: 1,
    retain: false,
    publish: [service('payments')],
    subscribe: [{ kind: 'terminal', idParam: 'terminalId' }],
  }),
  terminalStatus: defineTopic('terminalStatus', {
    pattern: 'terminals/{terminalId}/status',
    schema: terminalStatusSchema,
    qos: 1,
    // Retained so a subscriber learns every terminal's presence on subscribing (MQTT-3.3.1-6);
    // the terminal's last will publishes `offline` here when its connection drops (MQTT-3.1.2-8).
    retain: true,
    publish: [{ kind: 'terminal', idParam: 'terminalId' }],
    // users keeps the terminal registry and shows each terminal's presence in the admin's list;
    // an admin's back office follows it live (read only: nobody but the terminal publishes here).
    subscribe: [service('payments', 'gateway', 'users'), { kind: 'browserRole', role: 'admin' }],
  }),
  terminalTransactions: defineTopic('terminalTransactions', {
    pattern: 'payments/terminal-transactions',
    schema: terminalTransactionSchema,
    qos: 1,
    retain: false,
    publish: [service('payments')],
    // users keeps each terminal's last transactions and today's totals for the admin's list.
    subscribe: [service('users')],
  }),
  orderStatus: defineTopic('orderStatus', {
    pattern: 'orders/{userId}/{orderId}/status',
    schema: orderStatusChangedSchema,
    qos: 1,
    retain: false,
    publish: [service('orders')],
    subscribe: [{ kind: 'browser', idParam: 'userId' }, service('gateway')],
  }),
  lowStock: defineTopic('lowStock', {
    pattern: 'inventory/low-stock',
    schema: lowStockReachedSchema,
    qos: 1,
    retain: false,
    publish: [service('inventory')],
    subscribe: [service('products', 'orders', 'gateway')],
  }),
  revocations: defineTopic('revocations', {
    pattern: 'users/revocations',
    schema: revocationSchema,
    qos: 1,
    retain: false,
    publish: [service('users')],
    // Every gateway replica holds its own copy (a plain subscription, never a shared one). The
    // broker is no client: each node reads the topic from its own message stream.
    subscribe: [service('gateway')],
  }),
});

type Topics = typeof topics;
/** The contract's own name for a topic: `paymentResults`, `orderStatus`, … */
export type TopicKey = keyof Topics;
export type TopicPayload<K extends TopicKey> = z.output<Topics[K]['schema']>;
export type TopicParams<K extends TopicKey> = Record<PatternParams<Topics[K]['pattern']>, string>;
/** A concrete topic recognised as one of the contract's, with its parameters. */
export type TopicMatch = { [K in TopicKey]: { name: K; params: TopicParams<K> } }[TopicKey];

const topicList: readonly AnyTopicSpec[] = Object.values(topics);

/**
 * The contract topics by level count and first level: every PUBLISH is matched, so a topic is
 * compared with the one or two specs that can match it rather than with all of them.
 */
const topicsByShape = new Map<string, AnyTopicSpec[]>();
for (const spec of topicList) {
  const first = spec.levels[0];
  if (first?.kind !== 'literal') throw new Error(`${spec.name}: a pattern starts with a literal`);
  const shape = `${spec.levels.length}/${first.value}`;
  topicsByShape.set(shape, [...(topicsByShape.get(shape) ?? []), spec]);
}

export function isTopicKey(value: string): value is TopicKey {
  return Object.hasOwn(topics, value);
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why a string cannot be a topic name or filter at all, whatever its wildcards; undefined when it
 * can.
 */
function checkTopicText(topic: string): string | undefined {
  if (topic.length === 0) return 'empty'; // MQTT-4.7.3-1
  // MQTT 3.1.1 §1.5.3: control characters SHOULD NOT appear; in a topic they would only ever
  // serve to forge log lines. NUL is forbidden outright (MQTT-4.7.3-2).
  if (controlCharacter.test(topic)) {
    return topic.includes('\0') ? 'null_character' : 'control_character';
  }
  // A lone surrogate has no UTF-8 encoding (MQTT-1.5.3-1).
  if (loneSurrogate.test(topic)) return 'malformed_utf8';
  // A UTF-16 unit is at most 3 UTF-8 bytes: short topics need no counting (every publish passes
  // here, so this is the broker's hot path).
  if (topic.length * 3 <= maxTopicLevelBytes) return undefined;
  if (Buffer.byteLength(topic, 'utf8') > maxTopicBytes) return 'too_long';
  for (const level of topic.split('/')) {
    if (Buffer.byteLength(level, 'utf8') > maxTopicLevelBytes) return 'level_too_long';
  }
  return undefined;
}

/**
 * Why `topic` is not a valid topic name (the topic of a PUBLISH), or undefined when it is.
 * Reasons: empty, null_character, malformed_utf8, control_character, too_long, level_too_long,
 * wildcard_in_name.
 */
export function checkTopicName(topic: string): string | undefined {
  const problem = checkTopicText(topic);
  if (problem !== undefined) return problem;
  // MQTT-4.7.1-1, MQTT-3.3.2-2: wildcards belong to filters only.
  if (topic.includes('+') || topic.includes('#')) return 'wildcard_in_name';
  return undefined;
}

/**
 * Why `filter` is not a valid topic filter (of a SUBSCRIBE), or undefined when it is. Reasons:
 * those of `checkTopicName` but wildcard_in_name, plus misplaced_multi_level_wildcard and
 * misplaced_single_level_wildcard.
 */
export function checkTopicFilter(filter: string): string | undefined {
  const problem = checkTopicText(filter);
  if (problem !== undefined) return problem;
  const levels = filter.split('/');
  for (const [index, level] of levels.entries()) {
    // MQTT-4.7.1-2: `#` stands alone in its level and is the last level.
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) {
      return 'misplaced_multi_level_wildcard';
    }
    // MQTT-4.7.1-3: `+` occupies a whole level.
    if (level.includes('+') && level !== '+') return 'misplaced_single_level_wildcard';
  }
  return undefined;
}

/** Why `value` cannot be a parameter level, or undefined when it can. */
function checkTopicParam(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'is missing';
  if (value === '') return 'is empty';
  if (/[/+#\0]/.test(value)) return 'contains a level separator, a wildcard or NUL';
  return undefined;
}

function matchLevels(
  spec: AnyTopicSpec,
  levels: readonly string[],
): Record<string, string> | undefined {
  if (levels.length !== spec.levels.length) return undefined;
  const params: Record<string, string> = {};
  for (let index = 0; index < levels.length; index++) {
    const level = spec.levels[index]!;
    const value = levels[index]!;
    if (level.kind === 'literal') {
      if (value !== level.value) return undefined;
    } else {
      // An empty level is a valid topic level, but never an id.
      if (value === '') return undefined;
      params[level.name] = value;
    }
  }
  return params;
}

/**
 * Recent answers of matchTopic (a pure function): most messages go to a few fixed topics, and the
 * broker asks for every one. Emptied when full rather than kept in LRU order: cheap, and bounded.
 */
const recentMatches = new Map<string, TopicMatch | null>();
const maxRecentMatches = 4_096;

/** The contract topic a concrete topic name is an instance of, with its parameters (frozen). */
export function matchTopic(topic: string): TopicMatch | undefined {
  const recent = recentMatches.get(topic);
  if (recent !== undefined) return recent ?? undefined;
  const match = findTopic(topic);
  if (recentMatches.size >= maxRecentMatches) recentMatches.clear();
  recentMatches.set(topic, match ?? null);
  return match;
}

function findTopic(topic: string): TopicMatch | undefined {
  if (checkTopicName(topic) !== undefined) return undefined;
  const levels = topic.split('/');
  const candidates = topicsByShape.get(`${levels.length}/${levels[0]}`);
  if (candidates === undefined) return undefined;
  for (const spec of candidates) {
    const params = matchLevels(spec, levels);
    if (params !== undefined) {
      return Object.freeze({ name: spec.name, params: Object.freeze(params) }) as TopicMatch;
    }
  }
  return undefined;
}

/**
 * Whether some topic name of `spec` matches the (valid) filter. A parameter level matches any
 * non-empty level; `#` also matches its parent level (MQTT-4.7.1-2), so `a/b/#` reaches `a/b`.
 */
function filterReaches(filter: readonly string[], spec: AnyTopicSpec): boolean {
  for (const [index, level] of filter.entries()) {
    if (level === '#') return true;
    const patternLevel = spec.levels[index];
    if (patternLevel === undefined) return false;
    if (level === '+') continue;
    if (patternLevel.kind === 'literal' ? level !== patternLevel.value : level === '') return false;
  }
  return filter.length === spec.levels.length;
}

/** Whether one of `rules` admits `principal`; `idAt` gives a parameter's value, if it is fixed. */
function admits(
  rules: readonly AccessRule[],
  principal: Principal,
  idAt: (param: string) => string | undefined,
): boolean {
  return rules.some((rule) => {
    switch (rule.kind) {
      case 'service':
        return principal.kind === 'service' && rule.services.includes(principal.service);
      case 'terminals':
        return principal.kind === 'terminal';
      case 'terminal':
        return principal.kind === 'terminal' && isOwnId(idAt(rule.idParam), principal.terminalId);
      case 'browser':
        return principal.kind === 'browser' && isOwnId(idAt(rule.idParam), principal.userId);
      case 'browserRole':
        return principal.kind === 'browser' && (principal.roles?.includes(rule.role) ?? false);
    }
  });
}

function isOwnId(level: string | undefined, id: unknown): boolean {
  return level !== undefined && typeof id === 'string' && id !== '' && level === id;
}

export interface PublishOptions {
  /** The PUBLISH packet's RETAIN flag. */
  retain?: boolean;
}

/**
 * Whether `principal` may publish to `topic`: a valid topic name of a contract topic whose publish
 * rule admits it. Topics beginning with `$` are reserved for the broker's own use (MQTT 3.1.1
 * §4.7.2) and nobody publishes there. With `retain`, the topic must be one the contract publishes
 * retained: the broker keeps a retained message for every later subscriber (MQTT-3.3.1-5), and a
 * retained payment request would keep a card on it.
 */
export function mayPublish(
  principal: Principal,
  topic: string,
  options: PublishOptions = {},
): boolean {
  return publishedTopic(principal, topic, options) !== undefined;
}

/** The contract topic `principal` may publish `topic` as, or undefined (see mayPublish). */
function publishedTopic(
  principal: Principal,
  topic: string,
  options: PublishOptions,
): TopicMatch | undefined {
  if (topic.startsWith('$')) return undefined;
  const match = matchTopic(topic);
  if (match === undefined) return undefined;
  const spec: AnyTopicSpec = topics[match.name];
  if (options.retain === true && !spec.retain) return undefined;
  const params: Partial<Record<string, string>> = match.params;
  return admits(spec.publish, principal, (param) => params[param]) ? match : undefined;
}

export type PublishCheck =
  | { ok: true; name: TopicKey }
  | { ok: false; denied: true }
  | { ok: false; denied: false; reason: string };

/**
 * What the broker asks of each PUBLISH, matching the topic once: may `principal` publish it
 * (mayPublish), and, with `validate`, is the payload what the contract says (parsePayload's
 * reasons)?
 */
export function checkPublish(
  principal: Principal,
  topic: string,
  payload: Uint8Array | string,
  options: PublishOptions & { validate?: boolean } = {},
): PublishCheck {
  const match = publishedTopic(principal, topic, options);
  if (match === undefined) return { ok: false, denied: true };
  if (options.validate === false) return { ok: true, name: match.name };
  const parsed = parseMatched(match.name, match, payload);
  return parsed.ok
    ? { ok: true, name: match.name }
    : { ok: false, denied: false, reason: parsed.reason };
}

export type SharedFilter =
  { ok: true; group: string; filter: string } | { ok: false; reason: string };

const sharePrefix = '$share/';

/**
 * Splits a shared subscription `$share/{group}/{filter}` (MQTT 5.0 §4.8.2, which our broker adds
 * for MQTT 3.1.1 clients too): undefined when `filter` is not one. Reasons: invalid_share_group,
 * missing_share_filter, or the inner filter's `checkTopicFilter` reason.
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(sharePrefix)) return undefined;
  const rest = filter.slice(sharePrefix.length);
  const slash = rest.indexOf('/');
  const group = slash === -1 ? rest : rest.slice(0, slash);
  // MQTT 5.0 MQTT-4.8.2-1, MQTT-4.8.2-2: a non-empty share name without `/`, `+` or `#`; Mercado
  // narrows it further to a name that is safe in logs and metrics labels.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(group)) return { ok: false, reason: 'invalid_share_group' };
  const inner = slash === -1 ? '' : rest.slice(slash + 1);
  if (inner === '') return { ok: false, reason: 'missing_share_filter' };
  const problem = checkTopicFilter(inner);
  if (problem !== undefined) return { ok: false, reason: problem };
  return { ok: true, group, filter: inner };
}

/**
 * Whether `principal` may subscribe to `filter` (a shared subscription is judged by its inner
 * filter). The filter must reach at least one contract topic, and every contract topic it could
 * reach must admit the principal as a subscriber; where the rule is "its own id", the filter's
 * level there must be that id literally, since a wildcard would reach other users' or terminals'
 * topics. Filters beginning with `$` reach only the broker's own topics (MQTT-4.7.2-1) and are
 * refused.
 */
export function maySubscribe(principal: Principal, filter: string): boolean {
  const shared = parseSharedFilter(filter);
  if (shared !== undefined && !shared.ok) return false;
  const plain = shared === undefined ? filter : shared.filter;
  if (plain.startsWith('$') || checkTopicFilter(plain) !== undefined) return false;
  const levels = plain.split('/');
  const multiLevel = levels.indexOf('#');
  let reached = false;
  for (const spec of topicList) {
    if (!filterReaches(levels, spec)) continue;
    reached = true;
    const idAt = (param: string): string | undefined => {
      const index = spec.levels.findIndex(
        (level) => level.kind === 'param' && level.name === param,
      );
      if (multiLevel !== -1 && multiLevel <= index) return undefined;
      const level = levels[index];
      return level === '+' ? undefined : level;
    };
    if (!admits(spec.subscribe, principal, idAt)) return false;
  }
  return reached;
}

export type ParsedPayload<K extends TopicKey = TopicKey> = {
  [N in K]: { ok: true; name: N; value: TopicPayload<N> };
}[K];
export type ParsedMessage = {
  [N in TopicKey]: { ok: true; name: N; params: TopicParams<N>; value: TopicPayload<N> };
}[TopicKey];
export interface PayloadFailure {
  ok: false;
  /** Short and stable, and safe to log: it names fields, never their values. */
  reason: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a payload received on a topic: by the topic's key, or by the concrete topic (then the
 * result carries its parameters, and an id the topic names must equal the payload's). Never
 * throws. Reasons: unknown_topic, too_large, not_json, `invalid_payload: <path> <code>, …`,
 * `topic_mismatch: <param>`.
 */
export function parsePayload<K extends TopicKey>(
  name: K,
  payload: Uint8Array | string,
): ParsedPayload<K> | PayloadFailure;
export function parsePayload(
  topic: string,
  payload: Uint8Array | string,
): ParsedMessage | PayloadFailure;
export function parsePayload(
  nameOrTopic: string,
  payload: Uint8Array | string,
): ParsedPayload | ParsedMessage | PayloadFailure {
  const match = isTopicKey(nameOrTopic) ? undefined : matchTopic(nameOrTopic);
  const name = isTopicKey(nameOrTopic) ? nameOrTopic : match?.name;
  if (name === undefined) return { ok: false, reason: 'unknown_topic' };
  return parseMatched(name, match, payload);
}

function parseMatched(
  name: TopicKey,
  match: TopicMatch | undefined,
  payload: Uint8Array | string,
): ParsedPayload | ParsedMessage | PayloadFailure {
  const size =
    typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
  if (size > maxPayloadBytes) return { ok: false, reason: 'too_large' };
  let json: unknown;
  try {
    // JSON is UTF-8 (RFC 8259 §8.1): bytes that are not are not JSON.
    json = JSON.parse(typeof payload === 'string' ? payload : utf8.decode(payload));
  } catch {
    return { ok: false, reason: 'not_json' };
  }
  const result = (topics[name].schema as z.ZodType).safeParse(json);
  if (!result.success) {
    return { ok: false, reason: `invalid_payload: ${describeIssues(result.error.issues)}` };
  }
  const value = result.data as Record<string, unknown>;
  if (match === undefined) return { ok: true, name, value } as ParsedPayload;
  const params: Record<string, string> = match.params;
  for (const [param, id] of Object.entries(params)) {
    if (Object.hasOwn(value, param) && value[param] !== id) {
      return { ok: false, reason: `topic_mismatch: ${param}` };
    }
  }
  return { ok: true, name, params, value } as ParsedMessage;
}

/**
 * `card.number invalid_format, amountMinor too_big`: paths come from the schema, so they are
 * field names we chose; unknown keys are the sender's text (a card number could be one) and are
 * not named.
 */
function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const described = issues.map((issue) => {
    const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
    return `${path} ${issue.code === 'unrecognized_keys' ? 'unknown_field' : issue.code}`;
  });
  return [...new Set(described)].slice(0, 10).join(', ');
}
