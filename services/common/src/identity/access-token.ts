/**
 * What every verifier of a Mercado access token agrees on (the gateway for HTTP, the broker for a
 * browser's MQTT connection), so that a token one accepts the other accepts too. The kit does not
 * verify tokens itself (each verifier holds its own key set, through jose); it states the policy.
 */

/**
 * Only EdDSA, as the users service signs: an allow-list, so `alg: none`, the
 * HS256-with-the-public-key trick and a token signed with any other key the set may hold are
 * refused before any key is used (RFC 8725 §3.1).
 */
export const accessTokenAlgorithms: readonly string[] = Object.freeze(['EdDSA']);

/** jose's codes for "this token is not acceptable", as opposed to "the keys could not be had". */
const tokenFaults = new Set([
  'ERR_JWT_EXPIRED',
  'ERR_JWT_CLAIM_VALIDATION_FAILED',
  'ERR_JWT_INVALID',
  'ERR_JWS_INVALID',
  'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  'ERR_JOSE_ALG_NOT_ALLOWED',
  'ERR_JOSE_NOT_SUPPORTED',
  'ERR_JWKS_NO_MATCHING_KEY',
  'ERR_JWKS_MULTIPLE_MATCHING_KEYS',
]);

/** The `code` of a jose error (or of anything with a string `code`). */
export function joseErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * True when a verification failure is the token's fault (expired, tampered, wrong algorithm, an
 * unknown key id): the caller is told its token is bad. Anything else (the key set unreachable or
 * malformed) is the verifier's own trouble, answered as unavailable so the caller retries.
 */
export function isAccessTokenFault(error: unknown): boolean {
  const code = joseErrorCode(error);
  return code !== undefined && tokenFaults.has(code);
}
