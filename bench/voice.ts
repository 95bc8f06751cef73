/**
 * Phase V of `npm run bench`: the voice URL (POST /voice/twilio/{accountId}) answering new calls under a fixed
 * offered rate (open loop, latency measured from each request's due time), with the voice function alone: only the
 * incoming calls' first requests are sent (no status callbacks, so the ledger writer has nothing to do).
 *
 * Two configurations, each with its own campaign and tracking number on the bench account:
 *  - `target lease`: a direct flow (no IVR) to one target with a concurrency cap far above the calls offered, so
 *    the answer path is admission + the target's lease + the routing record;
 *  - `lease + pilot reservation`: the same, the campaign in a pilot whose cap outlasts the run, so each admitted
 *    call also reserves in the pilot's counter (one hot item, as in production). No call of the run ends, so the
 *    counter item grows by one live entry (≈ 80 B) per admitted call over the run: its updates cost what the calls in
 *    progress weigh (an ended call's entry is removed, reservation-condition.ts), the worst case of a pilot's peak.
 *  - `… after 1,000 ended calls`: the same, the pilot having already had 1,000 calls reserved and released (through
 *    the production adapter, before the warm-up): what a pilot's counter looks like a few days in. It costs each
 *    update what the counter item weighs, so this is where keeping ended reservations in it would show.
 * DynamoDB requests are counted by the repositories' own accounting (ddbStats) over the measured window only.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { putVoiceTarget, voiceFlow, voicePilot, voiceTarget, writeVoiceCampaign } from '../events/demo-voice';
import { RoutingRepo } from '../shared/adapters/routing/routing-repo';
import { reserve } from '../shared/domain/routing/reservations';
import type { PilotTerms } from '../shared/domain/pilots/caps';
import { ddbStats } from '../shared/adapters/platform/aws';
import { twilioSignature } from '../shared/domain/calls/providers/twilio';
import { distribution, percentile, round, type Distribution } from './instrument';
import { runLoad, type LoadSample, type WireRequest } from './load';

export interface VoiceSetup {
  readonly baseUrl: string;
  readonly publicBaseUrl: string;
  readonly accountId: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly timeZone: string;
  readonly dynamodb: DynamoDBClient;
  readonly mainTable: string;
}

export interface VoiceRun {
  readonly label: string;
  readonly offeredPerSec: number;
  readonly seconds: number;
  readonly requests: number;
  readonly statusCounts: Record<string, number>;
  /** Answers with a <Dial>: admitted and routed to the target. */
  readonly admitted: number;
  /** Answers by their verbs in order (e.g. `Dial`, `Say,Hangup`: a refusal or the fail-safe), for a diagnosis. */
  readonly answers: Record<string, number>;
  readonly latencyFromDueMs: Distribution & { readonly p95: number };
  readonly senderLagMs: Distribution;
  readonly dynamodbRequests: number;
  readonly dynamodbRequestsPerAdmittedCall: number;
  readonly readUnitsPerAdmittedCall: number;
  readonly writeUnitsPerAdmittedCall: number;
}

const TARGET_CAP = 100_000;

function callSid(): string {
  return `CA${randomBytes(16).toString('hex')}`;
}

/** The incoming call's first request, as Twilio signs it (the simulator's parameters, events/voice/player.ts). */
function incomingCall(s: VoiceSetup, to: string, n: number): WireRequest {
  const path = `/voice/twilio/${encodeURIComponent(s.accountId)}`;
  const from = `+1512${String(3_000_000 + n).padStart(7, '0')}`;
  const params: Record<string, string> = {
    AccountSid: s.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: callSid(),
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: from,
    To: to,
    Caller: from,
    Called: to,
    FromCountry: 'US',
    CallerCountry: 'US',
    ToCountry: 'US',
    CalledCountry: 'US',
  };
  const body = new URLSearchParams(params).toString();
  return {
    path,
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=UTF-8',
      'x-twilio-signature': twilioSignature(s.authToken, `${s.publicBaseUrl}${path}`, params),
      'i-twilio-idempotency-token': randomBytes(16).toString('hex'),
    },
    body,
  };
}

/** The TwiML answer's verbs (children of <Response>), in order: its shape without its text. */
function verbsOf(body: string | undefined): string {
  const inner = /<Response>([\s\S]*)<\/Response>/.exec(body ?? '')?.[1];
  if (inner === undefined) return 'not TwiML';
  const verbs: string[] = [];
  let depth = 0;
  for (const m of inner.matchAll(/<(\/?)([A-Za-z]+)[^>]*?(\/?)>/g)) {
    if (m[1] === '/') depth--;
    else {
      if (depth === 0) verbs.push(m[2]!);
      if (m[3] !== '/') depth++;
    }
  }
  return verbs.join(',') || 'empty';
}

function statusCounts(samples: readonly LoadSample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of samples) out[String(x.status)] = (out[String(x.status)] ?? 0) + 1;
  return out;
}

/** Calls a pilot had before the third configuration's run, each reserved then released. */
const HISTORY_CALLS = 1000;

/** `calls` reservations of `pilot` taken and released, as the voice answer and the rating do. */
async function pilotHistory(s: VoiceSetup, pilot: PilotTerms, calls: number): Promise<void> {
  const repo = new RoutingRepo({ mainTable: s.mainTable, client: s.dynamodb });
  const nowMs = Date.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < calls; i = next++) {
      const callId = `twilio:${callSid()}`;
      const write = reserve(pilot, callId, 1, nowMs, { ringSec: 30, maxCallSec: 3600, settleGraceSec: 600 });
      await repo.commit({ accountId: s.accountId, callId, atMs: nowMs, reservation: { pilot, write }, lease: null, admission: null, audit: [], flowVersion: 1, trackingNumber: '+17375550100', requestKey: 'history' });
      await repo.releaseReservation(s.accountId, pilot.pilotId, write.reservation!, nowMs);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Writes the three configurations; their tracking numbers, by label. */
async function configure(s: VoiceSetup, run: string, calls: number): Promise<Record<string, string>> {
  const nowMs = Date.now();
  const targetId = `bench-voice-${run}`;
  await putVoiceTarget(s, voiceTarget(s.accountId, targetId, '+17375550199', { concurrencyCap: TARGET_CAP }));
  const digits = randomBytes(2).readUInt16BE(0) % 3000;
  const numbers = { lease: `+1737556${String(digits * 3).padStart(4, '0')}`, pilot: `+1737556${String(digits * 3 + 1).padStart(4, '0')}`, history: `+1737556${String(digits * 3 + 2).padStart(4, '0')}` };
  const flow = { ...voiceFlow([targetId], false), greeting: null };
  await writeVoiceCampaign(s, { accountId: s.accountId, campaignId: `bv-lease-${run}`, publisherId: `pub-bv-lease-${run}`, number: numbers.lease, flow });
  const pilot = voicePilot(`bench-pilot-${run}`, `pub-bv-pilot-${run}`, calls * 10, s.timeZone, nowMs);
  await writeVoiceCampaign(s, { accountId: s.accountId, campaignId: `bv-pilot-${run}`, publisherId: pilot.publisherIds[0]!, number: numbers.pilot, flow, pilot });
  const older = voicePilot(`bench-pilot-h-${run}`, `pub-bv-pilot-h-${run}`, calls * 10, s.timeZone, nowMs);
  await writeVoiceCampaign(s, { accountId: s.accountId, campaignId: `bv-pilot-h-${run}`, publisherId: older.publisherIds[0]!, number: numbers.history, flow, pilot: older });
  await pilotHistory(s, older, HISTORY_CALLS);
  return { 'target lease': numbers.lease, 'lease + pilot reservation': numbers.pilot, [`lease + pilot reservation, after ${HISTORY_CALLS} ended calls`]: numbers.history };
}

/** Phase V: warm-up (closed loop), then each configuration at `ratePerSec` for `seconds`. */
export async function voiceBench(s: VoiceSetup, ratePerSec: number, seconds: number, log: (line: string) => void): Promise<VoiceRun[]> {
  const run = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const calls = ratePerSec * seconds;
  const numbers = await configure(s, run, calls);
  let n = 0;
  const out: VoiceRun[] = [];
  for (const [label, to] of Object.entries(numbers)) {
    // Warm-up: the config, target and secret caches, the handler's module, the JIT.
    const warm = await runLoad(s.baseUrl, Array.from({ length: 40 }, () => incomingCall(s, to, n++)), { kind: 'closed', concurrency: 4 });
    if (warm.some((x) => x.status !== 200)) throw new Error(`voice warm-up (${label}): ${JSON.stringify(statusCounts(warm))}`);
    const requests = Array.from({ length: calls }, () => incomingCall(s, to, n++));
    log(`V. voice URL, ${label}: ${calls} new calls at ${ratePerSec}/s offered (open loop)…`);
    const before = { requests: ddbStats.requests, readUnits: ddbStats.readUnits, writeUnits: ddbStats.writeUnits };
    const samples = await runLoad(s.baseUrl, requests, { kind: 'open', ratePerSec }, { keepBodies: true });
    const d = { requests: ddbStats.requests - before.requests, readUnits: ddbStats.readUnits - before.readUnits, writeUnits: ddbStats.writeUnits - before.writeUnits };
    const admitted = samples.filter((x) => x.status === 200 && (x.body ?? '').includes('<Dial')).length;
    const latencies = samples.map((x) => x.doneAt - x.dueAt);
    const per = (v: number) => round(v / Math.max(1, admitted), 2);
    const figures: VoiceRun = {
      label,
      offeredPerSec: ratePerSec,
      seconds,
      requests: samples.length,
      statusCounts: statusCounts(samples),
      admitted,
      answers: samples.reduce<Record<string, number>>((acc, x) => ({ ...acc, [`${x.status} ${verbsOf(x.body)}`]: (acc[`${x.status} ${verbsOf(x.body)}`] ?? 0) + 1 }), {}),
      latencyFromDueMs: { ...distribution(latencies), p95: round(percentile([...latencies].sort((a, b) => a - b), 95), 2) },
      senderLagMs: distribution(samples.map((x) => x.sentAt - x.dueAt)),
      dynamodbRequests: d.requests,
      dynamodbRequestsPerAdmittedCall: per(d.requests),
      readUnitsPerAdmittedCall: per(d.readUnits),
      writeUnitsPerAdmittedCall: per(d.writeUnits),
    };
    const l = figures.latencyFromDueMs;
    log(`   answers: ${Object.entries(figures.answers).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    log(
      `   ${admitted}/${samples.length} admitted; p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms; per admitted call ${figures.dynamodbRequestsPerAdmittedCall} DynamoDB requests, ${figures.writeUnitsPerAdmittedCall} WCU`,
    );
    out.push(figures);
  }
  return out;
}

/** The report's rows for phase V: latency and DynamoDB requests per admitted call, per configuration. */
export function voiceTargetRows(runs: readonly VoiceRun[], p99Ms: number, requestsPerCall: number) {
  return runs.flatMap((v) => {
    const l = v.latencyFromDueMs;
    return [
      { figure: `voice URL answer p50 / p95 / p99 @ ${v.offeredPerSec} new calls/s, ${v.label}`, measured: `${l.p50} / ${l.p95} / ${l.p99} ms`, target: `p99 ≤ ${p99Ms} ms`, met: l.p99 <= p99Ms },
      {
        figure: `voice URL DynamoDB requests per admitted call, ${v.label}`,
        measured: `${v.dynamodbRequestsPerAdmittedCall} (${v.admitted}/${v.requests} admitted)`,
        target: `≤ ${requestsPerCall}`,
        // Nothing admitted measures nothing: not met.
        met: v.admitted > 0 && v.dynamodbRequestsPerAdmittedCall <= requestsPerCall,
      },
    ];
  });
}
