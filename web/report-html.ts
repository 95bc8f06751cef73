/**
 * The booked-revenue report as ONE self-contained HTML file: inline CSS, three inline SVG charts drawn
 * here on the server side, and the scorecard as an accessible table. No script, font, image or stylesheet is
 * fetched, so the file opens from disk, from an e-mail attachment or an S3 link alike; a Content-Security-Policy
 * of `default-src 'none'` makes that a guarantee (and a second line of defence behind the escaping).
 *
 * Charts:
 *   1. cost per booked job by source: horizontal bars coloured by verdict, the cost ceiling as a vertical line;
 *   2. the threshold curve: billable calls and booked jobs captured against the buffer, current and recommended
 *      buffer marked;
 *   3. net spend per day: one bar per day.
 * Every chart is an <svg role="img"> with an aria-label and a <title>; its marks carry data attributes
 * (data-group, data-series, data-buffer, data-day, …) so that a test can count and measure what was drawn.
 * Every string that comes from data goes through `esc` (text and attributes alike).
 */
import { formatCents, formatCount, formatInstant, formatMaybeCents, formatMultiple, formatRate, VERDICT_LABEL } from './format';
import type { ReportFigures, ReportRow, ReportView, Verdict } from './report-model';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML-escapes text for element content and quoted attribute values. */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export const VERDICT_COLOUR: Readonly<Record<Verdict, string>> = {
  scale: '#2e7d32',
  hold: '#b7791f',
  cut: '#c62828',
  insufficient_data: '#8a8a8a',
};
const BILLABLE_COLOUR = '#1f5fa8';
const BOOKED_COLOUR = '#d9480f';

/** A coordinate with at most one decimal. */
const n = (x: number): string => String(Math.round(x * 10) / 10);

/** The smallest "nice" number (1, 2, 2.5, 5 × 10^k) ≥ x; 1 for x ≤ 0. */
export function niceCeil(x: number): number {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

function truncate(label: string, max: number): string {
  return label.length <= max ? label : `${label.slice(0, max - 1)}…`;
}

function empty(message: string): string {
  return `<p class="empty" role="note">${esc(message)}</p>`;
}

/** Dollar tick labels without cents when they are whole: `$1,500`. */
function tickCents(cents: number): string {
  const whole = Math.round(cents);
  const s = formatCents(whole);
  return s.endsWith('.00') ? s.slice(0, -3) : s;
}

// ------------------------------------------------------------------ chart 1: cost per booked job by source

function costChart(view: ReportView): string {
  const rows = view.rows;
  const withCost = rows.filter((r) => r.costPerBookedJobCents !== null);
  if (rows.length === 0) return empty('No calls in this period: there is no source to compare.');
  if (withCost.length === 0) return empty('No booked jobs in this period: the cost per booked job cannot be computed for any source.');

  const W = 860;
  const L = 210;
  const R = 150;
  const T = 28;
  const rowH = 30;
  const barH = 18;
  const plotW = W - L - R;
  const plotH = rows.length * rowH;
  const H = T + plotH + 42;
  const ceiling = view.ceiling?.maxCostPerBookedJobCents ?? null;
  const maxCost = Math.max(0, ...withCost.map((r) => r.costPerBookedJobCents!));
  const xMax = niceCeil(Math.max(maxCost, ceiling ?? 0) * 1.05);
  const x = (cents: number) => L + (Math.max(0, cents) / xMax) * plotW;

  const ticks: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (xMax * i) / 5;
    ticks.push(
      `<line class="grid" x1="${n(x(v))}" x2="${n(x(v))}" y1="${T}" y2="${T + plotH}"/>` +
        `<text class="tick" x="${n(x(v))}" y="${T + plotH + 16}" text-anchor="middle">${esc(tickCents(v))}</text>`,
    );
  }

  const marks = rows.map((r, i) => {
    const y = T + i * rowH + (rowH - barH) / 2;
    const label = `<text class="label" x="${L - 8}" y="${n(y + barH / 2 + 4)}" text-anchor="end"><title>${esc(r.group)}</title>${esc(truncate(r.group, 26))}</text>`;
    const cost = r.costPerBookedJobCents;
    if (cost === null) {
      return (
        `<g class="source" data-group="${esc(r.group)}" data-verdict="${r.verdict}">${label}` +
        `<text class="no-bar" data-group="${esc(r.group)}" x="${L + 6}" y="${n(y + barH / 2 + 4)}">no booked jobs · ${esc(VERDICT_LABEL[r.verdict])}</text></g>`
      );
    }
    const w = x(cost) - L;
    const tip = `${r.group}: ${formatCents(cost)} per booked job (${formatCount(r.booked)} booked, ${formatCents(r.netSpendCents)} net spend) · ${VERDICT_LABEL[r.verdict]}`;
    return (
      `<g class="source" data-group="${esc(r.group)}" data-verdict="${r.verdict}">${label}` +
      `<rect class="bar" data-group="${esc(r.group)}" data-verdict="${r.verdict}" data-cost-cents="${cost}" x="${L}" y="${n(y)}" width="${n(Math.max(w, 0.5))}" height="${barH}" fill="${VERDICT_COLOUR[r.verdict]}"><title>${esc(tip)}</title></rect>` +
      `<text class="value" x="${n(L + w + 6)}" y="${n(y + barH / 2 + 4)}">${esc(formatCents(cost))} · ${esc(VERDICT_LABEL[r.verdict])}</text></g>`
    );
  });

  const ceilingMark =
    ceiling === null
      ? ''
      : `<line class="ceiling" data-ceiling-cents="${ceiling}" x1="${n(x(ceiling))}" x2="${n(x(ceiling))}" y1="${T - 10}" y2="${T + plotH}"><title>${esc(`ceiling: ${formatCents(ceiling)} per booked job`)}</title></line>` +
        `<text class="ceiling-label" x="${n(x(ceiling))}" y="${T - 14}" text-anchor="middle">ceiling ${esc(formatCents(ceiling))}</text>`;
  const summary =
    `Cost per booked job by source, ${withCost.length} of ${rows.length} sources with booked jobs` +
    (ceiling === null ? ', no cost ceiling set.' : `, against a ceiling of ${formatCents(ceiling)}.`);
  return (
    `<svg id="chart-cost" class="chart" role="img" aria-label="${esc(summary)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="chart-cost-title">${esc(summary)}</title>` +
    ticks.join('') +
    `<line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${T + plotH}"/>` +
    marks.join('') +
    ceilingMark +
    `<text class="axis-title" x="${n(L + plotW / 2)}" y="${H - 6}" text-anchor="middle">cost per booked job (net spend ÷ booked jobs)</text>` +
    `</svg>` +
    legend()
  );
}

function legend(): string {
  const items = (Object.keys(VERDICT_COLOUR) as Verdict[]).map(
    (v) => `<li><span class="swatch" style="background:${VERDICT_COLOUR[v]}"></span>${esc(VERDICT_LABEL[v])}</li>`,
  );
  return `<ul class="legend" aria-label="verdict colours">${items.join('')}<li><span class="swatch ceiling-swatch"></span>cost ceiling</li></ul>`;
}

// ------------------------------------------------------------------ chart 2: threshold curve

function thresholdChart(view: ReportView): string {
  const t = view.threshold;
  const points = t.points;
  if (points.length === 0) return empty('No buffer sweep for this period: there are no calls to re-rate.');

  const W = 860;
  const H = 340;
  const L = 64;
  const R = 24;
  const T = 30;
  const B = 48;
  const plotW = W - L - R;
  const plotH = H - T - B;
  const x0 = points[0]!.bufferSec;
  const x1 = Math.max(points[points.length - 1]!.bufferSec, x0 + 1);
  const yMax = niceCeil(Math.max(1, ...points.map((p) => Math.max(p.billable, p.bookedCaptured))));
  const x = (sec: number) => L + ((sec - x0) / (x1 - x0)) * plotW;
  const y = (v: number) => T + plotH - (v / yMax) * plotH;

  const grid: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    grid.push(
      `<line class="grid" x1="${L}" x2="${L + plotW}" y1="${n(y(v))}" y2="${n(y(v))}"/>` +
        `<text class="tick" x="${L - 8}" y="${n(y(v) + 4)}" text-anchor="end">${esc(formatCount(Math.round(v * 10) / 10))}</text>`,
    );
  }
  for (let i = 0; i <= 6; i++) {
    const sec = Math.round(x0 + ((x1 - x0) * i) / 6);
    grid.push(`<text class="tick" x="${n(x(sec))}" y="${T + plotH + 18}" text-anchor="middle">${sec} s</text>`);
  }

  const series = (name: 'billable' | 'booked', colour: string, value: (p: (typeof points)[number]) => number, label: string) =>
    `<polyline class="series" data-series="${name}" data-points="${points.length}" fill="none" stroke="${colour}" stroke-width="2.5" ` +
    `points="${points.map((p) => `${n(x(p.bufferSec))},${n(y(value(p)))}`).join(' ')}"><title>${esc(label)}</title></polyline>`;

  const marker = (kind: 'current' | 'recommended', sec: number | null) => {
    if (sec === null) return '';
    if (sec < x0 || sec > x1) return '';
    const p = points.reduce((best, q) => (Math.abs(q.bufferSec - sec) < Math.abs(best.bufferSec - sec) ? q : best), points[0]!);
    const tip = `${kind} buffer ${sec} s: ${formatCount(p.billable)} billable, ${formatCount(p.bookedCaptured)} booked, ${formatCents(p.spendCents)} spend`;
    const labelY = kind === 'current' ? T - 16 : T - 4;
    return (
      `<line class="marker marker-${kind}" data-marker="${kind}" data-buffer="${sec}" x1="${n(x(sec))}" x2="${n(x(sec))}" y1="${T - 2}" y2="${T + plotH}"><title>${esc(tip)}</title></line>` +
      `<text class="marker-label marker-label-${kind}" x="${n(x(sec))}" y="${labelY}" text-anchor="middle">${esc(`${kind} ${sec} s`)}</text>`
    );
  };

  const summary =
    `Billable calls and booked jobs captured for buffers from ${x0} s to ${points[points.length - 1]!.bufferSec} s` +
    (t.currentBufferSec === null ? '' : `; current buffer ${t.currentBufferSec} s`) +
    (t.recommendedBufferSec === null ? '; no recommendation' : `; recommended ${t.recommendedBufferSec} s`) +
    '.';
  const outside = [
    ['current', t.currentBufferSec],
    ['recommended', t.recommendedBufferSec],
  ].filter(([, s]) => typeof s === 'number' && (s < x0 || s > x1)) as [string, number][];
  return (
    `<svg id="chart-threshold" class="chart" role="img" aria-label="${esc(summary)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="chart-threshold-title">${esc(summary)}</title>` +
    grid.join('') +
    `<line class="axis" x1="${L}" x2="${L + plotW}" y1="${T + plotH}" y2="${T + plotH}"/><line class="axis" x1="${L}" x2="${L}" y1="${T}" y2="${T + plotH}"/>` +
    series('billable', BILLABLE_COLOUR, (p) => p.billable, 'billable calls at each buffer') +
    series('booked', BOOKED_COLOUR, (p) => p.bookedCaptured, 'booked jobs captured at each buffer') +
    marker('current', t.currentBufferSec) +
    marker('recommended', t.recommendedBufferSec) +
    `<text class="axis-title" x="${n(L + plotW / 2)}" y="${H - 8}" text-anchor="middle">buffer (seconds a call must last to bill)</text>` +
    `</svg>` +
    `<ul class="legend"><li><span class="swatch" style="background:${BILLABLE_COLOUR}"></span>billable calls</li>` +
    `<li><span class="swatch" style="background:${BOOKED_COLOUR}"></span>booked jobs captured</li>` +
    `<li><span class="swatch marker-swatch-current"></span>current buffer</li><li><span class="swatch marker-swatch-recommended"></span>recommended buffer</li></ul>` +
    outside.map(([kind, s]) => empty(`The ${kind} buffer (${s} s) is outside the swept range.`)).join('')
  );
}

// ------------------------------------------------------------------ chart 3: spend over time

function spendChart(view: ReportView): string {
  const days = view.spendByDay;
  if (days.length === 0) return empty('No spend in this period.');
  const W = 860;
  const H = 280;
  const L = 76;
  const R = 20;
  const T = 20;
  const B = 52;
  const plotW = W - L - R;
  const plotH = H - T - B;
  const yMax = niceCeil(Math.max(100, ...days.map((d) => d.spendCents)));
  const slot = plotW / days.length;
  const barW = Math.max(1, slot * 0.72);
  const y = (cents: number) => T + plotH - (Math.max(0, cents) / yMax) * plotH;
  const labelEvery = Math.ceil(days.length / 12);

  const grid: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    grid.push(
      `<line class="grid" x1="${L}" x2="${L + plotW}" y1="${n(y(v))}" y2="${n(y(v))}"/>` +
        `<text class="tick" x="${L - 8}" y="${n(y(v) + 4)}" text-anchor="end">${esc(tickCents(v))}</text>`,
    );
  }
  const bars = days.map((d, i) => {
    const bx = L + i * slot + (slot - barW) / 2;
    const tip = `${d.day}: ${formatCents(d.spendCents)} net spend, ${formatCount(d.bookedCount)} booked`;
    const label = i % labelEvery === 0 ? `<text class="tick" x="${n(bx + barW / 2)}" y="${T + plotH + 16}" text-anchor="middle">${esc(d.day.slice(5))}</text>` : '';
    return (
      `<rect class="day-bar" data-day="${esc(d.day)}" data-spend-cents="${d.spendCents}" data-booked="${d.bookedCount}" x="${n(bx)}" y="${n(y(d.spendCents))}" width="${n(barW)}" height="${n(T + plotH - y(d.spendCents))}" fill="${BILLABLE_COLOUR}"><title>${esc(tip)}</title></rect>` +
      label
    );
  });
  const total = days.reduce((s, d) => s + d.spendCents, 0);
  const summary = `Net spend per day from ${days[0]!.day} to ${days[days.length - 1]!.day}, ${formatCents(total)} in all.`;
  return (
    `<svg id="chart-spend" class="chart" role="img" aria-label="${esc(summary)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="chart-spend-title">${esc(summary)}</title>` +
    grid.join('') +
    `<line class="axis" x1="${L}" x2="${L + plotW}" y1="${T + plotH}" y2="${T + plotH}"/>` +
    bars.join('') +
    `<text class="axis-title" x="${n(L + plotW / 2)}" y="${H - 8}" text-anchor="middle">day (calls by start day)</text>` +
    `</svg>`
  );
}

// ------------------------------------------------------------------ table

const COLUMNS = ['source', 'calls', 'connected', 'billable', 'billable rate', 'net spend', 'booked', 'closed', 'revenue', 'per billable call', 'per booked job', 'return on spend', 'verdict', 'why'];

function cells(f: ReportFigures): string {
  return [
    formatCount(f.calls),
    formatCount(f.connected),
    formatCount(f.billable),
    formatRate(f.billableRate),
    formatCents(f.netSpendCents),
    formatCount(f.booked),
    formatCount(f.closed),
    formatCents(f.revenueCents),
    formatMaybeCents(f.costPerBillableCents),
    formatMaybeCents(f.costPerBookedJobCents),
    formatMultiple(f.returnOnSpend),
  ]
    .map((c) => `<td class="num">${esc(c)}</td>`)
    .join('');
}

function row(r: ReportRow): string {
  return (
    `<tr data-group="${esc(r.group)}" data-verdict="${r.verdict}"><th scope="row">${esc(r.group)}</th>${cells(r)}` +
    `<td><span class="verdict verdict-${r.verdict}">${esc(VERDICT_LABEL[r.verdict])}</span></td><td class="why">${esc(r.why)}${r.disclosure === null ? '' : ` <span class="disclosure">Disclosure: ${esc(r.disclosure)}.</span>`}</td></tr>`
  );
}

function table(view: ReportView): string {
  if (view.rows.length === 0) return empty('No calls in this period.');
  return (
    `<div class="table-wrap"><table class="scorecard"><caption>Scorecard by source, ${esc(formatInstant(view.period.from))} to ${esc(formatInstant(view.period.to))}</caption>` +
    `<thead><tr>${COLUMNS.map((c) => `<th scope="col">${esc(c)}</th>`).join('')}</tr></thead>` +
    `<tbody>${view.rows.map(row).join('')}</tbody>` +
    `<tfoot><tr class="total"><th scope="row">total</th>${cells(view.total)}<td></td><td></td></tr></tfoot></table></div>`
  );
}

// ------------------------------------------------------------------ page

const CSS = `
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#fff}
body{margin:0 auto;max-width:1120px;padding:24px}
.table-wrap{overflow-x:auto}
h1{font-size:1.45rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.meta{color:#555;margin:.1rem 0}.meta strong{color:#1d1d1f}
.chart{max-width:100%;height:auto;display:block}
.chart text{font-size:12px;fill:#333}.chart .value,.chart .no-bar,.chart .marker-label,.chart .ceiling-label{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}.chart .tick{fill:#666;font-size:11px}.chart .axis-title{fill:#555}
.chart .grid{stroke:#e6e6e6}.chart .axis{stroke:#999}
.chart .ceiling{stroke:#111;stroke-width:2;stroke-dasharray:6 4}.chart .ceiling-label{font-weight:600}
.chart .marker{stroke-width:2;stroke-dasharray:4 3}.chart .marker-current{stroke:#555}.chart .marker-recommended{stroke:#2e7d32}
.chart .marker-label-recommended{fill:#2e7d32;font-weight:600}.chart .no-bar{fill:#777;font-style:italic}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:1rem;padding:0;margin:.4rem 0 0;font-size:.85rem;color:#444}
.swatch{display:inline-block;width:12px;height:12px;margin-right:.35rem;vertical-align:-1px;border-radius:2px}
.ceiling-swatch{border-top:2px dashed #111;height:0;border-radius:0}
.marker-swatch-current{border-top:2px dashed #555;height:0;border-radius:0}.marker-swatch-recommended{border-top:2px dashed #2e7d32;height:0;border-radius:0}
.empty{padding:1rem;background:#f6f6f6;border-radius:6px;color:#555}
table{border-collapse:collapse;width:100%;font-size:.82rem;margin-top:.5rem}
caption{text-align:left;color:#555;padding-bottom:.4rem}
th,td{padding:.35rem .45rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tfoot th,tfoot td{font-weight:700;border-top:2px solid #999}
.verdict{padding:.05rem .4rem;border-radius:3px;color:#fff;white-space:nowrap}
.verdict-scale{background:${VERDICT_COLOUR.scale}}.verdict-hold{background:${VERDICT_COLOUR.hold}}
.verdict-cut{background:${VERDICT_COLOUR.cut}}.verdict-insufficient_data{background:${VERDICT_COLOUR.insufficient_data}}
.why{color:#444;min-width:14rem}
.disclosure{display:block;color:#666;font-size:.9em}
footer{margin-top:2rem;color:#777;font-size:.8rem}
@media print{body{padding:0}h2{break-after:avoid}.chart{break-inside:avoid}}
`;

function header(view: ReportView): string {
  const c = view.ceiling;
  const t = view.threshold;
  const ceiling =
    c === null
      ? '<p class="meta">No cost ceiling: the campaign has no economics (margin, close rate) entered.</p>'
      : `<p class="meta">Ceiling: <strong>${esc(formatCents(c.maxCostPerBookedJobCents))}</strong> per booked job, at most <strong>${esc(formatCents(c.maxPricePerCallCents))}</strong> per billable call (close rate ${esc(c.closeRateSource)}).</p>`;
  const buffer =
    `<p class="meta">Buffer: current <strong>${t.currentBufferSec === null ? '—' : `${t.currentBufferSec} s`}</strong>, ` +
    `recommended <strong>${t.recommendedBufferSec === null ? '—' : `${t.recommendedBufferSec} s`}</strong>${t.rule === '' ? '' : ` (${esc(t.rule)})`}.</p>`;
  return (
    `<header><h1>${esc(view.title)}</h1>` +
    `<p class="meta">Campaign <strong>${esc(view.campaignId)}</strong>, calls started from ${esc(formatInstant(view.period.from))} to ${esc(formatInstant(view.period.to))}.</p>` +
    `<p class="meta">Net spend <strong>${esc(formatCents(view.total.netSpendCents))}</strong>, ${esc(formatCount(view.total.booked))} booked jobs, revenue <strong>${esc(formatCents(view.total.revenueCents))}</strong>, cost per booked job <strong>${esc(formatMaybeCents(view.total.costPerBookedJobCents))}</strong>.</p>` +
    ceiling +
    buffer +
    `</header>`
  );
}

/** The whole report page. Deterministic for a given view (no clock, no randomness). */
export function renderReportHtml(view: ReportView): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="CallLedger report">
<title>${esc(view.title)}</title>
<style>${CSS}</style>
</head>
<body>
${header(view)}
<main>
<section aria-labelledby="h-cost"><h2 id="h-cost">Cost per booked job by source</h2>
<figure>${costChart(view)}</figure></section>
<section aria-labelledby="h-threshold"><h2 id="h-threshold">Buffer threshold: what each buffer would have billed and booked</h2>
<figure>${thresholdChart(view)}</figure></section>
<section aria-labelledby="h-spend"><h2 id="h-spend">Net spend per day</h2>
<figure>${spendChart(view)}</figure></section>
<section aria-labelledby="h-table"><h2 id="h-table">Scorecard</h2>
${table(view)}</section>
</main>
<footer>Generated ${esc(formatInstant(view.generatedAt))} by CallLedger from its ledger and the recorded outcomes (${esc(view.basis)}). Amounts in USD; net spend is charges less credits.</footer>
</body>
</html>
`;
}
