import { hash, verify } from '@node-rs/argon2';
import { usersError } from './errors.js';

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hashed: string, password: string): Promise<boolean>;
  /** Spends the same time as a real verify, so an unknown email is not told apart by timing. */
  burn(password: string): Promise<void>;
}

/** argon2id (the @node-rs/argon2 default algorithm) with configurable cost. */
export function createPasswordHasher({
  memoryKib,
  iterations,
}: {
  memoryKib: number;
  iterations: number;
}): PasswordHasher {
  const options = { memoryCost: memoryKib, timeCost: iterations, parallelism: 1 };
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, options),
    verify: (hashed, password) => verify(hashed, password).catch(() => false),
    async burn(password) {
      dummy ??= hash('mercado-timing-equaliser', options);
      await verify(await dummy, password).catch(() => false);
    },
  };
}

const minLength = 10;
const maxLength = 128;

// The most common passwords that pass a length rule (from public breach-frequency lists).
const common = new Set([
  'password123',
  'password1234',
  '1234567890',
  '12345678910',
  'qwertyuiop',
  'qwerty12345',
  'qwerty123456',
  'iloveyou123',
  'abcdefghij',
  'abc1234567',
  'passw0rd123',
  'letmein123',
  'welcome123',
  'administrator',
  'football123',
  'baseball123',
  'sunshine123',
  'princess123',
  'starwars123',
  'monkey12345',
  '1q2w3e4r5t',
  '1qaz2wsx3edc',
  'zaq12wsxcde3',
  '0987654321',
  '1111111111',
  'aaaaaaaaaa',
  'contraseña123',
  'mercado1234',
]);

/**
 * The password policy (after NIST SP 800-63B §5.1.1.2): long enough, not absurdly long, not a
 * well-known password, not the email, not one repeated character. No composition rules.
 */
export function checkPasswordPolicy(
  password: string,
  email: string,
  field = 'body.password',
): void {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < minLength) problems.push(`must be at least ${minLength} characters`);
  if (length > maxLength) problems.push(`must be at most ${maxLength} characters`);
  const lowered = password.toLowerCase();
  if (common.has(lowered)) problems.push('is too common');
  const localPart = email.split('@')[0] ?? '';
  if (lowered === email || (localPart.length >= 4 && lowered.includes(localPart))) {
    problems.push('must not contain your email');
  }
  if (length > 0 && new Set(password).size === 1)
    problems.push('must not be one repeated character');
  if (problems.length > 0) {
    throw usersError('weak_password', {
      errors: problems.map((message) => ({ path: field, message, code: 'weak_password' })),
    });
  }
}

/** Email addresses compare by their NFKC, trimmed, lower-case form. */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
