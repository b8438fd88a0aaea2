import { defineErrors } from '@mercado/common/errors';

/** The users service's own error codes (the kit's generic ones come with them). */
export const usersErrors = defineErrors({
  email_taken: { status: 409, title: 'An account with this email already exists' },
  weak_password: { status: 400, title: 'The password does not meet the policy' },
  invalid_credentials: { status: 401, title: 'Email or password is wrong' },
  account_disabled: { status: 403, title: 'This account is disabled' },
  invalid_refresh_token: { status: 401, title: 'The refresh token is invalid or expired' },
  refresh_token_reused: {
    status: 401,
    title: 'The refresh token was already used; its session has been revoked',
  },
  login_throttled: { status: 429, title: 'Too many failed logins; retry later' },
  cannot_modify_self: { status: 409, title: 'Admins cannot disable or demote themselves' },
  terminal_not_found: { status: 404, title: 'No terminal with this id is registered' },
  terminal_id_taken: {
    status: 409,
    title: 'This terminal id is taken (the ids of deleted terminals are never reused)',
  },
});

export const usersError = usersErrors.error;
