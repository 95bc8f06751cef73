/**
 * Quality signals at rating, against DynamoDB Local through the real writer: the per-call signals
 * (quality-signals.ts) found from what the writer has at hand are stored with the rating and shown by the rating
 * explanation; they flag by default and make a call non-billable (`blocked_signal`) only for the signals the account
 * blocks. The attestation rule needs the incoming-call event: it is evaluated when that event is in the batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configItems } from '../../../shared/adapters/calls/main-repo';
import { processIngestBatch } from '../../../shared/app/rating/process-ingest-batch';
import { getCallRating } from '../../../shared/app/calls/read-api';
import { DEFAULT_QUALITY_CONFIG } from '../../../shared/domain/quality/signals';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import { DncRepo } from '../../../shared/adapters/compliance/dnc-repo';
import { ConsentRepo } from '../../../shared/adapters/compliance/consent-repo';
import { callerHash } from '../../../shared/domain/calls/caller';
import { SeedPublisherSchema } from '../../../shared/domain/catalog/config-schema';
import { createTenant, freshNumber, ledgerItemsOf, lifecycle, records, startCoreEnv, type CoreEnv, type Tenant } from '../../support/writer-fixtures';

let env: CoreEnv;
beforeAll(async () => {
  env = await startCoreEnv();
});
afterAll(async () => {
  await env?.stop();
});

async function tenant(blockSignals: readonly string[]): Promise<Tenant> {
  const t = await createTenant(env.config, { priceCents: 4500, bufferSec: 90 });
  await env.config.putConfigItems([configItems.account({ ...t.account, quality: { ...DEFAULT_QUALITY_CONFIG, blockSignals: blockSignals as never } })]);
  return t;
}

/** A completed call whose incoming-call event carries `stirVerstat`, all in one batch. */
function call(t: Tenant, durationSec: number, stirVerstat: string | null) {
  const c = lifecycle({ accountId: t.account.accountId, from: freshNumber(), to: t.numbers.billable.number, startMs: Date.now() - 20 * 60_000, durationSec });
  const events = c.events.map((e) => (e.kind === 'call.status' && e.status === 'ringing' ? ({ ...e, stirVerstat } satisfies CallStatusEvent) : e));
  return { ...c, events };
}

async function rate(events: readonly CallStatusEvent[]) {
  expect((await processIngestBatch(records(events), env.writerDeps)).failedMessageIds).toEqual([]);
}

describe('quality signals at rating', () => {
  it('flags without blocking by default: a near-buffer hang-up and a failed attestation still bill, and say so', async () => {
    const t = await tenant([]);
    const near = call(t, 95, 'TN-Validation-Passed-A');
    const robo = call(t, 200, 'TN-Validation-Failed-B');
    const clean = call(t, 200, 'TN-Validation-Passed-A');
    await rate([...near.events, ...robo.events, ...clean.events]);
    const rating = async (id: string) => (await env.calls.getCall(id, { consistent: true }))!.rating!;
    expect(await rating(near.callId)).toMatchObject({ billable: true, recorded: { signals: ['near_buffer_hangup'] } });
    expect(await rating(robo.callId)).toMatchObject({ billable: true, recorded: { signals: ['robocall_suspect'] } });
    expect((await rating(clean.callId)).recorded?.signals).toBeUndefined();
    expect((await ledgerItemsOf(env, t.account.accountId)).filter((e) => e.type === 'charge')).toHaveLength(3);
  });

  it('a signal the account blocks makes the call non-billable (blocked_signal), and the explanation shows why', async () => {
    const t = await tenant(['robocall_suspect']);
    const robo = call(t, 200, null);
    const near = call(t, 92, 'TN-Validation-Passed-B');
    await rate([...robo.events, ...near.events]);
    const stored = (await env.calls.getCall(robo.callId, { consistent: true }))!;
    expect(stored.rating).toMatchObject({ billable: false, amountCents: 0, reasons: ['blocked_signal'], recorded: { signals: ['robocall_suspect'] } });
    const charges = (await ledgerItemsOf(env, t.account.accountId)).filter((e) => e.type === 'charge');
    expect(charges.map((c) => c.callId)).toEqual([near.callId]);

    const explained = await getCallRating({ accountId: t.account.accountId, role: 'analyst' }, robo.callId, { calls: env.calls, config: env.config });
    expect(explained.matchesRecorded).toBe(true);
    expect(explained.rules.find((r) => r.rule === 'blocked_signal')).toMatchObject({
      passed: false,
      inputs: { signals: ['robocall_suspect'], blockSignals: ['robocall_suspect'], blockedBy: ['robocall_suspect'] },
    });
  });

  it('without the incoming-call event at hand, the attestation is not guessed', async () => {
    const t = await tenant(['robocall_suspect']);
    const c = call(t, 200, 'TN-Validation-Failed-A');
    const ringing = c.events.filter((e) => e.kind === 'call.status' && e.status === 'ringing');
    const rest = c.events.filter((e) => !(e.kind === 'call.status' && e.status === 'ringing'));
    await rate(ringing);
    await rate(rest);
    expect((await env.calls.getCall(c.callId, { consistent: true }))!.rating).toMatchObject({ billable: true, reasons: [] });
  });

  it('compliance: a DNC-listed caller is flagged dnc_listed, and blocked when the account says so', async () => {
    const t = await tenant([]);
    const listed = call(t, 200, 'TN-Validation-Passed-A');
    const hash = callerHash(env.callerHashKey, listed.events[0]!.from);
    const dnc = new DncRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const since = new Date(Date.now() - 3_600_000).toISOString();
    await dnc.putList({ accountId: t.account.accountId, listId: 'internal', name: 'Internal', source: 'internal', at: since, by: 'test' });
    await dnc.writeEntries(t.account.accountId, [{ callerHash: hash, entry: { listId: 'internal', periods: [{ from: since, until: null }], updatedAt: since, updatedBy: 'test' } }]);
    await rate(listed.events);
    expect((await env.calls.getCall(listed.callId, { consistent: true }))!.rating).toMatchObject({ billable: true, recorded: { signals: ['dnc_listed'] } });

    await env.config.putConfigItems([configItems.account({ ...t.account, compliance: { dncNonBillable: true, consentMissingNonBillable: false } })]);
    const again = call(t, 200, 'TN-Validation-Passed-A');
    const hash2 = callerHash(env.callerHashKey, again.events[0]!.from);
    await dnc.writeEntries(t.account.accountId, [{ callerHash: hash2, entry: { listId: 'internal', periods: [{ from: since, until: null }], updatedAt: since, updatedBy: 'test' } }]);
    // A fresh writer cache (the account's compliance setting is cached like the rest of the configuration).
    const { ConfigRepo } = await import('../../../shared/adapters/calls/main-repo');
    const fresh = { ...env.writerDeps, config: new ConfigRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb }) };
    expect((await processIngestBatch(records(again.events), fresh)).failedMessageIds).toEqual([]);
    expect((await env.calls.getCall(again.callId, { consistent: true }))!.rating).toMatchObject({ billable: false, reasons: ['blocked_signal'] });
  });

  it('compliance: calls of an outbound publisher without consent evidence are consent_missing; with evidence captured before, clean', async () => {
    const t = await tenant([]);
    await env.config.putConfigItems([
      configItems.publisher(SeedPublisherSchema.parse({ accountId: t.account.accountId, publisherId: t.numbers.billable.publisherId, name: 'Dialer', trafficMethods: ['outbound'] })),
    ]);
    const without = call(t, 200, 'TN-Validation-Passed-A');
    const withConsent = call(t, 200, 'TN-Validation-Passed-A');
    const consent = new ConsentRepo({ mainTable: env.names.mainTable, client: env.clients.dynamodb });
    const capturedAt = new Date(Date.now() - 86_400_000).toISOString();
    await consent.putEvidence(callerHash(env.callerHashKey, withConsent.events[0]!.from), {
      evidenceId: 'ev-1',
      accountId: t.account.accountId,
      capturedAt,
      certificateId: 'cert-123',
      certificateUrl: null,
      leadId: null,
      publisherId: t.numbers.billable.publisherId,
      callId: null,
      postedAt: capturedAt,
      postedBy: 'test',
    });
    await rate([...without.events, ...withConsent.events]);
    expect((await env.calls.getCall(without.callId, { consistent: true }))!.rating).toMatchObject({ billable: true, recorded: { signals: ['consent_missing'] } });
    expect((await env.calls.getCall(withConsent.callId, { consistent: true }))!.rating?.recorded?.signals).toBeUndefined();
  });

  it('source transparency: a call through a sub-source the publisher did not declare is undisclosed_source', async () => {
    const t = await tenant([]);
    const put = (subSources: string[]) =>
      env.config.putConfigItems([
        configItems.publisher(SeedPublisherSchema.parse({ accountId: t.account.accountId, publisherId: t.numbers.billable.publisherId, name: 'A', subSources })),
      ]);
    await put(['google']);
    const hidden = call(t, 200, 'TN-Validation-Passed-A');
    await rate(hidden.events);
    expect((await env.calls.getCall(hidden.callId, { consistent: true }))!.rating).toMatchObject({ billable: true, recorded: { signals: ['undisclosed_source'] } });
  });
});
