import { generateSigningKey } from './signing-keys.js';

/**
 * `npm run keys:generate`: prints a new private signing key (one JSON line) on stdout, and on stderr
 * how to roll it in. Nothing is written anywhere else: where the key goes is the operator's call.
 */
async function main(): Promise<void> {
  const key = await generateSigningKey();
  process.stdout.write(`${JSON.stringify(key)}\n`);
  process.stderr.write(
    [
      `New signing key ${key.kid}. To rotate (see README.md, "Key rotation"):`,
      `  1. append it to the JSON array in JWT_SIGNING_KEYS and restart the users replicas;`,
      `  2. set JWT_ACTIVE_KID=${key.kid} and restart them again, so new tokens are signed with it;`,
      `  3. once the access-token lifetime has passed, remove the old key from JWT_SIGNING_KEYS.`,
      '',
    ].join('\n'),
  );
}

void main();
