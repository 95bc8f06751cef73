/**
 * zod schema of an account's quality-signal configuration (signals.ts). Apart from the pure module so that
 * the ledger writer, which computes signals while rating, does not bundle full zod. Every field has the documented
 * default (DEFAULT_QUALITY_CONFIG), so `{}` is a valid configuration.
 */
import * as z from 'zod';
import { DEFAULT_QUALITY_CONFIG, QUALITY_SIGNALS, type QualityConfig } from './signals';

const d = DEFAULT_QUALITY_CONFIG;
const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const QualitySignalSchema = z.enum(QUALITY_SIGNALS);

export const QualityConfigSchema = z.strictObject({
  nearBufferMarginSec: int(0, 3_600).default(d.nearBufferMarginSec).describe('near_buffer_hangup: billable seconds in [buffer, buffer + margin); 0 = off'),
  repeatWindowHours: int(1, 24 * 90).default(d.repeatWindowHours).describe('repeat_caller: same caller through another source within this many hours'),
  velocity: z
    .strictObject({
      count: int(2, 1_000).default(d.velocity.count).describe('calls from one caller within the window that make velocity'),
      blockCount: int(2, 100_000).default(d.velocity.blockCount).describe('calls from one number block within the window that make velocity'),
      windowMinutes: int(1, 24 * 60).default(d.velocity.windowMinutes),
      numberBlockDigits: int(3, 9).default(d.velocity.numberBlockDigits).describe('national digits naming a block: 6 = NPA-NXX'),
    })
    .prefault({}),
  silentTalk: z
    .strictObject({
      maxTalkRatio: z.number().gt(0).max(1).default(d.silentTalk.maxTalkRatio),
      minTalkSec: int(1, 3_600).default(d.silentTalk.minTalkSec),
      minTotalSec: int(1, 86_400).default(d.silentTalk.minTotalSec),
    })
    .prefault({}),
  coachedIvr: z
    .strictObject({
      minHumanMs: int(0, 60_000).default(d.coachedIvr.minHumanMs).describe('answers sooner after the prompt started are too fast for a person'),
      identicalTimingToleranceMs: int(0, 5_000).default(d.coachedIvr.identicalTimingToleranceMs),
      identicalTimingMinCallers: int(2, 1_000).default(d.coachedIvr.identicalTimingMinCallers),
      identicalTimingWindowMinutes: int(1, 7 * 24 * 60).default(d.coachedIvr.identicalTimingWindowMinutes),
    })
    .prefault({}),
  blockSignals: z
    .array(QualitySignalSchema)
    .max(QUALITY_SIGNALS.length)
    .refine((a) => new Set(a).size === a.length, 'must not repeat a signal')
    .default([...d.blockSignals])
    .describe('signals that make a call non-billable (blocked_signal) rather than only flag it'),
  score: z
    .strictObject({
      flagAt: int(1, 100).default(d.score.flagAt),
      minCalls: int(1, 1_000_000).default(d.score.minCalls),
      minBaselineNearBufferShare: z.number().gt(0).max(1).default(d.score.minBaselineNearBufferShare),
    })
    .prefault({}),
});

/** The parsed configuration is the domain's (checked at compile time both ways). */
export type QualityConfigInput = z.input<typeof QualityConfigSchema>;
type Parsed = z.output<typeof QualityConfigSchema>;
const _parsedIsConfig: (p: Parsed) => QualityConfig = (p) => p;
const _configIsParsed: (c: QualityConfig) => Parsed = (c) => ({ ...c, blockSignals: [...c.blockSignals] });
void _parsedIsConfig;
void _configIsParsed;

export function parseQualityConfig(input: unknown): QualityConfig {
  return QualityConfigSchema.parse(input ?? {});
}
