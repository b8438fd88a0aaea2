import { defineErrors } from '@mercado/common/errors';

/** The gateway's own error codes: tokens, rate limits, and the services behind it. */
export const gatewayErrors = defineErrors({
  invalid_token: { status: 401, title: 'The access token is invalid or expired' },
  token_revoked: {
    status: 401,
    title: 'The access token was revoked (the account was disabled or its roles changed)',
  },
  rate_limited: { status: 429, title: 'Too many requests; slow down' },
  idempotency_key_required: {
    status: 400,
    title: 'An Idempotency-Key header (1–255 visible ASCII characters) is required',
  },
  upstream_unavailable: { status: 503, title: 'The service behind this route is unavailable' },
  upstream_timeout: { status: 504, title: 'The service behind this route did not answer in time' },
  circuit_open: {
    status: 503,
    title: 'The service behind this route is failing; retry shortly',
  },
});

export const gatewayError = gatewayErrors.error;
