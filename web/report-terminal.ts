/**
 * The booked-revenue report as plain text for the terminal (`npm run report`, the end of `npm run demo`): a few
 * header lines, the scorecard as aligned columns with a total row (the layout of the demo's ledger table), and the
 * buffer recommendation. Source names come from configuration: control characters are replaced so that a name
 * cannot move the cursor or recolour the terminal.
 */
import { formatCents, formatCount, formatInstant, formatMaybeCents, formatMultiple, formatRate, VERDICT_LABEL } from './format';
import type { ReportFigures, ReportView } from './report-model';

/** Printable text: C0/C1 control characters (ESC included) become `?`. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/**
 * Columns aligned with two spaces between them: the first (and `leftAligned`) left-aligned, the others right-aligned;
 * a rule under the header and above the footer rows; trailing blanks trimmed.
 */
export function alignTable(
  header: readonly string[],
  body: readonly (readonly string[])[],
  footer: readonly (readonly string[])[] = [],
  /** Columns to left-align besides the first. */
  leftAligned: readonly number[] = [],
): string {
  const all = [header, ...body, ...footer];
  const widths = header.map((_, i) => Math.max(...all.map((row) => [...(row[i] ?? '')].length)));
  const pad = (cell: string, i: number) => {
    const gap = ' '.repeat(widths[i]! - [...cell].length);
    return i === 0 || leftAligned.includes(i) ? cell + gap : gap + cell;
  };
  const fmt = (row: readonly string[]) => header.map((_, i) => pad(row[i] ?? '', i)).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [fmt(header), rule, ...body.map(fmt), ...(footer.length > 0 ? [rule, ...footer.map(fmt)] : [])].join('\n');
}

/** Longer source names are cut in the table (the verdict lines below give them in full). */
const GROUP_WIDTH = 40;

function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

const HEADER = ['source', 'calls', 'billable', 'rate', 'net spend', 'booked', 'closed', 'revenue', '$/billable', '$/booked job', 'ROS', 'verdict'];

function figures(f: ReportFigures): string[] {
  return [
    formatCount(f.calls),
    formatCount(f.billable),
    formatRate(f.billableRate),
    formatCents(f.netSpendCents),
    formatCount(f.booked),
    formatCount(f.closed),
    formatCents(f.revenueCents),
    formatMaybeCents(f.costPerBillableCents),
    formatMaybeCents(f.costPerBookedJobCents),
    formatMultiple(f.returnOnSpend),
  ];
}

/** The report as terminal text (no trailing newline). */
export function renderReportTable(view: ReportView): string {
  const lines: string[] = [];
  lines.push(printable(view.title));
  lines.push(`campaign ${printable(view.campaignId)}, calls started ${formatInstant(view.period.from)} to ${formatInstant(view.period.to)}`);
  lines.push(`computed from ${printable(view.basis)}`);
  const c = view.ceiling;
  lines.push(
    c === null
      ? 'ceiling: none (no campaign economics entered)'
      : `ceiling: ${formatCents(c.maxCostPerBookedJobCents)} per booked job, ${formatCents(c.maxPricePerCallCents)} per billable call (close rate ${printable(c.closeRateSource)})`,
  );
  lines.push('');
  if (view.rows.length === 0) {
    lines.push('no calls in this period');
  } else {
    const body = view.rows.map((r) => [truncate(printable(r.group), GROUP_WIDTH), ...figures(r), VERDICT_LABEL[r.verdict]]);
    lines.push(alignTable(HEADER, body, [['total', ...figures(view.total), '']], [HEADER.length - 1]));
    lines.push('');
    for (const r of view.rows) {
      lines.push(`  ${printable(r.group)}: ${VERDICT_LABEL[r.verdict]}, ${printable(r.why)}${r.disclosure === null ? '' : ` Disclosure: ${printable(r.disclosure)}.`}`);
    }
  }
  const t = view.threshold;
  lines.push('');
  const current = t.currentBufferSec === null ? 'none' : `${t.currentBufferSec} s`;
  const recommended = t.recommendedBufferSec === null ? 'none (not enough data)' : `${t.recommendedBufferSec} s`;
  lines.push(`buffer: current ${current}, recommended ${recommended}${t.rule === '' ? '' : ` (${printable(t.rule)})`}`);
  const at = (sec: number | null) => (sec === null ? undefined : t.points.find((p) => p.bufferSec === sec));
  for (const [label, p] of [
    ['current', at(t.currentBufferSec)],
    ['recommended', at(t.recommendedBufferSec)],
  ] as const) {
    if (p !== undefined) {
      lines.push(
        `  at ${label} ${p.bufferSec} s: ${formatCount(p.billable)} billable, ${formatCents(p.spendCents)} spend, ${formatCount(p.bookedCaptured)} booked jobs, ${formatMaybeCents(p.costPerBookedJobCents)} per booked job`,
      );
    }
  }
  return lines.join('\n');
}
