import { z } from 'zod';

/**
 * The users service's list of recent revocations, `GET /internal/revocations`: one contract for
 * the service that answers it (users) and those that ask (every gateway replica and broker node,
 * when they start and whenever they may have missed a `users/revocations` announcement).
 */
export const revocationListPath = '/internal/revocations';

/** Who may read it. */
export const revocationListCallers = ['gateway', 'broker'] as const;

/**
 * The longest an access token may live (the ceiling of users' ACCESS_TOKEN_TTL_SECONDS): a
 * revocation older than this can refuse no token that is still valid.
 */
export const maxAccessTokenLifetimeSeconds = 24 * 3_600;

export const revocationListResponseSchema = z.object({
  accounts: z.array(
    z.object({
      userId: z.uuid(),
      revokedBefore: z.iso
        .datetime()
        .describe(
          'Tokens of this account issued at or before this instant (their `iat`) are refused',
        ),
    }),
  ),
});

export type RevocationListResponse = z.infer<typeof revocationListResponseSchema>;

/**
 * What a verifier of access tokens knows of revocations: per account, the instant at or before
 * which its tokens are refused. Fed by announcements and by the list; entries are forgotten once
 * no token issued before them can still be valid.
 */
export interface RevocationLedger {
  /** Records a revocation; false when an equal or later one was already known. */
  revoke(userId: string, beforeMs: number): boolean;
  /** Whether a token of `userId` issued at `issuedAtMs` (its `iat`, in ms) is refused. */
  isRevoked(userId: string, issuedAtMs: number): boolean;
  /** Records every entry of a fetched list; returns the accounts that were not known yet. */
  apply(list: RevocationListResponse): string[];
  /** Forgets what can no longer refuse a valid token, as of `nowMs`. */
  forgetExpired(nowMs: number): void;
  readonly size: number;
}

export function createRevocationLedger(): RevocationLedger {
  const revokedBefore = new Map<string, number>();
  const ledger: RevocationLedger = {
    revoke(userId, beforeMs) {
      const known = revokedBefore.get(userId);
      if (known !== undefined && known >= beforeMs) return false;
      revokedBefore.set(userId, beforeMs);
      return true;
    },
    isRevoked(userId, issuedAtMs) {
      const before = revokedBefore.get(userId);
      return before !== undefined && issuedAtMs <= before;
    },
    apply(list) {
      const learnt: string[] = [];
      for (const { userId, revokedBefore: before } of list.accounts) {
        if (ledger.revoke(userId, Date.parse(before))) learnt.push(userId);
      }
      return learnt;
    },
    forgetExpired(nowMs) {
      const horizon = nowMs - maxAccessTokenLifetimeSeconds * 1_000;
      for (const [userId, before] of revokedBefore) {
        if (before < horizon) revokedBefore.delete(userId);
      }
    },
    get size() {
      return revokedBefore.size;
    },
  };
  return ledger;
}
