/**
 * The `PUT /v1/networks/{networkId}` body: defaults per platform kind (field sources with the platforms' documented
 * tokens, credit policy, tolerances, the SIP header that carries the network's call id), what a generic network must
 * say, and precise field errors for bad input.
 */
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CREDIT_WINDOW_DAYS,
  DEFAULT_DURATION_GAP_TOLERANCE_SEC,
  DEFAULT_FIELDS,
  DEFAULT_FORWARDED_CALL_ID,
  DEFAULT_START_TOLERANCE_SEC,
  effectiveFields,
  effectiveForwardedCallId,
  sharedParams,
} from '../../../shared/domain/networks/registration';
import { NetworkRegistrationSchema } from '../../../shared/domain/networks/registration-schema';

const base = { kind: 'ringba', name: 'Ringba network', destinations: ['+15125550199'] };

function issues(body: unknown): { path: string; message: string }[] {
  const r = NetworkRegistrationSchema.safeParse(body);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

describe('network registration', () => {
  it('fills the defaults: propose disputes for 30 days, 120 s start and 15 s duration tolerances, no IP allow-list', () => {
    const r = NetworkRegistrationSchema.parse(base);
    expect(r.creditPolicy).toEqual({ mode: 'propose', windowDays: DEFAULT_CREDIT_WINDOW_DAYS });
    expect(r.tolerances).toEqual({ startToleranceSec: DEFAULT_START_TOLERANCE_SEC, durationGapToleranceSec: DEFAULT_DURATION_GAP_TOLERANCE_SEC });
    expect([DEFAULT_CREDIT_WINDOW_DAYS, DEFAULT_START_TOLERANCE_SEC, DEFAULT_DURATION_GAP_TOLERANCE_SEC]).toEqual([30, 120, 15]);
    expect(r.sourceIpAllowList).toEqual([]);
    expect(r.fields).toEqual({});
  });

  it('maps each platform kind to its documented tokens by default', () => {
    expect(effectiveFields('ringba', {}).callId).toEqual({ param: 'call_id', token: '[Call:InboundCallId]' });
    expect(effectiveFields('ringba', {}).caller?.token).toBe('[tag:InboundNumber:Number]');
    expect(effectiveFields('ringba', {}).publisher?.token).toBe('[tag:Publisher:Name]');
    expect(effectiveFields('ringba', {}).subSource?.token).toBe('[tag:Publisher:SubId]');
    expect(effectiveFields('ringba', {}).payout?.token).toBe('[Call:ConversionAmount]');
    // No documented duration token: none guessed.
    expect(effectiveFields('ringba', {}).durationSec).toBeUndefined();
    expect(effectiveFields('retreaver', {}).callId?.token).toBe('[call_uuid]');
    expect(effectiveFields('retreaver', {}).durationSec?.token).toBe('[call_duration]');
    expect(effectiveFields('retreaver', {}).publisher?.token).toBe('[affiliate_id]');
    expect(effectiveFields('trackdrive', {}).converted?.param).toBe('buyer_converted');
    expect(effectiveFields('generic', {})).toEqual({});
  });

  it('overrides a default field by field, keeping the others', () => {
    const mapping = effectiveFields('ringba', { publisher: { param: 'pub', token: '[tag:Publisher:Id]' } });
    expect(mapping.publisher).toEqual({ param: 'pub', token: '[tag:Publisher:Id]' });
    expect(mapping.callId).toEqual(DEFAULT_FIELDS.ringba.callId);
  });

  it('refuses a generic network that does not map the call id', () => {
    expect(issues({ ...base, kind: 'generic', fields: { caller: { param: 'from' } } })).toEqual([
      { path: 'fields.callId', message: 'required for a generic network (the network call id keys every claim)' },
    ]);
    expect(issues({ ...base, kind: 'generic', fields: { callId: { param: 'id' } } })).toEqual([]);
  });

  it('refuses two fields reading one parameter, also against a default', () => {
    expect(issues({ ...base, fields: { subSource: { param: 'publisher' } } })).toEqual([{ path: 'fields', message: 'two fields read the parameter publisher' }]);
    expect(sharedParams({ callId: { param: 'id', token: null }, caller: { param: 'id', token: null } })).toEqual(['id']);
  });

  it('names every bad field precisely', () => {
    const got = issues({
      kind: 'ringba2',
      name: '',
      destinations: ['5125550199', '+15125550199'],
      fields: { payout: { param: 'amount value' }, bogus: { param: 'x' } },
      creditPolicy: { mode: 'always', windowDays: 400 },
      tolerances: { startToleranceSec: -1, durationGapToleranceSec: 1.5 },
      sourceIpAllowList: ['10.0.0.0/33', '2001:db8::/129', 'fe80::1%eth0', 'not-an-ip', '203.0.113.0/24'],
    }).map((i) => i.path);
    expect(got).toEqual(
      expect.arrayContaining([
        'kind',
        'name',
        'destinations.0',
        'fields.payout.param',
        'fields',
        'creditPolicy.mode',
        'creditPolicy.windowDays',
        'tolerances.startToleranceSec',
        'tolerances.durationGapToleranceSec',
        'sourceIpAllowList.0',
        'sourceIpAllowList.1',
        'sourceIpAllowList.2',
        'sourceIpAllowList.3',
      ]),
    );
    expect(got).not.toContain('sourceIpAllowList.4');
  });

  it('refuses repeated destinations and an empty list', () => {
    expect(issues({ ...base, destinations: ['+15125550199', '+15125550199'] })).toEqual([{ path: 'destinations', message: 'must not repeat a number' }]);
    expect(issues({ ...base, destinations: [] }).map((i) => i.path)).toEqual(['destinations']);
  });

  it('is registered for the OpenAPI document under its id', () => {
    expect(z.globalRegistry.get(NetworkRegistrationSchema)?.id).toBe('NetworkRegistration');
    const doc = z.toJSONSchema(NetworkRegistrationSchema, { io: 'input', unrepresentable: 'any' }) as { $defs: Record<string, { properties: Record<string, unknown>; required: string[] }> };
    const json = doc.$defs.NetworkRegistration!;
    expect(Object.keys(json.properties).sort()).toEqual(['creditPolicy', 'destinations', 'fields', 'forwardedCallId', 'kind', 'name', 'sourceIpAllowList', 'tolerances']);
    expect(json.required.sort()).toEqual(['destinations', 'kind', 'name']);
    expect(JSON.stringify(doc.$defs.NetworkForwardedCallId)).toContain('sipHeader');
  });
});

describe('where the network passes its call id on the forwarded call', () => {
  it('defaults to Retreaver’s X-PH-RetreaverUUID and to nothing for the kinds that document no header name', () => {
    expect(effectiveForwardedCallId('retreaver', undefined)).toEqual({ sipHeader: 'X-PH-RetreaverUUID' });
    for (const kind of ['ringba', 'trackdrive', 'generic'] as const) expect(effectiveForwardedCallId(kind, undefined)).toBeNull();
    expect(DEFAULT_FORWARDED_CALL_ID.retreaver).toEqual({ sipHeader: 'X-PH-RetreaverUUID' });
  });

  it('takes the registration’s own header, and null turns a default off', () => {
    const own = NetworkRegistrationSchema.parse({ ...base, forwardedCallId: { sipHeader: 'X-Ringba-Call' } });
    expect(effectiveForwardedCallId(own.kind, own.forwardedCallId)).toEqual({ sipHeader: 'X-Ringba-Call' });
    const off = NetworkRegistrationSchema.parse({ ...base, kind: 'retreaver', forwardedCallId: null });
    expect(effectiveForwardedCallId(off.kind, off.forwardedCallId)).toBeNull();
    expect(NetworkRegistrationSchema.parse({ ...base, kind: 'retreaver' }).forwardedCallId).toBeUndefined();
  });

  it('refuses a header our legs never keep: not X-…, too long, a credential’s name, an unknown key', () => {
    const path = 'forwardedCallId.sipHeader';
    expect(issues({ ...base, forwardedCallId: { sipHeader: 'Call-ID' } })).toEqual([{ path, message: 'must be X- followed by 1 to 62 letters, digits, _ . -' }]);
    expect(issues({ ...base, forwardedCallId: { sipHeader: `X-${'a'.repeat(63)}` } }).map((i) => i.path)).toEqual([path]);
    expect(issues({ ...base, forwardedCallId: { sipHeader: 'X-Call Id' } }).map((i) => i.path)).toEqual([path]);
    expect(issues({ ...base, forwardedCallId: { sipHeader: 'X-PH-RetreaverKey' } })).toEqual([
      { path, message: 'names a credential (…key, …secret, …auth, …signature): such a header is never kept' },
    ]);
    expect(issues({ ...base, forwardedCallId: { parameter: 'call_id' } }).map((i) => i.path).sort()).toEqual(['forwardedCallId', 'forwardedCallId.sipHeader']);
    expect(issues({ ...base, forwardedCallId: { sipHeader: `X-${'a'.repeat(62)}` } })).toEqual([]);
  });
});
