import {
  checkTopicFilter,
  parseSharedFilter,
  topics,
  type TopicKey,
  type TopicParams,
} from '../contract/contract.js';

/** The parameters a filter fixes; each one left out is the single-level wildcard `+`. */
export type FilterParams<K extends TopicKey> = Partial<TopicParams<K>>;

/**
 * The subscription filter for a contract topic, built from its pattern: `topicFilter('orderStatus',
 * { userId })` is `orders/{userId}/+/status`, `topicFilter('terminalStatus')` is
 * `terminals/+/status`. A given parameter must be exactly one topic level (a TypeError names the
 * parameter, never its value), so no caller's value can widen a filter.
 */
export function topicFilter<K extends TopicKey>(topic: K, params: FilterParams<K> = {}): string {
  const given: Partial<Record<string, unknown>> = params;
  const filter = topics[topic].levels
    .map((level) => {
      if (level.kind === 'literal') return level.value;
      const value = given[level.name];
      if (value === undefined) return '+';
      if (typeof value !== 'string' || value === '' || /[/+#\0]/.test(value)) {
        throw new TypeError(
          `topic filter ${topic}: parameter ${level.name} must be one topic level`,
        );
      }
      return value;
    })
    .join('/');
  const problem = checkTopicFilter(filter);
  if (problem !== undefined) throw new TypeError(`topic filter ${topic}: ${problem}`);
  return filter;
}

/**
 * A shared subscription to a contract topic, `$share/{group}/{filter}` (MQTT 5.0 §4.8.2, which
 * Mercado's broker offers MQTT 3.1.1 clients too): each message goes to one member of the group,
 * e.g. one payments replica. The group is a short name of letters, digits, `-` and `_`.
 */
export function sharedTopicFilter<K extends TopicKey>(
  group: string,
  topic: K,
  params: FilterParams<K> = {},
): string {
  const filter = `$share/${group}/${topicFilter(topic, params)}`;
  const parsed = parseSharedFilter(filter);
  // A `/` in the group would move the rest into the filter: the group must come back whole.
  if (!parsed?.ok || parsed.group !== group) {
    throw new TypeError(`shared topic filter ${topic}: invalid_share_group`);
  }
  return filter;
}

/**
 * Whether a message published on `topic` matches `filter` (MQTT-4.7.1: `+` one level, `#` the
 * rest including the parent level; wildcards at the start never match a `$` topic, MQTT-4.7.2-1).
 * A shared filter matches what its inner filter does: messages keep their own topic.
 */
export function filterMatches(filter: string, topic: string): boolean {
  const shared = parseSharedFilter(filter);
  const plain = shared === undefined ? filter : shared.ok ? shared.filter : undefined;
  if (plain === undefined) return false;
  const wanted = plain.split('/');
  const levels = topic.split('/');
  if (topic.startsWith('$') && (wanted[0] === '+' || wanted[0] === '#')) return false;
  for (const [index, level] of wanted.entries()) {
    if (level === '#') return true;
    const actual = levels[index];
    if (actual === undefined) return false;
    if (level !== '+' && level !== actual) return false;
  }
  return wanted.length === levels.length;
}
