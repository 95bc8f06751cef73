/**
 * The main table's key strings (docs/CONTRACTS.md, "Main table items"): one builder per item kind and index, so a
 * key is spelled in one place. Stored keys never change: items already written are found by these same strings.
 */
export type Key = { pk: string; sk: string };

export const mainKeys = {
  account: (accountId: string): Key => ({ pk: `ACCT#${accountId}`, sk: 'ACCOUNT' }),
  publisher: (accountId: string, publisherId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `PUB#${publisherId}` }),
  campaign: (accountId: string, campaignId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `CAMP#${campaignId}` }),
  trackingNumber: (e164: string): Key => ({ pk: `NUM#${e164}`, sk: 'NUM' }),
  /** A destination of the account (shared/domain/routing/targets.ts); listed by `begins_with(sk, TARGET#)`. */
  target: (accountId: string, targetId: string): Key => ({ pk: `ACCT#${accountId}`, sk: `TARGET#${targetId}` }),
  apiKey: (keySha256: string): Key => ({ pk: `APIKEY#${keySha256}`, sk: 'APIKEY' }),
  call: (callId: string): Key => ({ pk: `CALL#${callId}`, sk: 'CALL' }),
  /** Campaign ids are unique per account only, so the account is part of the marker's key. */
  duplicate: (accountId: string, campaignId: string, callerHash: string): Key => ({ pk: `DUP#${accountId}#${campaignId}#${callerHash}`, sk: 'DUP' }),
  /** A pilot's spend counter (shared/domain/pilots/caps.ts): what the rating transaction conditions the cap on. */
  pilotCounter: (accountId: string, pilotId: string): Key => ({ pk: `PILOT#${accountId}#${pilotId}`, sk: 'COUNTER' }),
  /** A pilot's spend on one day of its zone (`YYYY-MM-DD`), for the daily cap; a new day is a new item. */
  pilotDay: (accountId: string, pilotId: string, date: string): Key => ({ pk: `PILOT#${accountId}#${pilotId}`, sk: `DAY#${date}` }),
  /** Events of `accountId` refused because the call belongs to another account (one item per claimed call). */
  callConflict: (accountId: string, callId: string): Key => ({ pk: `CONFLICT#${accountId}`, sk: `CALL#${callId}` }),
};

/** Calls of an account by start time (gsi1). */
export const callIndex = {
  pk: (accountId: string) => `ACCT#${accountId}`,
  sk: (startedAt: string, callId: string) => `${startedAt}#${callId}`,
};

/**
 * Connected calls of a caller (gsi2, KEYS_ONLY) and calls of a campaign (gsi3, ALL). Both sort on the gsi1sk
 * attribute (`callIndex.sk`; infra/resources.ts says why), so only the partition attribute is written for them.
 */
export const callerIndex = {
  name: 'gsi2',
  pk: (accountId: string, callerHash: string) => `CALLER#${accountId}#${callerHash}`,
};
export const campaignIndex = {
  name: 'gsi3',
  pk: (accountId: string, campaignId: string) => `CAMP#${accountId}#${campaignId}`,
};
