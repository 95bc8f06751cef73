/**
 * One credit per charge as the resolution's condition: decided as data by the domain
 * (shared/domain/disputes/credit-condition.ts), spelled by the adapter (shared/adapters/disputes/credit-condition.ts).
 * The int tests prove the database holds it under concurrent resolutions (test/int/disputes/disputes.int.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { creditEntry, openDispute, resolveDispute, type Dispute, type DisputeResult } from '../../../shared/domain/disputes/disputes';
import { creditCondition } from '../../../shared/domain/disputes/credit-condition';
import { entryHash, type StoredEntry } from '../../../shared/domain/ledger/tamper';
import type { ChargeEntry } from '../../../shared/domain/ledger/entries';
import { resolutionItems } from '../../../shared/adapters/disputes/credit-condition';

const charge: ChargeEntry = {
  entryId: 'charge:twilio:CA1',
  type: 'charge',
  amountCents: 4500,
  currency: 'USD',
  callId: 'twilio:CA1',
  accountId: 'acme',
  publisherId: 'pub-a',
  subSource: null,
  campaignId: 'roofing-tx',
  termsVersion: 2,
  effectiveAt: '2026-11-10T15:00:00.000Z',
  createdAt: '2026-11-10T15:05:00.000Z',
};
const T = Date.parse(charge.effectiveAt);
const ok = (r: DisputeResult): Dispute => {
  if (!r.ok) throw new Error(`refused: ${r.refusal.kind}`);
  return r.dispute;
};
const opened = ok(openDispute(charge, { disputeWindowDays: 30, allowedReasons: ['robocall'] }, { callId: charge.callId, reason: 'robocall', note: '', actor: 'k' }, T + 1000, null));
const accepted = ok(resolveDispute(opened, { outcome: 'accepted', note: '', creditCents: 1000 }, 'k', T + 2000));
const rejected = ok(resolveDispute(opened, { outcome: 'rejected', note: '' }, 'k', T + 2000));
const credit = creditEntry(charge, accepted, new Date(T + 2000).toISOString());
const stored: StoredEntry = { ...credit, contentHash: entryHash(credit) };
const disputeItem = { pk: { S: 'ACCT#acme' }, sk: { S: 'DISPUTE#x' } };

describe('creditCondition', () => {
  it('an accepted dispute: still open, its one credit, the call still billing the charge as read', () => {
    expect(creditCondition(accepted, credit, { reversals: 0 })).toEqual({
      disputeId: 'dispute:twilio:CA1',
      disputeStatus: 'open',
      credit,
      call: { callId: 'twilio:CA1', billable: true, reversals: 0 },
    });
  });

  it('a rejected dispute: only still open', () => {
    expect(creditCondition(rejected, null, { reversals: 2 })).toMatchObject({ disputeStatus: 'open', credit: null, call: null });
  });
});

describe('resolution items', () => {
  it('the dispute while open, the credit on a free key, the call billable and reversed as often as read', () => {
    const items = resolutionItems({ main: 'main', ledger: 'ledger' }, disputeItem, creditCondition(accepted, stored, { reversals: 1 }));
    expect(items.map((i) => i.Put?.ConditionExpression ?? i.Update?.ConditionExpression)).toEqual([
      '#status = :open',
      'attribute_not_exists(pk)',
      'attribute_exists(pk) AND #billable = :true AND #revs = :revs',
    ]);
    expect(items[1]!.Put?.TableName).toBe('ledger');
    expect(items[2]!.Update).toMatchObject({ Key: { pk: { S: 'CALL#twilio:CA1' } }, ExpressionAttributeValues: { ':cents': { N: '-1000' }, ':revs': { N: '1' } } });
  });

  it('no reversal read: the call must have none', () => {
    const items = resolutionItems({ main: 'main', ledger: 'ledger' }, disputeItem, creditCondition(accepted, stored, { reversals: 0 }));
    expect(items[2]!.Update?.ConditionExpression).toBe('attribute_exists(pk) AND #billable = :true AND attribute_not_exists(#revs)');
  });

  it('a rejection writes the dispute alone', () => {
    expect(resolutionItems({ main: 'main', ledger: 'ledger' }, disputeItem, creditCondition<StoredEntry>(rejected, null, { reversals: 0 }))).toHaveLength(1);
  });
});
