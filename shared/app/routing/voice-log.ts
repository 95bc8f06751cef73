/**
 * What the voice functions write to their logs that operations watches: the fail-safe's line is counted by a
 * CloudWatch Logs metric filter (infra/constructs/voice-alarms.ts), so the alarm costs the voice bundle no metrics
 * library and the answer path no extra write. Changing the text breaks the alarm: it is spelled here, once.
 */
export const FAIL_SAFE_LOG_MESSAGE = 'voice decision failed: answered by the fail-safe';
