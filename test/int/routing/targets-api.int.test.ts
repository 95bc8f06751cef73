/**
 * The inputs of routing over HTTP on the local stack: destinations (`PUT/GET /v1/targets/{targetId}`) and a
 * campaign's call flow (`callFlow` on `PUT /v1/campaigns/{id}`), versioned and effective-dated like terms.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../../infra/local/stack';
import { CONFIG_LEAD_MS } from '../../../shared/domain/catalog/config';
import { apiGet, apiKey, apiSend, expectProblem } from '../../support/e2e-harness';
import { FLOW } from '../../support/callflow-fixtures';

const ACCOUNT = 'acme-roofing';
const suffix = randomBytes(3).toString('hex');
const CAMPAIGN = `flow-${suffix}`;
let stack: LocalStack;
let admin: string;
let analyst: string;

const TARGET = {
  name: 'Austin office',
  destination: { kind: 'number', e164: '+15125550111' },
  hours: { timeZone: 'America/Chicago', windows: [{ day: 'mon', open: '09:00', close: '17:00' }], holidays: ['2026-12-25'] },
  concurrencyCap: 2,
  dailyCap: 50,
  geography: { states: ['TX'], zipPrefixes: [], areaCodes: [] },
  priority: 1,
  weight: 3,
};

const flowBody = (routes: Record<string, string[]>) => ({
  name: 'Flow test',
  vertical: 'home_services',
  terms: { priceCents: 3000, bufferSec: 30, duplicateWindowHours: 24 },
  callFlow: { flow: { ...FLOW, routes: { repairs: [`t-a-${suffix}`], ...routes } } },
});

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
  admin = apiKey(stack, ACCOUNT, 'admin');
  analyst = apiKey(stack, ACCOUNT, 'analyst');
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

describe('targets', () => {
  it('an admin creates (201) and replaces (200) a target; any key reads it; rev counts the writes', async () => {
    expectProblem(await apiSend(stack, 'PUT', `/v1/targets/t-a-${suffix}`, analyst, { json: TARGET }), 403, 'forbidden');
    const created = await apiSend(stack, 'PUT', `/v1/targets/t-a-${suffix}`, admin, { json: TARGET });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ accountId: ACCOUNT, targetId: `t-a-${suffix}`, enabled: true, hourlyCap: null, ringTimeoutSec: null, rev: 1 });
    const replaced = await apiSend(stack, 'PUT', `/v1/targets/t-a-${suffix}`, admin, { json: { ...TARGET, concurrencyCap: 3 } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ concurrencyCap: 3, rev: 2 });
    const read = await apiGet(stack, `/v1/targets/t-a-${suffix}`, analyst);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(replaced.body);
  });

  it('refuses a bad body naming the fields, a bad id, and reads another id as 404', async () => {
    const bad = await apiSend(stack, 'PUT', `/v1/targets/t-b-${suffix}`, admin, { json: { ...TARGET, destination: { kind: 'sip', uri: 'http://x' }, weight: 0 } });
    expectProblem(bad, 400, 'malformed-request');
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['destination.uri', 'weight']);
    expectProblem(await apiSend(stack, 'PUT', '/v1/targets/Bad_Id', admin, { json: TARGET }), 400, 'malformed-request');
    expectProblem(await apiGet(stack, `/v1/targets/t-none-${suffix}`, admin), 404, 'not-found');
  });
});

describe('call flow on the campaign', () => {
  it('appends version 1 effective no sooner than CONFIG_LEAD_MS; the same flow again appends nothing; a change appends version 2', async () => {
    const t0 = Date.now();
    const first = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, { json: flowBody({ default: [`t-a-${suffix}`] }) });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.flowVersions).toHaveLength(1);
    expect(first.body.flowVersions[0]).toMatchObject({ version: 1, routes: { default: [`t-a-${suffix}`], repairs: [`t-a-${suffix}`] }, recording: 'dual' });
    expect(Date.parse(first.body.flowVersions[0].effectiveFrom)).toBeGreaterThanOrEqual(t0 + CONFIG_LEAD_MS);
    expect(first.body.flowInForce).toBeNull();

    const again = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, { json: flowBody({ default: [`t-a-${suffix}`] }) });
    expect(again.status).toBe(200);
    expect(again.body.flowVersions).toEqual(first.body.flowVersions);

    const later = new Date(Date.now() + 10 * 60_000).toISOString();
    const body = flowBody({ default: [`t-a-${suffix}`] });
    const changed = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, {
      json: { ...body, callFlow: { effectiveFrom: later, flow: { ...body.callFlow.flow, ringTimeoutSec: 30 } } },
    });
    expect(changed.status).toBe(200);
    expect(changed.body.flowVersions.map((v: { version: number; ringTimeoutSec: number }) => [v.version, v.ringTimeoutSec])).toEqual([
      [1, 20],
      [2, 30],
    ]);
    expect(changed.body.flowVersions[1].effectiveFrom).toBe(later);
    // Terms and flow are independent histories: the terms did not change.
    expect(changed.body.termsVersions).toHaveLength(1);
    expect((await apiGet(stack, `/v1/campaigns/${CAMPAIGN}`, analyst)).body.flowVersions).toEqual(changed.body.flowVersions);
  });

  it('a flow routing to a target the account does not have is 422 naming the route entry; nothing is written', async () => {
    const before = (await apiGet(stack, `/v1/campaigns/${CAMPAIGN}`, admin)).body;
    const refused = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, { json: flowBody({ default: [`t-a-${suffix}`, 'nobody'] }) });
    expectProblem(refused, 422, 'unprocessable');
    expect(refused.body.errors).toEqual([{ field: 'callFlow.flow.routes.default.1', message: 'names no target of this account' }]);
    expect((await apiGet(stack, `/v1/campaigns/${CAMPAIGN}`, admin)).body).toEqual(before);
  });

  it('a flow that is not valid is 400 naming the field', async () => {
    const body = flowBody({ default: [`t-a-${suffix}`] });
    const bad = await apiSend(stack, 'PUT', `/v1/campaigns/${CAMPAIGN}`, admin, { json: { ...body, callFlow: { flow: { ...body.callFlow.flow, ringTimeoutSec: 2 } } } });
    expectProblem(bad, 400, 'malformed-request');
    expect(bad.body.errors).toEqual([{ field: 'callFlow.flow.ringTimeoutSec', message: expect.any(String) }]);
  });
});
