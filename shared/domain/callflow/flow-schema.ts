/**
 * zod schema of a campaign's call flow (flow.ts), the `callFlow` of `PUT /v1/campaigns/{id}`. Apart from flow.ts so
 * the voice function does not bundle full zod; shapes only, no transforms, so `z.toJSONSchema` documents exactly
 * the body it validates. Limits and their reasons:
 * - spoken text ≤ 1500 characters: Vonage's `talk` limit, the lowest of the four providers;
 * - ring timeout 5–60 s (Twilio's minimum is 5 s); the call's time limit 60–7200 s: TeXML's `timeLimit` minimum
 *   and Vonage's `connect` `limit` maximum, so every provider can be told the same limit;
 * - IVR timeout 1–10 s (Vonage `dtmf.timeOut` maximum) and at most 5 retries; answers of 1–8 keypad characters,
 *   every option the same length (the length is how the providers know the caller has finished), and no `#`
 *   (Twilio and TeXML end input on `#` and leave it out of the digits);
 * - audio by https URL without credentials; a voicemail 5–600 s;
 * - a route lists 1–10 targets (Twilio dials at most 10 nouns), named like ids.
 */
import * as z from 'zod';
import { IdSchema } from '../kernel/ids-schema';
import { TargetDestinationSchema } from '../routing/targets-schema';
import { RECORDING_MODES } from './flow';
import { isXmlText } from './render/xml';

const language = z.string().regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}$/, 'must be a BCP-47 language tag like en-US');
const voice = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a provider voice name like Polly.Joanna');
const text = z.string().trim().min(1).max(1500).refine(isXmlText, 'must not contain control characters');

const AudioUrlSchema = z
  .url({ protocol: /^https$/, error: 'must be an https URL' })
  .max(1024)
  .refine((u) => {
    const url = new URL(u);
    return url.username === '' && url.password === '';
  }, 'must not carry credentials');

export const SpeechSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('say'), text, voice: voice.nullable().default(null), language: language.default('en-US') }),
  z.strictObject({ kind: z.literal('play'), url: AudioUrlSchema }),
]);

const routeName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'must be 1-32 lower-case letters, digits, - or _');

export const IvrActionSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('qualify') }),
  z.strictObject({ action: z.literal('route'), route: routeName }),
  z.strictObject({ action: z.literal('end'), message: SpeechSchema.nullable().default(null) }),
]);

export const IvrMenuSchema = z
  .strictObject({
    prompt: SpeechSchema,
    options: z
      .array(z.strictObject({ digits: z.string().regex(/^[0-9*]{1,8}$/, 'must be 1-8 keypad characters (0-9 or *; # ends input on some providers)'), then: IvrActionSchema }))
      .min(1)
      .max(12),
    timeoutSec: z.number().int().min(1).max(10).default(5),
    retries: z.number().int().min(0).max(5).default(1),
    retryPrompt: SpeechSchema.nullable().default(null),
    noInput: IvrActionSchema.default({ action: 'end', message: null }),
  })
  .superRefine((m, ctx) => {
    const length = m.options[0]?.digits.length;
    const seen = new Set<string>();
    m.options.forEach((o, i) => {
      if (o.digits.length !== length) ctx.addIssue({ code: 'custom', path: ['options', i, 'digits'], message: 'must be as long as the first option' });
      if (seen.has(o.digits)) ctx.addIssue({ code: 'custom', path: ['options', i, 'digits'], message: 'repeats an earlier option' });
      seen.add(o.digits);
    });
  });

export const UnavailableSchema = z.discriminatedUnion('action', [
  z.strictObject({ action: z.literal('message'), message: SpeechSchema }),
  z.strictObject({ action: z.literal('voicemail'), prompt: SpeechSchema, maxLengthSec: z.number().int().min(5).max(600).default(120) }),
  z.strictObject({ action: z.literal('reject') }),
]);

export const FailSafeSchema = z.discriminatedUnion('action', [
  z.strictObject({
    action: z.literal('target'),
    destination: TargetDestinationSchema,
    ringTimeoutSec: z.number().int().min(5).max(60).default(20),
    message: SpeechSchema.nullable().default(null),
  }),
  z.strictObject({ action: z.literal('message'), message: SpeechSchema }),
]);

const capCount = z.number().int().min(1).max(1_000_000).nullable().default(null);

export const CallFlowSchema = z
  .strictObject({
    greeting: SpeechSchema.nullable().default(null),
    ivr: IvrMenuSchema.nullable().default(null),
    routes: z.record(routeName, z.array(IdSchema).min(1).max(10)).refine((r) => r.default !== undefined, 'must have a default route'),
    ringTimeoutSec: z.number().int().min(5).max(60).default(20),
    maxCallSec: z.number().int().min(60).max(7200).default(3600),
    recording: z.enum(RECORDING_MODES).default('off'),
    whisper: z
      .strictObject({ text: z.string().trim().min(1).max(500).refine(isXmlText, 'must not contain control characters'), voice: voice.nullable().default(null), language: language.default('en-US') })
      .nullable()
      .default(null),
    unavailable: UnavailableSchema,
    refusedMessage: SpeechSchema.nullable().default(null),
    caps: z.strictObject({ concurrentCalls: capCount, hourlyCalls: capCount, dailyCalls: capCount }).nullable().default(null),
    failSafe: FailSafeSchema,
  })
  .superRefine((f, ctx) => {
    const check = (path: (string | number)[], a: z.infer<typeof IvrActionSchema>) => {
      if (a.action === 'route' && f.routes[a.route] === undefined) ctx.addIssue({ code: 'custom', path: [...path, 'route'], message: 'names no route of this flow' });
    };
    f.ivr?.options.forEach((o, i) => check(['ivr', 'options', i, 'then'], o.then));
    if (f.ivr) check(['ivr', 'noInput'], f.ivr.noInput);
  });

/** `callFlow` of a campaign PUT: the flow and when it takes effect (default and minimum: now + CONFIG_LEAD_MS). */
export const CallFlowChangeSchema = z.strictObject({
  effectiveFrom: z.iso.datetime({ offset: true }).optional(),
  flow: CallFlowSchema,
});
