/**
 * The HTML report (web/report-html.ts) rendered by a real browser: Debian's `chromium`, driven by playwright-core,
 * opens the file from disk and we check that it is self-contained (no request but the file, no console error), that
 * the three charts drew the expected marks at consistent positions (bars beyond the cost ceiling are exactly the
 * sources above it; bar lengths are proportional to their costs), that the table has a row per source plus the
 * total, that a source named `<script>…` is shown as text and runs nothing, and that empty data renders messages.
 *
 * The view comes from fixed API answers through viewFromApi (the CLI's path). Without Chromium this test FAILS
 * with instructions (.ci/run installs it); it never skips.
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourcesReportSchema, ThresholdReportSchema } from '../../../shared/app/reports/reports';
import { renderReportHtml } from '../../../web/report-html';
import { viewFromApi, type ReportView } from '../../../web/report-model';
import { ceiling, sourceRow, sourcesAnswerExtras, thresholdAnswerExtras, thresholdPoint } from '../../support/report-answers';

// ------------------------------------------------------------------------------------------------ browser

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** CHROMIUM_PATH, else `chromium` (or `chromium-browser`) on PATH, else /usr/bin/chromium. */
function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!executable(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    for (const name of ['chromium', 'chromium-browser']) if (executable(join(dir, name))) return join(dir, name);
  }
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  throw new Error(
    'Chromium not found: the HTML report test needs a headless Chromium. Install Debian\'s package ' +
      '(`apt-get install chromium`, as .ci/run does) or set CHROMIUM_PATH to a Chromium binary. This test does not skip.',
  );
}

// ------------------------------------------------------------------------------------------------ fixed data

const EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
const CEILING_CENTS = 30_000;

/** Sources: cost per booked job = netSpend / booked. Above the ceiling: pub-callfarm and EVIL. */
const ROWS = [
  { publisherId: 'pub-bluesky', booked: 20, netSpendCents: 190_000, verdict: 'scale', cost: 9_500 },
  { publisherId: 'pub-midway', booked: 10, netSpendCents: 270_000, verdict: 'hold', cost: 27_000 },
  { publisherId: 'pub-callfarm', booked: 10, netSpendCents: 612_340, verdict: 'cut', cost: 61_234 },
  { publisherId: EVIL, booked: 2, netSpendCents: 90_000, verdict: 'cut', cost: 45_000 },
  { publisherId: 'pub-newcomer', booked: 0, netSpendCents: 4_500, verdict: 'insufficient_data', cost: null },
] as const;

const BUFFERS = Array.from({ length: 121 }, (_, i) => i * 5);

function fixtureView(): ReportView {
  const sources = SourcesReportSchema.parse({
    campaignId: 'roofing-tx',
    campaignName: 'Roof repair, Austin & "Round Rock"',
    from: '2025-03-01T00:00:00.000Z',
    to: '2025-03-31T00:00:00.000Z',
    groupBy: 'publisher',
    generatedAt: '2025-03-31T00:05:00.000Z',
    ceiling: ceiling(6_000, CEILING_CENTS),
    ...sourcesAnswerExtras([]),
    rows: ROWS.map((r) => sourceRow({
      publisherId: r.publisherId,
      subSource: null,
      calls: r.booked * 6 + 4,
      connected: r.booked * 5 + 2,
      billable: Math.max(1, r.booked * 3),
      netSpendCents: r.netSpendCents,
      booked: r.booked,
      closed: Math.floor(r.booked / 2),
      revenueCents: r.booked * 95_000,
      verdict: r.verdict,
      why: `verdict ${r.verdict} for ${r.publisherId}`,
    })),
    // 30 days, one without spend.
    spendByDay: Array.from({ length: 30 }, (_, i) => ({
      day: `2025-03-${String(i + 1).padStart(2, '0')}`,
      spendCents: i === 14 ? 0 : 20_000 + ((i * 7_919) % 50_000),
      bookedCount: i % 4,
    })),
    basis: { aggregatedDays: { from: '2025-03-01', to: '2025-03-30', count: 30 }, callsRead: 0, aggregateItemsRead: 120 },
  });
  const threshold = ThresholdReportSchema.parse({
    campaignId: 'roofing-tx',
    from: sources.from,
    to: sources.to,
    currentBufferSec: 60,
    recommendedBufferSec: 90,
    rule: 'the largest buffer that keeps 95% of booked jobs',
    ...thresholdAnswerExtras({ bufferSec: 60, billable: 0, spendCents: 0, bookedCaptured: 0 }),
    points: BUFFERS.map((b) => {
      const billable = Math.round(400 * Math.exp(-b / 300));
      return thresholdPoint({ bufferSec: b, billable, spendCents: billable * 4_500, bookedCaptured: Math.round(60 * Math.exp(-b / 900)) });
    }),
    basis: { aggregatedDays: { from: '2025-03-01', to: '2025-03-30', count: 30 }, callsRead: 0, aggregateItemsRead: 800 },
  });
  return viewFromApi(sources, threshold);
}

function emptyView(): ReportView {
  const view = fixtureView();
  return { ...view, rows: [], total: { ...view.total }, threshold: { ...view.threshold, points: [] }, spendByDay: [] };
}

// ------------------------------------------------------------------------------------------------ harness

interface Opened {
  readonly page: Page;
  readonly html: string;
  readonly url: string;
  readonly consoleErrors: string[];
  readonly requests: string[];
}

let browserLaunch: Promise<Browser> | undefined;
let dir: string;

/**
 * The browser, launched on first use. Not in beforeAll: a failing hook marks the tests skipped, and a missing
 * Chromium must show as failed tests carrying the instructions.
 */
function browser(): Promise<Browser> {
  browserLaunch ??= (async () => chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] }))();
  return browserLaunch;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callledger-report-'));
});

afterAll(async () => {
  await browserLaunch?.then((b) => b.close()).catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function open(view: ReportView, name: string): Promise<Opened> {
  const html = renderReportHtml(view);
  const file = join(dir, name);
  await writeFile(file, html, 'utf8');
  const url = pathToFileURL(file).href;
  const page = await (await browser()).newPage({ viewport: { width: 1000, height: 800 } });
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, html, url, consoleErrors, requests };
}

interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The element's client rect (an SVG line's may be 0 wide, which Playwright's boundingBox calls invisible). */
function rect(locator: Locator): Promise<Box> {
  return locator.evaluate((el: any) => {
    const r = el.getBoundingClientRect();
    return { x: r.x as number, y: r.y as number, width: r.width as number, height: r.height as number };
  });
}

// ------------------------------------------------------------------------------------------------ tests

describe('the HTML report in headless Chromium', () => {
  let opening: Promise<Opened> | undefined;
  /** The fixture report, opened once for the tests of this block. */
  const fixture = () => (opening ??= open(fixtureView(), 'report.html'));

  afterAll(async () => {
    await opening?.then((o) => o.page.close()).catch(() => undefined);
  });

  it('loads from disk with no request but the file itself and no console error', async () => {
    const opened = await fixture();
    expect(opened.requests).toEqual([opened.url]);
    expect(opened.consoleErrors).toEqual([]);
    // Self-contained by construction: nothing in the file points elsewhere.
    expect(opened.html).not.toMatch(/\b(?:src|href)\s*=\s*["']?(?:https?:|\/\/)/i);
    expect(opened.html).not.toMatch(/@import|url\(/i);
  });

  it('has three accessible SVG charts', async () => {
    const { page } = await fixture();
    const charts = page.locator('svg[role="img"]');
    expect(await charts.count()).toBe(3);
    for (const id of ['chart-cost', 'chart-threshold', 'chart-spend']) {
      const svg = page.locator(`svg#${id}`);
      expect((await svg.getAttribute('aria-label'))?.length ?? 0, id).toBeGreaterThan(20);
      expect(await svg.locator(':scope > title').count(), id).toBe(1);
      const box = await rect(svg);
      expect(box.width, id).toBeGreaterThan(300);
      expect(box.height, id).toBeGreaterThan(100);
    }
  });

  it('chart 1: a bar per source with booked jobs, coloured by verdict; the one without is named, not drawn', async () => {
    const { page } = await fixture();
    const bars = page.locator('svg#chart-cost rect.bar');
    expect(await bars.count()).toBe(4);
    expect(await bars.evaluateAll((els: any[]) => els.map((e) => e.getAttribute('data-group') as string))).toEqual(
      ROWS.filter((r) => r.cost !== null).map((r) => r.publisherId),
    );
    const fills = await bars.evaluateAll((els: any[]) => els.map((e) => `${e.getAttribute('data-verdict')} ${e.getAttribute('fill')}`));
    expect(new Set(fills.map((f) => f.split(' ')[1])).size).toBe(3); // scale, hold, cut
    expect(fills[2]).toBe(fills[3]); // both cut, same colour
    const noBar = page.locator('svg#chart-cost text.no-bar');
    expect(await noBar.count()).toBe(1);
    expect(await noBar.getAttribute('data-group')).toBe('pub-newcomer');
  });

  it('chart 1: the ceiling line sits where the scale puts it: exactly the sources above it reach past it', async () => {
    const { page } = await fixture();
    const ceiling = page.locator('svg#chart-cost line.ceiling');
    expect(await ceiling.count()).toBe(1);
    expect(await ceiling.getAttribute('data-ceiling-cents')).toBe(String(CEILING_CENTS));
    const c = await rect(ceiling);
    const boxes = new Map<string, Box>();
    for (const r of ROWS) if (r.cost !== null) boxes.set(r.publisherId, await rect(page.locator('svg#chart-cost rect.bar').nth(boxes.size)));
    const left = boxes.get('pub-bluesky')!.x;
    for (const r of ROWS) {
      if (r.cost === null) continue;
      const b = boxes.get(r.publisherId)!;
      expect(b.x, r.publisherId).toBeCloseTo(left, 0);
      if (r.cost > CEILING_CENTS) expect(b.x + b.width, r.publisherId).toBeGreaterThan(c.x + 1);
      else expect(b.x + b.width, r.publisherId).toBeLessThan(c.x - 1);
      // Linear scale from the axis: length ∝ cost, and the ceiling at its own cost on the same scale.
      expect(b.width / r.cost).toBeCloseTo(boxes.get('pub-bluesky')!.width / 9_500, 3);
    }
    expect((c.x + c.width / 2 - left) / CEILING_CENTS).toBeCloseTo(boxes.get('pub-bluesky')!.width / 9_500, 3);
  });

  it('chart 2: two series of 121 points each, current and recommended buffers marked in order', async () => {
    const { page } = await fixture();
    for (const series of ['billable', 'booked']) {
      const line = page.locator(`svg#chart-threshold polyline[data-series="${series}"]`);
      expect(await line.count(), series).toBe(1);
      const points = ((await line.getAttribute('points')) ?? '').trim().split(/\s+/);
      expect(points, series).toHaveLength(121);
      const xs = points.map((p) => Number(p.split(',')[0]));
      for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThan(xs[i - 1]!);
      const lineBox = await rect(line);
      expect(lineBox.width, series).toBeGreaterThan(300);
    }
    const current = page.locator('svg#chart-threshold line[data-marker="current"]');
    const recommended = page.locator('svg#chart-threshold line[data-marker="recommended"]');
    expect(await current.getAttribute('data-buffer')).toBe('60');
    expect(await recommended.getAttribute('data-buffer')).toBe('90');
    const cur = await rect(current);
    const rec = await rect(recommended);
    const billable = await rect(page.locator('svg#chart-threshold polyline[data-series="billable"]'));
    // 60 s and 90 s of a 0..600 s axis: 10% and 15% of the way along the curve.
    expect((cur.x - billable.x) / billable.width).toBeCloseTo(0.1, 2);
    expect((rec.x - billable.x) / billable.width).toBeCloseTo(0.15, 2);
  });

  it('chart 3: one bar per day, in order, taller for more spend', async () => {
    const { page } = await fixture();
    const bars = page.locator('svg#chart-spend rect.day-bar');
    expect(await bars.count()).toBe(30);
    const days = await bars.evaluateAll((els: any[]) => els.map((e) => e.getAttribute('data-day') as string));
    expect(days[0]).toBe('2025-03-01');
    expect(days[29]).toBe('2025-03-30');
    const spends = await bars.evaluateAll((els: any[]) => els.map((e) => Number(e.getAttribute('data-spend-cents'))));
    const heights = await bars.evaluateAll((els: any[]) => els.map((e) => e.getBoundingClientRect().height as number));
    expect(heights[14]).toBe(0);
    const maxAt = spends.indexOf(Math.max(...spends));
    expect(heights[maxAt]).toBe(Math.max(...heights));
    expect(heights[maxAt]).toBeGreaterThan(50);
  });

  it('the scorecard table has a row per source and the total', async () => {
    const { page } = await fixture();
    const rows = page.locator('table.scorecard tbody tr');
    expect(await rows.count()).toBe(ROWS.length);
    expect(await page.locator('table.scorecard tfoot tr').count()).toBe(1);
    expect(await page.locator('table.scorecard tbody th[scope="row"]').allTextContents()).toEqual(ROWS.map((r) => r.publisherId));
    const callfarm = page.locator('table.scorecard tbody tr').nth(2);
    expect(await callfarm.textContent()).toContain('$612.34'); // cost per booked job, from integer cents
    expect(await callfarm.textContent()).toContain('$6,123.40'); // net spend
    expect(await page.locator('table.scorecard tfoot').textContent()).toContain('$11,668.40'); // net spend: 1,900 + 2,700 + 6,123.40 + 900 + 45
  });

  it('escapes every string: a source named <script> is text, and nothing runs', async () => {
    const { page, html } = await fixture();
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined');
    expect(await page.locator('table.scorecard tbody tr').nth(3).locator('th').textContent()).toBe(EVIL);
    expect(await page.title()).toBe('Booked revenue by source: Roof repair, Austin & "Round Rock"');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
  });

  it('a screenshot shows a drawn page', async () => {
    const { page } = await fixture();
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(40_000);
    const chart = await page.locator('svg#chart-cost').screenshot();
    const blank = await page.locator('footer').screenshot();
    expect(chart.length).toBeGreaterThan(blank.length);
  });
});

describe('the HTML report without data', () => {
  it('renders a message for each chart and for the table instead of broken charts', async () => {
    const { page, consoleErrors, requests, url } = await open(emptyView(), 'empty.html');
    try {
      expect(await page.locator('svg').count()).toBe(0);
      expect(await page.locator('p.empty').count()).toBe(4);
      expect(await page.locator('p.empty').allTextContents()).toEqual([
        'No calls in this period: there is no source to compare.',
        'No buffer sweep for this period: there are no calls to re-rate.',
        'No spend in this period.',
        'No calls in this period.',
      ]);
      expect(consoleErrors).toEqual([]);
      expect(requests).toEqual([url]);
    } finally {
      await page.close();
    }
  });
});
