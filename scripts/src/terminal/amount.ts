import { UsageError } from './errors.js';

/*
 * Amounts as a till's keypad takes them (major units, `12.50`) and as the contract carries them
 * (integer minor units, `1250`), converted by string arithmetic: `19.99 * 100` is
 * `1998.9999999999998` in floating point, and a terminal must never round a customer's money.
 */

/**
 * ISO 4217 currencies whose minor unit is not the hundredth; every other code has two decimals.
 * A table rather than `Intl`: ICU follows CLDR, which gives some codes (IQD, LBP…) fewer digits
 * than ISO 4217, and payments counts in ISO's minor units.
 */
const exponents: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** The contract's largest amount (services/common/src/contract/payloads.ts, `amountMinor`). */
export const maxAmountMinor = 100_000_000_000;

/** `eur` → `EUR`; anything that is not three letters is refused. */
export function normalizeCurrency(currency: string): string {
  const code = currency.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) {
    throw new UsageError(`currency "${currency}" is not an ISO 4217 code (three letters: EUR)`);
  }
  return code;
}

/** How many decimals `currency`'s minor unit has (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorUnitDigits(currency: string): number {
  return exponents[normalizeCurrency(currency)] ?? 2;
}

/**
 * `12.50` EUR → 1250. Digits with at most the currency's decimals (a `.` separates them), more
 * than zero and within the contract's ceiling; a sign, an exponent, a thousands separator or a
 * fraction of a cent is refused, never rounded.
 */
export function toMinorUnits(amount: string, currency: string): number {
  const digits = minorUnitDigits(currency);
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount.trim());
  if (!match) {
    throw new UsageError(
      `amount "${amount}" is not a number of ${normalizeCurrency(currency)} (12.50)`,
    );
  }
  const whole = match[1]!;
  const fraction = match[2] ?? '';
  if (fraction.replace(/0+$/, '').length > digits) {
    throw new UsageError(
      `amount "${amount}" has more decimals than ${normalizeCurrency(currency)} has (${digits})`,
    );
  }
  const minor =
    BigInt(whole) * 10n ** BigInt(digits) + BigInt(fraction.slice(0, digits).padEnd(digits, '0'));
  if (minor <= 0n) throw new UsageError(`amount "${amount}" must be more than zero`);
  if (minor > BigInt(maxAmountMinor)) {
    throw new UsageError(`amount "${amount}" is more than a terminal may ask for`);
  }
  return Number(minor);
}

/** 1250 EUR → `12.50 EUR`, for receipts and summaries. */
export function formatMinor(amountMinor: number, currency: string): string {
  const digits = minorUnitDigits(currency);
  const text = String(amountMinor).padStart(digits + 1, '0');
  const major = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return `${major} ${normalizeCurrency(currency)}`;
}
