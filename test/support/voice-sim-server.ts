/**
 * In-process servers for the call simulator's tests (node:http on a free loopback port):
 * - `startSignedServer`: answers each request with what a handler returns, after checking X-Twilio-Signature with
 *   the `twilio` package's own validateRequest (an oracle independent of CallLedger's signer) over the PUBLIC URL;
 * - `machineVoiceHandler`: a stand-in for the voice route, built from the pure call-flow domain only (state parse,
 *   needFor, admission, routing plan, the state machine, the TwiML renderer), which records everything Twilio's side
 *   told it: the digits, the Dial results, the dialled legs' progress, the call's end and the recordings.
 * Neither is the future voice route: they are what the simulator is tested against until that route exists.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { parseForm } from '../../shared/domain/calls/providers/twilio';
import type { CallFlowVersion } from '../../shared/domain/callflow/flow';
import { needFor, next, stepOf, type AuditEvent, type DialOutcome, type MachineInput } from '../../shared/domain/callflow/machine';
import { render } from '../../shared/domain/callflow/render';
import { parseState } from '../../shared/domain/callflow/state';
import { admit } from '../../shared/domain/routing/admission';
import { planRoute } from '../../shared/domain/routing/order';
import { callerGeoOf, type Target, type TargetFacts } from '../../shared/domain/routing/targets';
import { admissionInput, machineContext } from './callflow-fixtures';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  /** The public URL the signature was checked over. */
  readonly url: string;
  readonly params: Record<string, string>;
  readonly signatureValid: boolean;
  readonly headers: IncomingMessage['headers'];
}

export interface Answer {
  readonly status?: number;
  readonly contentType?: string | null;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

export interface SignedServer {
  /** Where to send requests (http://127.0.0.1:port). */
  readonly baseUrl: string;
  readonly received: Received[];
  close(): Promise<void>;
}

const one = (v: string | string[]): string => (Array.isArray(v) ? v.join(',') : v);

export async function startSignedServer(authToken: string, publicBaseUrl: string, handle: (r: Received) => Answer | Promise<Answer>): Promise<SignedServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        // The contract hooks probe every loopback origin for an OpenAPI document: this server serves none.
        if (req.url === '/v1/openapi.json') return void res.writeHead(404).end();
        const raw = Buffer.concat(chunks).toString('utf8');
        const target = new URL(req.url ?? '/', 'http://local');
        const url = `${publicBaseUrl.replace(/\/+$/, '')}${req.url ?? '/'}`;
        const form = req.method === 'POST' ? parseForm(raw) : {};
        const params = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, one(v)]));
        const signature = String(req.headers['x-twilio-signature'] ?? '');
        const r: Received = {
          method: req.method ?? 'GET',
          path: target.pathname,
          query: Object.fromEntries(target.searchParams),
          url,
          params: req.method === 'POST' ? params : Object.fromEntries(target.searchParams),
          signatureValid: twilio.validateRequest(authToken, signature, url, form),
          headers: req.headers,
        };
        received.push(r);
        const a = r.signatureValid ? await handle(r) : { status: 403, contentType: 'text/plain', body: 'bad signature' };
        res.writeHead(a.status ?? 200, { ...(a.contentType === null ? {} : { 'content-type': a.contentType ?? 'text/xml; charset=utf-8' }), ...a.headers });
        res.end(a.body ?? '');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

// ------------------------------------------------------------------------------------------ the call-flow stand-in

/** What the stand-in voice route saw of one call (by CallSid). */
export interface Observed {
  readonly steps: string[];
  /** Digits posted to a gather step (none: a no-input redirect, not listed). */
  readonly digits: string[];
  readonly dialResults: { readonly pos: number; readonly status: string; readonly durationSec: number | null; readonly bridged: string | null }[];
  readonly legEvents: { readonly targetId: string; readonly pos: number; readonly status: string; readonly sequence: number; readonly durationSec: number | null }[];
  parent: { readonly status: string; readonly durationSec: number } | null;
  readonly recordings: { readonly kind: string; readonly source: string; readonly durationSec: number; readonly channels: number; readonly status: string }[];
  readonly audit: AuditEvent[];
  readonly whispers: number;
}

export interface MachineServerOptions {
  readonly flow: CallFlowVersion;
  readonly targets: ReadonlyMap<string, Target>;
  /** Live facts of each target (e.g. at capacity) for every decision. */
  readonly facts?: ReadonlyMap<string, TargetFacts>;
  /** Callers (From) on the account's block list. */
  readonly blocked?: ReadonlySet<string>;
  /** The instant every decision is made at (admission needs one; the simulator's clock is not the server's). */
  readonly atMs: number;
  readonly publicBaseUrl: string;
}

const DIAL_STATUS: Record<string, DialOutcome> = { busy: 'busy', 'no-answer': 'no_answer', failed: 'failed', canceled: 'canceled' };

function dialOutcome(status: string | undefined, bridged: string | undefined): DialOutcome {
  // completed with DialBridged=false: the whisper hung up, nobody took the call.
  if (status === 'completed') return bridged === 'false' ? 'no_answer' : 'answered';
  return DIAL_STATUS[status ?? ''] ?? 'failed';
}

export function machineVoiceHandler(opts: MachineServerOptions): { readonly handle: (r: Received) => Answer; readonly observed: Map<string, Observed> } {
  const observed = new Map<string, Observed>();
  const of = (callSid: string): Observed => {
    let o = observed.get(callSid);
    if (o === undefined) {
      o = { steps: [], digits: [], dialResults: [], legEvents: [], parent: null, recordings: [], audit: [], whispers: 0 };
      observed.set(callSid, o);
    }
    return o;
  };
  const facts = opts.facts ?? new Map<string, TargetFacts>();

  const voice = (r: Received): Answer => {
    const p = r.params;
    const callSid = p.ParentCallSid ?? p.CallSid ?? '';
    const o = of(callSid);
    const callId = `twilio:${callSid}`;
    const ctx = { ...machineContext('twilio'), callId };
    const parsed = parseState(r.query, ctx);
    if (!parsed.ok) return { status: 400, contentType: 'application/problem+json', body: JSON.stringify(parsed.errors) };
    const state = parsed.state;
    o.steps.push(state.step);
    if (state.step === 'gather' && !state.none && p.Digits !== undefined) o.digits.push(p.Digits);
    if (state.step === 'dial') {
      o.dialResults.push({ pos: state.pos, status: p.DialCallStatus ?? '', durationSec: p.DialCallDuration === undefined ? null : Number(p.DialCallDuration), bridged: p.DialBridged ?? null });
    }
    if (state.step === 'whisper') (o as { whispers: number }).whispers++;
    const step = stepOf(state, { digits: p.Digits ?? null, dialOutcome: dialOutcome(p.DialCallStatus, p.DialBridged) });
    const flow = opts.flow;
    const need = needFor(flow, step);
    const call = { from: p.From ?? '', to: p.To ?? '', fromState: p.FromState || null, fromZip: p.FromZip || null, tags: [] as string[] };
    const input: MachineInput = {
      ctx,
      flow,
      step,
      targets: opts.targets,
      admission:
        need.kind === 'admission'
          ? admit(
              admissionInput({
                stage: need.stage,
                callId,
                call: { ...call, digits: need.digits },
                atMs: opts.atMs,
                route: flow.routes[need.route] ?? [],
                targets: opts.targets,
                targetFacts: facts,
                blocked: opts.blocked?.has(call.from) ? { blockId: 'blk_0123456789abcdef' } : null,
              }),
            )
          : null,
      plan: need.kind === 'replan' ? planRoute(flow.routes[need.route] ?? [], opts.targets, facts, callerGeoOf({ from: call.from, fromState: call.fromState, fromZip: call.fromZip }), callId, opts.atMs) : null,
    };
    const out = next(input);
    o.audit.push(...out.audit);
    const rendered = render('twilio', out.verbs, opts.publicBaseUrl);
    return { contentType: rendered.contentType, body: rendered.body };
  };

  const webhook = (r: Received): Answer => {
    const p = r.params;
    const q = r.query;
    if (q.leg === 'dial') {
      const o = of(p.ParentCallSid ?? '');
      o.legEvents.push({ targetId: q.target ?? '', pos: Number(q.pos), status: p.CallStatus ?? '', sequence: Number(p.SequenceNumber), durationSec: p.CallDuration === undefined ? null : Number(p.CallDuration) });
    } else if (q.rec !== undefined) {
      of(p.CallSid ?? '').recordings.push({ kind: q.rec, source: p.RecordingSource ?? '', durationSec: Number(p.RecordingDuration), channels: Number(p.RecordingChannels), status: p.RecordingStatus ?? '' });
    } else {
      of(p.CallSid ?? '').parent = { status: p.CallStatus ?? '', durationSec: Number(p.CallDuration) };
    }
    return { status: 204, contentType: null };
  };

  return {
    observed,
    handle: (r) => (r.path.startsWith('/voice/twilio/') ? voice(r) : r.path.startsWith('/webhooks/twilio/') ? webhook(r) : { status: 404, contentType: 'text/plain', body: 'not found' }),
  };
}
