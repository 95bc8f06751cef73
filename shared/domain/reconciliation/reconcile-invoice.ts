/**
 * Reconciling a publisher's invoice (issue 3) against our ledger. Pure: the CSV text in, parsed lines out; parsed
 * lines + our calls + our entries in, a report out. Caller numbers on the invoice are hashed through the injected
 * `hashCaller` (the same keyed hash the writer stored) and never appear in the report.
 *
 * CSV: RFC 4180 (quoted fields, "" escapes, CRLF or LF), the header is the first of the first 10 records that
 * names an amount column and either a call id column or caller + start columns (names matched loosely:
 * case, spaces, `_` and `-` ignored). Amounts are dollars (`$1,234.50`, `45`, `(12.00)` negative) unless the
 * column name says cents; parsed from the digits, never through a float. Start times are ISO-8601 (with an
 * offset, or read in the account's time zone without one), `MM/DD/YYYY HH:MM[:SS] [AM|PM]` (account zone) or
 * epoch seconds/milliseconds.
 *
 * Matching: a line with a call id matches that call (`CA…` is taken as `twilio:CA…`). Otherwise (or when the id is
 * not ours) lines are matched by caller hash and start within `toleranceSec`, closest pairs first, so the result
 * does not depend on line order. A second line for a call already matched is a duplicate line.
 * Verdicts per matched line, against the call's NET (charges + credits + reversals in scope): equal → matched; the
 * call is not billable and they billed > 0 → nonBillable (with our reasons); otherwise → amountMismatch. Our calls
 * with a positive net that no line matched are missingOnTheirSide.
 *
 * Reversals are booked when they are written (ledger/entries.ts), so a period's entries can hold the reversal of a charge
 * of an earlier period's call: such reversals are listed apart (`reversalsOfEarlierCalls`, no invoice line matches
 * them) and counted in our net, so the report's net equals the statement's for the same scope.
 */
import type { DisputeReason } from '../disputes/disputes';
import type { LedgerEntry } from '../ledger/entries';
import { Unprocessable } from '../kernel/problems';
import type { ReasonCode } from '../rating/decision';
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

// ---------------------------------------------------------------- CSV

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
    throw new Unprocessable('No invoice header found: expected an amount column and a call id column, or caller and start time columns.', [
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

// ---------------------------------------------------------------- matching

export interface OurCall {
  readonly callId: string;
  readonly callerHash: string | null;
  readonly startedAtMs: number;
  readonly billable: boolean;
  readonly reasons: readonly ReasonCode[];
}

export type MatchedBy = 'call_id' | 'caller_time';

export interface ReconciliationReport {
  readonly matched: readonly { lineNo: number; callId: string; amountCents: number; matchedBy: MatchedBy }[];
  readonly nonBillable: readonly {
    lineNo: number;
    callId: string;
    billedCents: number;
    reasons: readonly ReasonCode[];
    disputeReason: DisputeReason;
    matchedBy: MatchedBy;
  }[];
  readonly amountMismatches: readonly {
    lineNo: number;
    callId: string;
    billedCents: number;
    ourNetCents: number;
    ourChargeCents: number;
    ourCreditCents: number;
    ourReversalCents: number;
    matchedBy: MatchedBy;
  }[];
  readonly duplicateLines: readonly { lineNo: number; callId: string; firstLineNo: number }[];
  readonly missingOnOurSide: readonly { lineNo: number; billedCents: number; reason: 'unknown_call_id' | 'no_call_near_time' }[];
  readonly missingOnTheirSide: readonly { callId: string; ourNetCents: number }[];
  /** Reversals in scope of charges whose call started before it (the correction is booked when written). */
  readonly reversalsOfEarlierCalls: readonly { entryId: string; callId: string; amountCents: number; correctsEntryId: string; priorCallId: string }[];
  readonly unreadable: readonly InvoiceLineError[];
  readonly totals: { readonly billedCents: number; readonly ourNetCents: number; readonly differenceCents: number };
}

export interface ReconcileOptions {
  readonly toleranceSec: number;
  /** Normalise + keyed-hash a caller as written on the invoice; null when it is not a dialable number. */
  readonly hashCaller: (raw: string) => string | null;
}

/** Our non-billable reason → the dispute reason a buyer would cite for it. */
export function disputeReasonFor(reason: ReasonCode | undefined): DisputeReason {
  switch (reason) {
    case 'below_buffer':
      return 'below_buffer';
    case 'not_qualified':
      return 'not_qualified';
    case 'duplicate_caller':
      return 'repeat_caller';
    case 'machine_answered':
      return 'robocall';
    case 'blocked_caller':
    case 'blocked_signal':
      return 'fraud';
    case 'unknown_number':
      return 'wrong_number';
    case 'outside_hours':
    case 'outside_window':
    case 'over_cap':
    case 'not_connected':
    case 'out_of_geo':
    case 'caller_id_withheld':
    case undefined:
      return 'other';
    default: {
      const exhaustive: never = reason;
      return exhaustive;
    }
  }
}

function normaliseCallId(raw: string): string {
  return /^CA[0-9a-f]{32}$/i.test(raw) ? `twilio:${raw}` : raw;
}

/**
 * `calls` is the scope the invoice covers (e.g. the publisher's calls of the period); `entries` are our ledger
 * entries for those calls.
 */
export function reconcileInvoice(
  invoice: Pick<ParsedInvoice, 'lines' | 'errors'>,
  calls: readonly OurCall[],
  entries: readonly LedgerEntry[],
  options: ReconcileOptions,
): ReconciliationReport {
  const byId = new Map(calls.map((c) => [c.callId, c]));
  const money = new Map<string, { charge: number; credit: number; reversal: number }>();
  const reversalsOfEarlierCalls: ReconciliationReport['reversalsOfEarlierCalls'][number][] = [];
  for (const e of entries) {
    const m = money.get(e.callId) ?? { charge: 0, credit: 0, reversal: 0 };
    switch (e.type) {
      case 'charge':
        m.charge += e.amountCents;
        break;
      case 'credit':
        m.credit += e.amountCents;
        break;
      case 'reversal':
        m.reversal += e.amountCents;
        if (!byId.has(e.callId)) {
          reversalsOfEarlierCalls.push({ entryId: e.entryId, callId: e.callId, amountCents: e.amountCents, correctsEntryId: e.correctsEntryId, priorCallId: e.priorCallId });
        }
        break;
      default: {
        const exhaustive: never = e;
        throw new Error(`unknown entry ${JSON.stringify(exhaustive)}`);
      }
    }
    money.set(e.callId, m);
  }
  const netOf = (callId: string) => {
    const m = money.get(callId);
    return m ? m.charge + m.credit + m.reversal : 0;
  };

  const lineToCall = new Map<number, { call: OurCall; matchedBy: MatchedBy }>();
  const callToLine = new Map<string, number>();
  const duplicateLines: { lineNo: number; callId: string; firstLineNo: number }[] = [];
  const unmatched: InvoiceLine[] = [];
  const lines = [...invoice.lines].sort((a, b) => a.lineNo - b.lineNo);

  // 1. By call id, in file order: the first line for a call wins, later ones are duplicates.
  for (const line of lines) {
    const call = line.callId === null ? undefined : byId.get(normaliseCallId(line.callId));
    if (!call) {
      unmatched.push(line);
      continue;
    }
    const first = callToLine.get(call.callId);
    if (first !== undefined) duplicateLines.push({ lineNo: line.lineNo, callId: call.callId, firstLineNo: first });
    else {
      lineToCall.set(line.lineNo, { call, matchedBy: 'call_id' });
      callToLine.set(call.callId, line.lineNo);
    }
  }

  // 2. By caller hash and start time: every candidate pair within tolerance, closest first (ties: line, call id).
  const toleranceMs = options.toleranceSec * 1000;
  const byCaller = new Map<string, OurCall[]>();
  for (const c of calls) if (c.callerHash !== null) byCaller.set(c.callerHash, [...(byCaller.get(c.callerHash) ?? []), c]);
  const pairs: { line: InvoiceLine; call: OurCall; deltaMs: number }[] = [];
  for (const line of unmatched) {
    if (line.caller === null || line.startMs === null) continue;
    const hash = options.hashCaller(line.caller);
    for (const call of hash === null ? [] : (byCaller.get(hash) ?? [])) {
      const deltaMs = Math.abs(call.startedAtMs - line.startMs);
      if (deltaMs <= toleranceMs) pairs.push({ line, call, deltaMs });
    }
  }
  pairs.sort((a, b) => a.deltaMs - b.deltaMs || a.line.lineNo - b.line.lineNo || (a.call.callId < b.call.callId ? -1 : 1));
  /** Lines whose only candidates were already taken: duplicates of the line that took them. */
  const nearDuplicate = new Map<number, { callId: string; firstLineNo: number }>();
  for (const { line, call } of pairs) {
    if (lineToCall.has(line.lineNo)) continue;
    const taken = callToLine.get(call.callId);
    if (taken !== undefined) {
      if (!nearDuplicate.has(line.lineNo)) nearDuplicate.set(line.lineNo, { callId: call.callId, firstLineNo: taken });
      continue;
    }
    lineToCall.set(line.lineNo, { call, matchedBy: 'caller_time' });
    callToLine.set(call.callId, line.lineNo);
  }

  const matched: ReconciliationReport['matched'][number][] = [];
  const nonBillable: ReconciliationReport['nonBillable'][number][] = [];
  const amountMismatches: ReconciliationReport['amountMismatches'][number][] = [];
  const missingOnOurSide: ReconciliationReport['missingOnOurSide'][number][] = [];
  for (const line of unmatched) {
    if (lineToCall.has(line.lineNo)) continue;
    const dupOf = nearDuplicate.get(line.lineNo);
    if (dupOf !== undefined) duplicateLines.push({ lineNo: line.lineNo, ...dupOf });
    else
      missingOnOurSide.push({
        lineNo: line.lineNo,
        billedCents: line.billedCents,
        reason: line.callId !== null && (line.caller === null || line.startMs === null) ? 'unknown_call_id' : 'no_call_near_time',
      });
  }
  for (const line of lines) {
    const hit = lineToCall.get(line.lineNo);
    if (!hit) continue;
    const { call, matchedBy } = hit;
    const ourNetCents = netOf(call.callId);
    if (line.billedCents === ourNetCents) matched.push({ lineNo: line.lineNo, callId: call.callId, amountCents: ourNetCents, matchedBy });
    else if (!call.billable && line.billedCents > 0)
      nonBillable.push({
        lineNo: line.lineNo,
        callId: call.callId,
        billedCents: line.billedCents,
        reasons: call.reasons,
        disputeReason: disputeReasonFor(call.reasons[0]),
        matchedBy,
      });
    else {
      const m = money.get(call.callId) ?? { charge: 0, credit: 0, reversal: 0 };
      amountMismatches.push({
        lineNo: line.lineNo,
        callId: call.callId,
        billedCents: line.billedCents,
        ourNetCents,
        ourChargeCents: m.charge,
        ourCreditCents: m.credit,
        ourReversalCents: m.reversal,
        matchedBy,
      });
    }
  }
  const missingOnTheirSide = calls
    .filter((c) => !callToLine.has(c.callId) && netOf(c.callId) > 0)
    .map((c) => ({ callId: c.callId, ourNetCents: netOf(c.callId) }))
    .sort((a, b) => (a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0));

  const billedCents = lines.reduce((s, l) => s + l.billedCents, 0);
  const ourNetCents = calls.reduce((s, c) => s + netOf(c.callId), 0) + reversalsOfEarlierCalls.reduce((s, r) => s + r.amountCents, 0);
  reversalsOfEarlierCalls.sort((a, b) => (a.entryId < b.entryId ? -1 : a.entryId > b.entryId ? 1 : 0));
  return {
    matched,
    nonBillable,
    amountMismatches,
    duplicateLines: duplicateLines.sort((a, b) => a.lineNo - b.lineNo),
    missingOnOurSide,
    missingOnTheirSide,
    reversalsOfEarlierCalls,
    unreadable: invoice.errors,
    totals: { billedCents, ourNetCents, differenceCents: billedCents - ourNetCents },
  };
}
