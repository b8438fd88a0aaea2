import { z } from 'zod';
import { roles } from '@mercado/common/identity';

// Limits before argon2 sees anything: an unbounded password is a cheap way to burn CPU.
const password = z.string().min(1).max(1024);
const email = z.string().trim().max(254).pipe(z.email());
const name = z.string().trim().min(1).max(100);

/** Whole-object rules run only on an otherwise valid object, so one mistake gives one error. */
const onlyWhenValid = (payload: { issues: unknown[] }) => payload.issues.length === 0;

export const registerBody = z.strictObject({
  email,
  password,
  name,
  roles: z
    .array(z.enum(['customer', 'seller']))
    .min(1)
    .max(2)
    .default(['customer']),
});

export const loginBody = z.strictObject({
  email: z.string().min(1).max(254),
  password,
});

export const refreshBody = z.strictObject({
  refreshToken: z.string().min(1).max(200),
});

export const updateMeBody = z
  .strictObject({
    name: name.optional(),
    currentPassword: password.optional(),
    newPassword: password.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'must change at least one field',
    when: onlyWhenValid,
  })
  .refine((body) => body.newPassword === undefined || body.currentPassword !== undefined, {
    message: 'is required to change the password',
    path: ['currentPassword'],
    when: onlyWhenValid,
  });

export const userIdParams = z.strictObject({ id: z.uuid() });

export const listUsersQuery = z.strictObject({
  q: z.string().trim().min(1).max(100).optional(),
  role: z.enum(roles).optional(),
  disabled: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().min(1).max(200).optional(),
});

export const adminUpdateBody = z
  .strictObject({
    roles: z.array(z.enum(roles)).min(1).max(roles.length).optional(),
    disabled: z.boolean().optional(),
    name: name.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, {
    message: 'must change at least one field',
    when: onlyWhenValid,
  });

/**
 * A terminal id an admin may choose: lower-case letters, digits and hyphens, 3 to 64 characters
 * (sql/users/0003_terminals.sql says why).
 */
export const terminalIdPattern = /^[a-z0-9][a-z0-9-]{2,63}$/;
const terminalId = z.string().regex(terminalIdPattern, {
  message: 'must be 3 to 64 lower-case letters, digits or hyphens, not starting with a hyphen',
});

export const createTerminalBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  id: terminalId.optional(),
  location: z.string().trim().min(1).max(200).optional(),
});

export const terminalIdParams = z.strictObject({ id: terminalId });

export const listTerminalsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

/**
 * The broker's question. Any id and secret the broker could be handed fit (its terminal ids are at
 * most 64 characters; broker/src/terminal-verifier.ts answers longer secrets itself), so a
 * well-formed question is never refused, only answered.
 */
export const verifyTerminalBody = z.strictObject({
  terminalId: z.string().min(1).max(64),
  secret: z.string().min(1).max(256),
});

// Response bodies, for the OpenAPI document.
export const userView = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  roles: z.array(z.enum(roles)),
  disabled: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});

export const sessionView = z.object({
  user: userView,
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  expiresIn: z.number().int(),
  refreshToken: z.string(),
  refreshTokenExpiresAt: z.iso.datetime(),
});

export const userPage = z.object({ items: z.array(userView), nextCursor: z.string().nullable() });

export const jwksView = z.object({
  keys: z.array(
    z.object({
      kty: z.string(),
      crv: z.string(),
      x: z.string(),
      kid: z.string(),
      alg: z.string(),
      use: z.string(),
    }),
  ),
});

const terminalTransactionView = z.object({
  id: z.uuid().describe("The event's id"),
  kind: z.enum(['payment', 'reversal']),
  outcome: z.enum(['approved', 'declined', 'reversed']),
  amountMinor: z.int().positive(),
  currency: z.string().describe('ISO 4217'),
  transactionId: z.string().nullable().describe("The processor's transaction (a reversal's own)"),
  orderId: z.uuid().nullable().describe('The order paid or refunded; null for a walk-in amount'),
  cardBrand: z.string().nullable(),
  cardLast4: z.string().nullable(),
  reason: z.string().nullable().describe("A decline's or a reversal's reason"),
  at: z.iso.datetime(),
});

const currencyTotalsView = z.object({
  currency: z.string(),
  approvedCount: z.int().nonnegative(),
  approvedMinor: z.int().nonnegative(),
  declinedCount: z.int().nonnegative(),
  reversedCount: z.int().nonnegative(),
  reversedMinor: z.int().nonnegative(),
  netMinor: z.int().describe('approvedMinor − reversedMinor'),
});

export const terminalView = z.object({
  id: z.string(),
  name: z.string(),
  location: z.string().nullable(),
  mqtt: z.object({
    username: z.string().describe('`terminal:{id}`'),
    clientId: z.string().describe('`terminal-{id}`'),
  }),
  presence: z.object({
    status: z.enum(['online', 'offline', 'unknown']),
    since: z.iso.datetime({ offset: true }).nullable(),
  }),
  lastTransactions: z
    .array(terminalTransactionView)
    .describe('Its newest transactions (at most 5), newest first, as payments announced them'),
  today: z
    .array(currencyTotalsView)
    .describe(
      'Totals over today (the calendar day in TERMINALS_TIME_ZONE), one entry per currency ' +
        'seen, in currency order; empty on a quiet day',
    ),
  createdAt: z.iso.datetime(),
  createdBy: z.uuid(),
  secretRotatedAt: z.iso.datetime(),
});

export const terminalCredentialsView = z.object({
  terminal: terminalView,
  secret: z
    .string()
    .describe("The terminal's MQTT password. Shown this once; only a hash is kept."),
});

export const terminalPage = z.object({
  items: z.array(terminalView),
  nextCursor: z.string().nullable(),
});

export const terminalVerdict = z.object({ valid: z.boolean() });
