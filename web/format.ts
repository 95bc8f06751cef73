/**
 * Display formatting shared by the terminal and HTML reports. Money stays integer cents until here: dollars and
 * cents are split with integer arithmetic and grouped by hand, so no float ever touches an amount and the output
 * does not depend on the machine's locale data.
 */

/** 123456 → `$1,234.56`; -5 → `-$0.05`. */
export function formatCents(cents: number): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`not a whole number of cents: ${cents}`);
  const abs = Math.abs(cents);
  const dollars = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const rest = String(abs % 100).padStart(2, '0');
  return `${cents < 0 ? '-' : ''}$${dollars}.${rest}`;
}

/** `$1,234.56`, or an em dash for a figure that does not exist (e.g. cost per booked job without booked jobs). */
export function formatMaybeCents(cents: number | null): string {
  return cents === null ? '—' : formatCents(cents);
}

/** 0.4567 → `45.7%`. */
export function formatRate(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(1)}%`;
}

/** Return on spend, 2.345 → `2.35×`. */
export function formatMultiple(x: number | null): string {
  return x === null ? '—' : `${x.toFixed(2)}×`;
}

export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** An ISO instant as `2025-03-01 14:05 UTC` (reports are read by people; seconds add nothing). */
export function formatInstant(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const VERDICT_LABEL = { scale: 'scale', hold: 'hold', cut: 'cut', insufficient_data: 'insufficient data' } as const;
