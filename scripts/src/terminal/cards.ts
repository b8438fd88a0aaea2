import { cardSchema, encryptCard, type CardPublicJwk } from '@mercado/common/contract';
import { UsageError } from './errors.js';

/** The sandbox's approving test card (services/payments/README.md, "Test cards"). */
export const approvingCard = '4242424242424242';

/**
 * A test card as the simulator's reader "reads" it: the number given, an expiry five years ahead
 * (the sandbox declines an expired one) and a CVC of the brand's length — four digits for
 * American Express (34, 37), three otherwise — so only the number decides the sandbox's answer.
 */
export function testCard(number: string = approvingCard, now = new Date()) {
  const digits = number.replace(/[\s-]/g, '');
  const card = {
    number: digits,
    expMonth: 12,
    expYear: now.getUTCFullYear() + 5,
    cvc: /^3[47]/.test(digits) ? '1234' : '123',
  };
  if (!cardSchema.safeParse(card).success) {
    throw new UsageError(`card "${number}" is not a card number (12 to 19 digits)`);
  }
  return card;
}

/** The card encrypted for payments' first announced key: the compact JWE a request carries. */
export function encryptTestCard(
  keys: readonly CardPublicJwk[],
  number: string = approvingCard,
): Promise<string> {
  return encryptCard(testCard(number), { keys });
}
