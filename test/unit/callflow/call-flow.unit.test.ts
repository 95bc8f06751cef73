/**
 * The call flow as configuration (flow.ts, flow-schema.ts, targets-schema.ts) and the state that rides in callback
 * URLs (state.ts).
 */
import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { appendFlowVersion, flowConflicts, flowInForce, whisperText, type CallFlowVersion } from '../../../shared/domain/callflow/flow';
import { CallFlowChangeSchema, CallFlowSchema } from '../../../shared/domain/callflow/flow-schema';
import { parseState, stateMac, voicePath, type VoiceState } from '../../../shared/domain/callflow/state';
import { TargetBodySchema } from '../../../shared/domain/routing/targets-schema';
import { Unprocessable } from '../../../shared/domain/kernel/problems';
import { AT, FLOW, TERMS, flowVersion, machineContext } from '../../support/callflow-fixtures';

const MIN = 60_000;

describe('call flow schema', () => {
  it('accepts the reference flow and fills the defaults of a minimal one', () => {
    expect(CallFlowSchema.safeParse(FLOW).success).toBe(true);
    const minimal = CallFlowSchema.parse({ routes: { default: ['t-a'] }, unavailable: { action: 'reject' }, failSafe: { action: 'message', message: { kind: 'say', text: 'Sorry.' } } });
    expect(minimal).toMatchObject({ greeting: null, ivr: null, ringTimeoutSec: 20, maxCallSec: 3600, recording: 'off', whisper: null, caps: null });
    expect(minimal.failSafe).toEqual({ action: 'message', message: { kind: 'say', text: 'Sorry.', voice: null, language: 'en-US' } });
  });

  it('refuses what a provider could not do, naming the field', () => {
    const bad = (patch: Record<string, unknown>) => {
      const r = CallFlowSchema.safeParse({ ...FLOW, ...patch });
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(bad({ routes: { other: ['t-a'] } })).toContain('routes');
    expect(bad({ maxCallSec: 7201 })).toContain('maxCallSec');
    expect(bad({ ringTimeoutSec: 4 })).toContain('ringTimeoutSec');
    expect(bad({ greeting: { kind: 'say', text: 'x'.repeat(1501) } })).toContain('greeting.text');
    expect(bad({ greeting: { kind: 'say', text: 'bell\u0007' } })).toContain('greeting.text');
    expect(bad({ greeting: { kind: 'play', url: 'http://example.com/a.mp3' } })).toContain('greeting.url');
    expect(bad({ greeting: { kind: 'play', url: 'https://u:p@example.com/a.mp3' } })).toContain('greeting.url');
    const ivr = FLOW.ivr as NonNullable<typeof FLOW.ivr>;
    expect(bad({ ivr: { ...ivr, options: [{ digits: '1', then: { action: 'qualify' } }, { digits: '22', then: { action: 'qualify' } }] } })).toContain('ivr.options.1.digits');
    expect(bad({ ivr: { ...ivr, options: [{ digits: '#', then: { action: 'qualify' } }] } })).toContain('ivr.options.0.digits');
    expect(bad({ ivr: { ...ivr, noInput: { action: 'route', route: 'nowhere' } } })).toContain('ivr.noInput.route');
  });

  it('documents itself as JSON Schema (OpenAPI): flow and target bodies', () => {
    expect(() => z.toJSONSchema(CallFlowChangeSchema, { io: 'input' })).not.toThrow();
    const target = z.toJSONSchema(TargetBodySchema, { io: 'input' }) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(target.properties)).toEqual(expect.arrayContaining(['destination', 'hours', 'concurrencyCap', 'hourlyCap', 'dailyCap', 'geography', 'priority', 'weight']));
    expect(target.required).toEqual(['name', 'destination']);
  });

  it('target destinations: E.164 numbers and SIP URIs without markup characters', () => {
    const dest = (destination: unknown) => TargetBodySchema.safeParse({ name: 'x', destination }).success;
    expect(dest({ kind: 'number', e164: '+15125550199' })).toBe(true);
    expect(dest({ kind: 'sip', uri: 'sip:agent@pbx.example.com;transport=tls' })).toBe(true);
    expect(dest({ kind: 'sip', uri: 'sip:a"><Hangup/>@x' })).toBe(false);
    expect(dest({ kind: 'number', e164: '5125550199' })).toBe(false);
  });
});

describe('call flow versions: effective-dated exactly like terms', () => {
  const v1 = flowVersion(FLOW, 1);

  it('a change appends the next version no sooner than 60 s ahead; an identical flow appends nothing', () => {
    const changed = { ...FLOW, ringTimeoutSec: 25 };
    const { versions, appended } = appendFlowVersion([v1], changed, undefined, AT);
    expect(appended).toBe(true);
    expect(versions.at(-1)).toMatchObject({ version: 2, effectiveFrom: new Date(AT + MIN).toISOString(), ringTimeoutSec: 25 });
    expect(appendFlowVersion(versions, changed, undefined, AT + 5 * MIN)).toEqual({ versions, appended: false });
    expect(() => appendFlowVersion([v1], changed, new Date(AT + 30_000).toISOString(), AT)).toThrow(Unprocessable);
  });

  it('the version in force is the highest-numbered one effective at or before the instant', () => {
    const v2: CallFlowVersion = { ...flowVersion(FLOW, 2), effectiveFrom: new Date(AT + 10 * MIN).toISOString() };
    const v3: CallFlowVersion = { ...flowVersion(FLOW, 3), effectiveFrom: new Date(AT + 5 * MIN).toISOString() };
    expect(flowInForce([v1, v2, v3], AT)?.version).toBe(1);
    expect(flowInForce([v1, v2, v3], AT + 6 * MIN)?.version).toBe(3);
    expect(flowInForce([v1, v2, v3], AT + 11 * MIN)?.version).toBe(3); // v3 superseded the scheduled v2
    expect(flowInForce([v2], AT)).toBeNull();
  });

  it('conflicts with the terms and the account’s targets are named (422 fields)', () => {
    const terms = { ...TERMS, qualification: { acceptedDigits: ['1'] } };
    const fields = flowConflicts(FLOW, terms, new Set(['t-a', 't-b'])).map((e) => e.field);
    // "2" routes a call the terms do not qualify; t-c is unknown. "9" ends the call: no conflict.
    expect(fields).toEqual(['ivr.options.1.then', 'routes.repairs.0']);
    expect(flowConflicts({ ...FLOW, ivr: null }, terms, new Set(['t-a', 't-b', 't-c'])).map((e) => e.field)).toEqual(['ivr']);
    expect(flowConflicts(FLOW, TERMS, new Set(['t-a', 't-b', 't-c']))).toEqual([]);
  });

  it('the whisper names source and campaign', () => {
    expect(whisperText({ text: 'Call from {publisher} ({subSource}) for {campaign}.', voice: null, language: 'en-US' }, { publisher: 'Acme', subSource: null, campaign: 'Roofing' })).toBe(
      'Call from Acme () for Roofing.',
    );
  });
});

describe('state in callback URLs', () => {
  const states: VoiceState[] = [
    { step: 'gather', v: 3, attempt: 2, none: true },
    { step: 'dial', v: 3, route: 'default', pos: 1 },
    { step: 'whisper', v: 3, route: 'repairs', pos: 0 },
    { step: 'voicemail', v: 3 },
  ];
  const query = (path: string) => Object.fromEntries(new URL(`https://x${path}`).searchParams);

  it('round-trips on every provider; Twilio and Plivo sign the URL, Telnyx and Vonage carry st', () => {
    for (const provider of ['twilio', 'telnyx', 'vonage', 'plivo'] as const) {
      const ctx = machineContext(provider);
      for (const s of states) {
        const path = voicePath(ctx, s);
        expect(path.startsWith(`/voice/${provider}/acct-1?step=`)).toBe(true);
        expect('st' in query(path)).toBe(provider === 'telnyx' || provider === 'vonage');
        expect(parseState(query(path), ctx)).toEqual({ ok: true, state: s });
      }
    }
  });

  it('refuses a forged, moved or unsigned state where the provider does not sign the URL', () => {
    const ctx = machineContext('telnyx');
    const path = voicePath(ctx, { step: 'dial', v: 3, route: 'default', pos: 1 });
    const q = query(path);
    expect(parseState({ ...q, pos: '2' }, ctx)).toMatchObject({ ok: false, errors: [{ field: 'st' }] });
    expect(parseState(q, { ...ctx, callId: 'telnyx:other' })).toMatchObject({ ok: false, errors: [{ field: 'st' }] });
    const { st: _st, ...unsigned } = q;
    expect(parseState(unsigned, ctx)).toMatchObject({ ok: false, errors: [{ field: 'st' }] });
    expect(stateMac('k', 'c', 'a=1')).toHaveLength(22);
    // The first request comes to the configured URL: no state, nothing to sign.
    expect(parseState({ to: '15125550101', from: '15125550123' }, ctx)).toEqual({ ok: true, state: { step: 'incoming' } });
  });

  it('names every bad parameter, never its value', () => {
    const r = parseState({ step: 'dial', v: 'x', route: 'Bad Route', pos: '12' }, machineContext('twilio'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.field)).toEqual(['route', 'v', 'pos']);
    expect(JSON.stringify(r.errors)).not.toContain('Bad Route');
    expect(parseState({ step: 'nope' }, machineContext('twilio'))).toMatchObject({ ok: false, errors: [{ field: 'step' }] });
  });
});
