import { createHash } from 'node:crypto';
import { z } from 'zod';
import { createServiceClient } from '@mercado/common/http';

/** Checks a payment terminal's id and secret (the users service's registry). */
export interface TerminalVerifier {
  (terminalId: string, secret: Buffer): Promise<boolean>;
  /** Forgets what was cached for a terminal (its credentials were revoked), or for every one. */
  forget?(terminalId?: string): void;
}

/** The users service's internal route that checks a terminal's secret. */
export const terminalVerifyPath = '/internal/terminals/verify';

/**
 * The longest id and secret worth asking about. Registry ids are at most 64 characters and secrets
 * 43 (32 random bytes, base64url); the users service refuses a longer id, or a secret over 256, as
 * malformed, so those are answered here: no such terminal.
 */
const maxIdLength = 64;
const maxSecretBytes = 256;

export interface TerminalVerifierOptions {
  /** The users service's base URL, or several (tried round robin, as the kit's service client does). */
  usersUrl: string | readonly string[];
  /** Signs the broker's service identity (service `broker`) on each question. */
  internalSecret: string;
  /** How long an answer is reused, yes or no. */
  cacheTtlMs?: number;
  /** Answers kept at most; the oldest go first. */
  maxCacheEntries?: number;
  /** How long to wait for the users service before the connection is refused as unavailable. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** The clock, in milliseconds (tests move it). */
  now?: () => number;
}

const verdict = z.object({ valid: z.boolean() });

interface CachedAnswer {
  expiresAt: number;
  valid: Promise<boolean>;
}

/**
 * Checks a terminal's id and secret against the users service's registry, for the broker's
 * `authenticate`. Answers are cached per (terminal id, SHA-256 of the secret) for `cacheTtlMs`,
 * valid or not: a terminal that reconnects in a loop, or many terminals after a broker restart,
 * cost the registry one question each per TTL. The secret itself is never kept, only its hash
 * inside the key. Questions already on their way are shared, not repeated.
 *
 * What the cache costs: a deleted terminal, or a rotated-away secret, would be accepted for up to
 * `cacheTtlMs` after the change; the users service announces each such change, and the broker
 * then calls `forget` (see revocations.ts), so the TTL only bounds a missed announcement.
 *
 * When the users service cannot answer (unreachable, timed out, or anything but a well-formed
 * 200), the promise rejects, nothing is cached, and the broker refuses the connection as "server
 * unavailable" (CONNACK 3) rather than "bad credentials": the terminal retries, and is not told
 * that its secret is wrong.
 */
export function createTerminalVerifier({
  usersUrl,
  internalSecret,
  cacheTtlMs = 30_000,
  maxCacheEntries = 10_000,
  timeoutMs = 5_000,
  fetch,
  now = Date.now,
}: TerminalVerifierOptions): TerminalVerifier {
  const client = createServiceClient({
    caller: 'broker',
    baseUrls: typeof usersUrl === 'string' ? [usersUrl] : usersUrl,
    internalSecret,
    timeoutMs,
    ...(fetch ? { fetch } : {}),
  });
  const answers = new Map<string, CachedAnswer>();

  async function ask(terminalId: string, secret: Buffer): Promise<boolean> {
    const response = await client.request<unknown>('POST', terminalVerifyPath, {
      terminalId,
      secret: secret.toString('utf8'),
    });
    const parsed = response.status === 200 ? verdict.safeParse(response.body) : undefined;
    if (!parsed?.success) {
      const code = (response.body as { code?: unknown } | undefined)?.code;
      throw new Error(
        `the users service answered ${response.status}${typeof code === 'string' ? ` ${code}` : ''} to a terminal verification`,
      );
    }
    return parsed.data.valid;
  }

  function remember(key: string, answer: CachedAnswer): void {
    answers.set(key, answer);
    // A Map iterates in insertion order, so the first key is the oldest.
    while (answers.size > maxCacheEntries) answers.delete(answers.keys().next().value!);
  }

  function verifyTerminal(terminalId: string, secret: Buffer): Promise<boolean> {
    if (terminalId.length === 0 || terminalId.length > maxIdLength) return Promise.resolve(false);
    if (secret.length === 0 || secret.length > maxSecretBytes) return Promise.resolve(false);
    const key = `${terminalId}\n${createHash('sha256').update(secret).digest('base64url')}`;
    const at = now();
    const cached = answers.get(key);
    if (cached && cached.expiresAt > at) return cached.valid;
    if (cached) answers.delete(key);
    const answer: CachedAnswer = { expiresAt: at + cacheTtlMs, valid: ask(terminalId, secret) };
    remember(key, answer);
    answer.valid.catch(function forgetFailure() {
      if (answers.get(key) === answer) answers.delete(key);
    });
    return answer.valid;
  }

  verifyTerminal.forget = function forget(terminalId?: string): void {
    if (terminalId === undefined) {
      answers.clear();
      return;
    }
    const prefix = `${terminalId}\n`;
    for (const key of answers.keys()) if (key.startsWith(prefix)) answers.delete(key);
  };
  return verifyTerminal;
}
