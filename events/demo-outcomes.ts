/**
 * The demo's last act: the buyer's CRM reports what the calls became, and the source scorecard and the
 * threshold report answer which publishers to scale and where to set the buffer.
 *
 * Outcomes are generated from the traffic's ground truth, seeded: a connected call books with a probability that
 * depends on its publisher (the demo's publishers differ in quality) and rises with its length; a booked job
 * closes one time in three. Half are posted by call id, half by caller number + time (matched by the API to the
 * caller's most recent connected call). Then `npm run report`'s own code fetches both reports, prints the
 * scorecard and writes the self-contained HTML report.
 */
import { reportForCampaign } from './report';
import type { CallTruth } from './traffic';
import { mulberry32 } from './prng';

/** Booking probability of a connected call of at least 90 s, per publisher of the demo seed. */
const BOOK_RATE: Readonly<Record<string, number>> = { 'pub-bluesky': 0.45, 'pub-midway': 0.18, 'pub-callfarm': 0.02 };

export interface OutcomeLine {
  readonly externalId: string;
  readonly callId?: string;
  readonly callerNumber?: string;
  readonly occurredAt: string;
  readonly status: 'booked' | 'closed';
  readonly revenueCents: number;
  readonly marginCents: number;
}


/** The CRM's outcomes for the played calls (billable ones only: a job comes from a real conversation). */
export function crmOutcomes(calls: readonly CallTruth[], seed: number): OutcomeLine[] {
  const random = mulberry32(seed ^ 0x5eed);
  const out: OutcomeLine[] = [];
  for (const c of calls) {
    if (!c.billable) continue;
    const rate = (BOOK_RATE[c.publisherId] ?? 0.1) * (c.durationSec >= 180 ? 1.3 : 1);
    if (random() >= rate) continue;
    const closed = random() < 1 / 3;
    const occurredAt = new Date(Date.parse(c.endedAt) + 2 * 3_600_000).toISOString();
    out.push({
      externalId: `crm-${c.callSid.slice(2, 14)}`,
      ...(out.length % 2 === 0 ? { callId: c.callId } : { callerNumber: c.from }),
      occurredAt,
      status: closed ? 'closed' : 'booked',
      revenueCents: closed ? 1_200_000 : 0,
      marginCents: closed ? 420_000 : 0,
    });
  }
  return out;
}

/** Posts the outcomes, prints the scorecard and writes the HTML report; 1 when the API refused something. */
export async function revenueReport(args: {
  readonly baseUrl: string;
  readonly adminKey: string;
  readonly campaignId: string;
  readonly calls: readonly CallTruth[];
  readonly seed: number;
  readonly range: { readonly from: string; readonly to: string };
}): Promise<number> {
  const outcomes = crmOutcomes(args.calls, args.seed);
  const res = await fetch(`${args.baseUrl}/v1/outcomes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${args.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ outcomes }),
  });
  const body = (await res.json()) as { results?: { result: string; match: string | null }[] };
  const results = body.results ?? [];
  const matched = results.filter((r) => r.match !== null).length;
  console.log(`\n== outcomes: POST /v1/outcomes (${outcomes.length} from the CRM: booked or closed jobs)`);
  console.log(`  ${res.status}: ${matched} matched (${results.filter((r) => r.match === 'call_id').length} by call id, ${results.filter((r) => r.match === 'caller_time').length} by caller + time)`);
  if (res.status !== 200 || results.some((r) => r.result === 'refused')) {
    console.log('  the API refused some outcomes: see the results above');
    return 1;
  }

  const report = await reportForCampaign(
    { baseUrl: args.baseUrl, key: args.adminKey },
    // `to` a minute ahead: the last calls started moments ago.
    { campaignId: args.campaignId, from: args.range.from, to: new Date(Math.max(Date.parse(args.range.to), Date.now()) + 60_000).toISOString() },
  );
  console.log(`\n== source scorecard: GET /v1/reports/sources?campaignId=${args.campaignId}`);
  console.log(report.text);
  console.log(`\nHTML report (opens without a server): ${report.file}`);
  return 0;
}
