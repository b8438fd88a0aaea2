/**
 * Censoring of secrets at any depth of a logged object. pino's own `redact` takes fixed paths
 * (`*.password` reaches one level), so a password two objects down, or in an array, got through;
 * this walks the whole object instead, on every line, and stays cheap on the hot path: a clean
 * object — the access log's `{ method, path, status, ms }` — is read once and returned as it is,
 * nothing allocated (scripts/src/bench-log.ts measures it).
 *
 * What is censored, wherever it is (keys compared without regard to case or separators):
 * - any key one of whose words is password/passwd/passphrase, token, secret, authorization,
 *   cookie, card, cvc/cvv/cvn, pin or pan, or that is a private key, an API key or a signature
 *   (`refreshToken`, `internal_secret`, `Set-Cookie`, `cardNumber`, `x-mercado-identity-signature`;
 *   not `cardinality` nor `tokenizer`), with everything below it;
 * - a key named `number` whose value looks like a card number (12 to 19 digits, as a number or a
 *   string, spaces and dashes allowed). Other numbers are ordinary fields: `{ number: 3 }` (a line
 *   number), `status`, `ms` are kept. A card object is censored whole by its own key (`card`).
 *
 * The caller's objects are never changed: what must be censored is copied on the way down.
 * Deeper than `maxDepth` levels everything is censored, so a pathological object cannot blow the
 * stack of the process that logs it; a circular reference is written `[Circular]`.
 */

export const censor = '[redacted]';

const maxDepth = 32;

const sensitiveWords = new Set([
  'password',
  'passwd',
  'passphrase',
  'token',
  'tokens',
  'secret',
  'secrets',
  'authorization',
  'cookie',
  'cookies',
  'card',
  'cards',
  'cvc',
  'cvv',
  'cvn',
  'pin',
  'pan',
  'signature',
]);

/** Word pairs that are sensitive together: `privateKey`, `apiKey`, `x-api-key`. */
const sensitivePairs: ReadonlyArray<readonly [string, string]> = [
  ['private', 'key'],
  ['api', 'key'],
];

/** Whole keys: the gateway's signed identity header (who the caller is, and from which address). */
const sensitiveKeys = new Set(['x-mercado-identity']);

/** Whether a key is sensitive, remembered per key: logs use few distinct keys. */
const verdicts = new Map<string, boolean>();
const maxVerdicts = 10_000;

/** `refreshToken`, `refresh_token`, `Refresh-Token` → ['refresh', 'token']. */
function wordsOf(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

export function isSensitiveKey(key: string): boolean {
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    const words = wordsOf(key);
    verdict =
      sensitiveKeys.has(key.toLowerCase()) ||
      words.some((word) => sensitiveWords.has(word)) ||
      sensitivePairs.some(([first, second]) => words.includes(first) && words.includes(second));
    if (verdicts.size < maxVerdicts) verdicts.set(key, verdict);
  }
  return verdict;
}

const cardLike = /^\d(?:[ -]?\d){11,18}$/;

/** A `number` that looks like a card's primary account number (ISO/IEC 7812: 12–19 digits). */
function isCardNumber(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 1e11 && value < 1e19;
  return typeof value === 'string' && value.length <= 40 && cardLike.test(value);
}

function mustCensor(key: string, value: unknown): boolean {
  if (isSensitiveKey(key)) return true;
  return key.length === 6 && key.toLowerCase() === 'number' && isCardNumber(value);
}

/** Objects whose JSON form is not their own properties: left to the serializer as they are. */
function isOpaque(value: object): boolean {
  return (
    value instanceof Date ||
    value instanceof RegExp ||
    ArrayBuffer.isView(value) ||
    value instanceof ArrayBuffer ||
    value instanceof Map ||
    value instanceof Set
  );
}

/** A copy of `value` (a plain object, an Error or a class instance) to censor on. */
function copyOf<T extends object>(value: T): T {
  if (Object.getPrototypeOf(value) === Object.prototype) return { ...value };
  // Errors and class instances keep their prototype and every own property (an Error's message
  // and stack are not enumerable), so the error serializer still recognises them.
  return Object.create(Object.getPrototypeOf(value), Object.getOwnPropertyDescriptors(value)) as T;
}

function put(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

const ancestors: object[] = [];

/** `value` with every secret below it censored: itself when it holds none. */
function censorBelow(value: object): unknown {
  if (ancestors.length >= maxDepth) return censor;
  if (isOpaque(value)) return value;
  // A copy made below must not lead back to the uncensored original: the cycle ends here, written
  // as the serializer would write it.
  if (ancestors.includes(value)) return '[Circular]';
  ancestors.push(value);
  try {
    if (Array.isArray(value)) return censorItems(value);
    let copy: object | undefined;
    for (const key in value) {
      if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
      const item: unknown = (value as Record<string, unknown>)[key];
      if (mustCensor(key, item)) {
        put((copy ??= copyOf(value)), key, censor);
      } else if (typeof item === 'object' && item !== null) {
        const censored = censorBelow(item);
        if (censored !== item) put((copy ??= copyOf(value)), key, censored);
      }
    }
    if (value instanceof Error) {
      // Not enumerable, yet serialized: an error's cause, an AggregateError's errors.
      for (const key of ['cause', 'errors'] as const) {
        const item: unknown = (value as unknown as Record<string, unknown>)[key];
        if (typeof item !== 'object' || item === null) continue;
        const censored = censorBelow(item);
        if (censored !== item) put((copy ??= copyOf(value)), key, censored);
      }
    }
    return copy ?? value;
  } finally {
    ancestors.pop();
  }
}

function censorItems(items: unknown[]): unknown[] {
  let copy: unknown[] | undefined;
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    if (typeof item !== 'object' || item === null) continue;
    const censored = censorBelow(item);
    if (censored !== item) (copy ??= items.slice())[index] = censored;
  }
  return copy ?? items;
}

/**
 * Censors a log line's merged object. The top level is pino's merge of the caller's object into
 * our mixin's fresh one, so it is censored in place; whatever lies below is the caller's and is
 * copied where it must change.
 */
export function redactSecrets<T extends Record<string, unknown>>(line: T): T {
  for (const key in line) {
    if (!Object.prototype.hasOwnProperty.call(line, key)) continue;
    const value: unknown = line[key];
    if (mustCensor(key, value)) {
      (line as Record<string, unknown>)[key] = censor;
    } else if (typeof value === 'object' && value !== null) {
      const censored = censorBelow(value);
      if (censored !== value) (line as Record<string, unknown>)[key] = censored;
    }
  }
  return line;
}
