/**
 * Recording retention classes and the legal hold, as S3 object tags (docs/CONTRACTS.md "Recordings
 * retention and deletion"). Pure: no AWS types.
 *
 * Why tags: S3 lifecycle rules can select objects by tag, and a tag change keeps the object's creation date (the
 * age lifecycle counts from) and adds no version. So every stored recording carries two tags:
 * - `retention-class` = `d<days>`: the account's class when the recording was stored (kept for ever, never matched);
 * - `expiry` = `d<days>` normally, `hold` while a dispute of its call is open. Each class has ONE lifecycle rule
 *   filtering on `expiry=d<days>`; no rule filters on `expiry=hold`, so S3 never expires a held recording. Releasing
 *   the hold sets `expiry` back to the `retention-class` value; a recording already older than its class then
 *   expires at S3's next lifecycle run (the retention counts from the recording, not from the release).
 *
 * Why not S3 Object Lock legal hold: Object Lock can only be switched on for a versioned bucket together with a
 * bucket-wide configuration, it does not stop lifecycle expiration from putting a delete marker on the current
 * version (the recording disappears from its key while its version is kept), and fauxqs (the local S3) routes
 * `?legal-hold` to PutObject and overwrites the object with the XML (measured, fauxqs 2.4.1).
 */

/** The classes an account may choose, in days. */
export const RECORDING_RETENTION_DAYS = [30, 90, 180, 365, 730, 1095, 2555] as const;
export type RecordingRetentionDays = (typeof RECORDING_RETENTION_DAYS)[number];

/** An account that never chose: one year. */
export const DEFAULT_RECORDING_RETENTION_DAYS: RecordingRetentionDays = 365;

export const RETENTION_CLASS_TAG = 'retention-class';
export const EXPIRY_TAG = 'expiry';
export const HOLD_VALUE = 'hold';

export type RecordingTags = Readonly<Record<string, string>>;

export function isRetentionDays(n: unknown): n is RecordingRetentionDays {
  return typeof n === 'number' && (RECORDING_RETENTION_DAYS as readonly number[]).includes(n);
}

/** The account's class: its setting when valid, else the default (an item written by hand cannot disable expiry). */
export function retentionDaysOf(account: { readonly recordingRetentionDays?: unknown } | null): RecordingRetentionDays {
  const days = account?.recordingRetentionDays;
  return isRetentionDays(days) ? days : DEFAULT_RECORDING_RETENTION_DAYS;
}

export function classValue(days: RecordingRetentionDays): string {
  return `d${days}`;
}

/** The tags of a recording of class `days`, held or not. */
export function recordingTags(days: RecordingRetentionDays, held: boolean): RecordingTags {
  return { [RETENTION_CLASS_TAG]: classValue(days), [EXPIRY_TAG]: held ? HOLD_VALUE : classValue(days) };
}

/**
 * The tags after a hold change, from the object's current tags (other tags are kept). An object without a valid
 * `retention-class` (stored before retention classes existed) gets the default class.
 */
export function withHold(current: RecordingTags, held: boolean): RecordingTags {
  const raw = current[RETENTION_CLASS_TAG];
  const days = raw !== undefined && /^d\d+$/.test(raw) && isRetentionDays(Number(raw.slice(1))) ? (Number(raw.slice(1)) as RecordingRetentionDays) : DEFAULT_RECORDING_RETENTION_DAYS;
  return { ...current, ...recordingTags(days, held) };
}

export function isHeld(tags: RecordingTags): boolean {
  return tags[EXPIRY_TAG] === HOLD_VALUE;
}

/** `x-amz-tagging` form (URL query encoding), as PutObject takes tags. */
export function taggingHeader(tags: RecordingTags): string {
  return new URLSearchParams(Object.entries(tags)).toString();
}

/** One lifecycle rule per class: expire current versions tagged `expiry=d<days>` after `days` days. */
export interface RetentionRule {
  readonly id: string;
  readonly prefix: string;
  readonly tags: RecordingTags;
  readonly expireDays: number;
}

export function recordingLifecycleRules(prefix: string): RetentionRule[] {
  return RECORDING_RETENTION_DAYS.map((days) => ({
    id: `recordings-retention-${classValue(days)}`,
    prefix,
    tags: { [EXPIRY_TAG]: classValue(days) },
    expireDays: days,
  }));
}
