import { createHmac } from 'node:crypto';

/** Card brands by their number's prefix (IIN ranges), with the lengths each issues. */
export type CardBrand =
  'visa' | 'mastercard' | 'amex' | 'discover' | 'diners' | 'jcb' | 'unionpay' | 'unknown';

interface BrandRule {
  brand: Exclude<CardBrand, 'unknown'>;
  matches(number: string): boolean;
  lengths: readonly number[];
  cvcLength: number;
}

const prefix = (number: string, digits: number) => Number(number.slice(0, digits));
const within = (value: number, low: number, high: number) => value >= low && value <= high;

/** Checked in order: the narrower ranges first (Discover's 6011 before UnionPay's 62…). */
const brandRules: readonly BrandRule[] = [
  { brand: 'amex', matches: (n) => /^3[47]/.test(n), lengths: [15], cvcLength: 4 },
  {
    brand: 'jcb',
    matches: (n) => within(prefix(n, 4), 3528, 3589),
    lengths: [16, 17, 18, 19],
    cvcLength: 3,
  },
  {
    brand: 'diners',
    matches: (n) => within(prefix(n, 3), 300, 305) || /^3[689]/.test(n),
    lengths: [14, 15, 16, 17, 18, 19],
    cvcLength: 3,
  },
  {
    brand: 'discover',
    matches: (n) => /^(6011|65)/.test(n) || within(prefix(n, 3), 644, 649),
    lengths: [16, 17, 18, 19],
    cvcLength: 3,
  },
  { brand: 'unionpay', matches: (n) => /^62/.test(n), lengths: [16, 17, 18, 19], cvcLength: 3 },
  {
    brand: 'mastercard',
    matches: (n) => within(prefix(n, 2), 51, 55) || within(prefix(n, 4), 2221, 2720),
    lengths: [16],
    cvcLength: 3,
  },
  { brand: 'visa', matches: (n) => n.startsWith('4'), lengths: [13, 16, 19], cvcLength: 3 },
];

export interface BrandInfo {
  brand: CardBrand;
  /** Whether the brand issues numbers of this length (false for an unknown brand). */
  lengthValid: boolean;
  /** The CVC length the brand prints (4 for American Express, 3 otherwise). */
  cvcLength: number;
}

export function detectBrand(number: string): BrandInfo {
  const rule = brandRules.find((candidate) => candidate.matches(number));
  if (!rule) return { brand: 'unknown', lengthValid: false, cvcLength: 3 };
  return {
    brand: rule.brand,
    lengthValid: rule.lengths.includes(number.length),
    cvcLength: rule.cvcLength,
  };
}

/** The Luhn (mod 10) check digit test (ISO/IEC 7812-1 Annex B). */
export function passesLuhn(number: string): boolean {
  if (!/^\d+$/.test(number)) return false;
  let sum = 0;
  for (let index = 0; index < number.length; index++) {
    let digit = Number(number[number.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * A keyed fingerprint of the card number (HMAC-SHA256 under CARD_FINGERPRINT_KEY, hex): the same
 * card always gives the same print, and without the key no print can be tested against a number
 * (a plain hash of a 16-digit number with a known prefix is brute-forced in minutes).
 */
export function cardFingerprint(number: string, key: string): string {
  return createHmac('sha256', key).update(number, 'utf8').digest('hex');
}

export function lastFour(number: string): string {
  return number.slice(-4);
}
