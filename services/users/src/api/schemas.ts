import { z } from 'zod';
import { roles } from '@mercado/common';

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
