/** How many words of a search are used; the rest only narrow it further and cost time. */
const maxWords = 12;

/**
 * Builds a prefix-matching tsquery (`lap:* & pro:*`) from the words of what a shopper typed. Only
 * runs of letters and digits survive, so nothing the user types can be tsquery syntax (`&`, `|`,
 * `!`, `(`, `:`, `*`, quotes, backslashes are not letters); the result still travels as a bound
 * parameter. Returns undefined when the text holds no word at all.
 */
export function toPrefixTsquery(text: string): string | undefined {
  // NFC first, so an accent typed as a combining mark stays part of its letter.
  const words =
    text
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  const unique = [...new Set(words)].slice(0, maxWords);
  if (unique.length === 0) return undefined;
  return unique.map((word) => `${word}:*`).join(' & ');
}
