/** Money and dates in the shopper's own locale (the browser's). */
const locale = navigator.languages?.[0] ?? navigator.language ?? 'en';
const formats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
  let format = formats.get(currency);
  if (!format) {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
    formats.set(currency, format);
  }
  return format;
}

/** The currency's minor-unit digits (2 for EUR, 0 for JPY), as Intl knows them. */
export function minorDigits(currency: string): number {
  return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
}

/** An amount in minor units, as the API sends it, in the shopper's locale. */
export function money(amountMinor: number, currency: string): string {
  return moneyFormat(currency).format(amountMinor / 10 ** minorDigits(currency));
}

/** A price typed in major units ("12.5", "12,50") as minor units; undefined when it is not one. */
export function parseMajor(typed: string, currency: string): number | undefined {
  const text = typed.trim().replace(',', '.');
  if (text === '') return undefined;
  if (!/^\d{1,9}(\.\d{0,4})?$/.test(text)) return Number.NaN;
  return Math.round(Number(text) * 10 ** minorDigits(currency));
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}
