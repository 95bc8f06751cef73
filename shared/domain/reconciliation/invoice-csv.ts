/**
 * A publisher's invoice as CSV, read into lines: RFC 4180 (quoted fields, "" escapes, CRLF or LF), the header is the
 * first of the first 10 records that names an amount column and either a call id column or caller + start columns
 * (names matched loosely: case, spaces, `_` and `-` ignored). Amounts are dollars (`$1,234.50`, `45`, `(12.00)`
 * negative) unless the column name says cents; parsed from the digits, never through a float. Start times are
 * ISO-8601 (with an offset, or read in the account's time zone without one), `MM/DD/YYYY HH:MM[:SS] [AM|PM]`
 * (account zone) or epoch seconds/milliseconds. Bad lines are reported, not thrown. Pure.
 */
import { DomainError } from '../kernel/errors';
import { utcMs, zonedToUtcMs } from '../kernel/zoned-time';

export interface InvoiceLine {
  /** 1-based record number in the file (the header is a record too). */
  readonly lineNo: number;
  readonly callId: string | null;
  /** As written on the invoice (PII: hash it, never log it). */
  readonly caller: string | null;
  readonly startMs: number | null;
  readonly billedCents: number;
}

export interface InvoiceLineError {
  readonly lineNo: number;
  readonly field: 'callId' | 'caller' | 'start' | 'amount' | 'line';
  readonly message: string;
}

export interface ParsedInvoice {
  readonly lines: readonly InvoiceLine[];
  readonly errors: readonly InvoiceLineError[];
  readonly amountUnit: 'dollars' | 'cents';
}

/** RFC 4180 records. Blank lines are kept as `['']` so record numbers match the file. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte-order mark from spreadsheet exports
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();

const CALL_ID = new Set(['call id', 'callid', 'call sid', 'callsid', 'sid', 'id', 'call uuid', 'uuid', 'inbound call id']);
const CALLER = new Set(['caller', 'caller id', 'callerid', 'caller number', 'caller phone', 'from', 'from number', 'ani', 'phone', 'phone number']);
const START = new Set([
  'start',
  'start time',
  'started at',
  'call start',
  'call start time',
  'date',
  'date time',
  'datetime',
  'timestamp',
  'call date',
  'call time',
]);
const AMOUNT = new Set(['amount', 'billed', 'billed amount', 'payout', 'price', 'revenue', 'charge', 'cost', 'total', 'amount usd', 'payout usd']);

interface Columns {
  readonly callId: number | null;
  readonly caller: number | null;
  readonly start: number | null;
  readonly amount: number;
  readonly unit: 'dollars' | 'cents';
}

function detectColumns(record: readonly string[]): Columns | null {
  const names = record.map(norm);
  const find = (set: ReadonlySet<string>) => {
    const i = names.findIndex((n) => set.has(n));
    return i < 0 ? null : i;
  };
  const centsIndex = names.findIndex((n) => n.split(' ').includes('cents'));
  const dollarsIndex = find(AMOUNT);
  const amount = centsIndex >= 0 ? centsIndex : dollarsIndex;
  const callId = find(CALL_ID);
  const caller = find(CALLER);
  const start = find(START);
  if (amount === null || (callId === null && (caller === null || start === null))) return null;
  return { callId, caller, start, amount, unit: centsIndex >= 0 ? 'cents' : 'dollars' };
}

/** Exact integer cents from a money string, or null. `unit` says what the number counts. */
export function parseMoneyCents(raw: string, unit: 'dollars' | 'cents'): number | null {
  let s = raw.trim().replace(/\s*usd$/i, '');
  let negative = false;
  if (/^\(.*\)$/.test(s)) {
    negative = true;
    s = s.slice(1, -1).trim();
  }
  if (s.startsWith('-')) {
    negative = !negative;
    s = s.slice(1).trim();
  }
  s = s.replace(/^\$\s*/, '');
  if (unit === 'cents') {
    if (!/^\d+$/.test(s)) return null;
    const cents = Number(s);
    return Number.isSafeInteger(cents) ? (negative ? -cents : cents) : null;
  }
  const m = /^(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return null;
  const fraction = (m[2] ?? '').padEnd(2, '0');
  // More than two decimals only when the rest are zeros: "45.500" is fine, "45.505" is not money.
  if (!/^\d{2}0*$/.test(fraction)) return null;
  const cents = Number(m[1]!.replaceAll(',', '')) * 100 + Number(fraction.slice(0, 2));
  if (!Number.isSafeInteger(cents)) return null;
  return negative ? -cents : cents;
}

function validDate(y: number, mo: number, d: number, h: number, mi: number, s: number): boolean {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= new Date(utcMs(y, mo, 0)).getUTCDate() && h <= 23 && mi <= 59 && s <= 59;
}

/** Epoch millis of an invoice timestamp; zone-less forms are read in `timeZone`. */
export function parseInvoiceTime(raw: string, timeZone: string): number | null {
  const s = raw.trim();
  if (/^\d{10}$/.test(s)) return Number(s) * 1000;
  if (/^\d{13}$/.test(s)) return Number(s);
  const iso = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(s);
  if (iso) {
    const [y, mo, d, h, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(iso[i] ?? 0)) as [number, number, number, number, number, number];
    if (!validDate(y, mo, d, h, mi, sec)) return null;
    const ms = Number((iso[7] ?? '').padEnd(3, '0').slice(0, 3));
    const zone = iso[8];
    if (zone === undefined) return zonedToUtcMs({ year: y, month: mo, day: d, hour: h, minute: mi, second: sec }, timeZone) + ms;
    const utc = utcMs(y, mo - 1, d, h, mi, sec, ms);
    if (zone.toUpperCase() === 'Z') return utc;
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    return utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})[ ,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(am|pm)?$/i.exec(s);
  if (us) {
    const [mo, d, y, h12, mi, sec] = [1, 2, 3, 4, 5, 6].map((i) => Number(us[i] ?? 0)) as [number, number, number, number, number, number];
    const meridiem = us[7]?.toLowerCase();
    if (meridiem !== undefined && (h12 < 1 || h12 > 12)) return null;
    const h = meridiem === undefined ? h12 : (h12 % 12) + (meridiem === 'pm' ? 12 : 0);
    if (!validDate(y, mo, d, h, mi, sec)) return null;
    return zonedToUtcMs({ year: y, month: mo, day: d, hour: h, minute: mi, second: sec }, timeZone);
  }
  return null;
}

/** Throws 422 when no header can be found; bad lines are reported, not thrown. */
export function parseInvoiceCsv(text: string, timeZone: string): ParsedInvoice {
  const records = parseCsv(text);
  let headerAt = -1;
  let columns: Columns | null = null;
  for (let i = 0; i < Math.min(records.length, 10) && columns === null; i++) {
    columns = detectColumns(records[i]!);
    headerAt = i;
  }
  if (columns === null) {
    throw new DomainError('refused', 'unprocessable', 'Unprocessable request', 'No invoice header found: expected an amount column and a call id column, or caller and start time columns.', [
      { field: 'csv', message: 'must have a header row within the first 10 rows' },
    ]);
  }
  const cols = columns;
  const lines: InvoiceLine[] = [];
  const errors: InvoiceLineError[] = [];
  for (let i = headerAt + 1; i < records.length; i++) {
    const record = records[i]!;
    const lineNo = i + 1;
    if (record.every((c) => c.trim() === '')) continue;
    const cell = (index: number | null) => (index === null ? '' : (record[index] ?? '').trim());
    const billedCents = parseMoneyCents(cell(cols.amount), cols.unit);
    if (billedCents === null) {
      errors.push({ lineNo, field: 'amount', message: `is not an amount in ${cols.unit}` });
      continue;
    }
    const callId = cell(cols.callId) || null;
    const caller = cell(cols.caller) || null;
    const startText = cell(cols.start);
    const startMs = startText === '' ? null : parseInvoiceTime(startText, timeZone);
    if (startText !== '' && startMs === null) {
      errors.push({ lineNo, field: 'start', message: 'is not a recognised date and time' });
      continue;
    }
    if (callId === null && (caller === null || startMs === null)) {
      errors.push({ lineNo, field: 'line', message: 'names neither a call id nor a caller and start time' });
      continue;
    }
    lines.push({ lineNo, callId, caller, startMs, billedCents });
  }
  return { lines, errors, amountUnit: cols.unit };
}
