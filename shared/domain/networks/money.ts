/**
 * Amounts in a network's postbacks as exact integer cents, read from the decimal text and never through a float:
 * `12.5`, `12.50`, `$1,234.50`, `45.500`, `12.50 USD`. More than two decimals only when the rest are zeros (a
 * fraction of a cent is no amount), no sign (a postback states what the network bills; a credit comes on the
 * invoice), no exponent, grouping commas only in threes. The same grammar as the invoice reader's dollars
 * (reconciliation), kept here so that reconciliation can use the network findings without a cycle.
 */
const AMOUNT = /^\$?\s*(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?:\s*usd)?$/i;

export function parseAmountCents(raw: string): number | null {
  const m = AMOUNT.exec(raw.trim());
  if (m === null) return null;
  const fraction = (m[2] ?? '').padEnd(2, '0');
  if (!/^\d{2}0*$/.test(fraction)) return null;
  const whole = m[1]!.replaceAll(',', '');
  // 9,007,199,254,740,991 cents is the largest exact integer: refuse before any arithmetic could round.
  if (whole.length > 14) return null;
  const cents = Number(whole) * 100 + Number(fraction.slice(0, 2));
  return Number.isSafeInteger(cents) ? cents : null;
}
