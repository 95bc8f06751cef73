/**
 * The pure parts of recordings retention and deletion requests: retention classes and their tags, the
 * hold tag, the lifecycle rules per class, deletion ids, the request schemas, and the local S3 tagging parser.
 */
import { describe, expect, it } from 'vitest';
import { parseTagging } from '../../../infra/local/s3-tagging';
import { BUCKETS } from '../../../infra/resources';
import { deletionIdOf } from '../../../shared/app/privacy/privacy';
import { DeletionRequestBodySchema } from '../../../shared/domain/privacy/privacy-schema';
import {
  DEFAULT_RECORDING_RETENTION_DAYS,
  RECORDING_RETENTION_DAYS,
  isHeld,
  recordingLifecycleRules,
  recordingTags,
  retentionDaysOf,
  taggingHeader,
  withHold,
} from '../../../shared/domain/recordings/retention';
import { AccountComplianceBodySchema } from '../../../shared/domain/recordings/retention-schema';

describe('retention classes', () => {
  it('uses the account setting when it is an allowed class, else the default (365 days)', () => {
    expect(DEFAULT_RECORDING_RETENTION_DAYS).toBe(365);
    expect(retentionDaysOf({ recordingRetentionDays: 90 })).toBe(90);
    expect(retentionDaysOf({})).toBe(365);
    expect(retentionDaysOf(null)).toBe(365);
    // A hand-written item cannot switch expiry off or pick a class without a lifecycle rule.
    for (const bad of [0, -1, 91, '90', null, 1e9]) expect(retentionDaysOf({ recordingRetentionDays: bad })).toBe(365);
  });

  it('tags a recording with its class, and the hold replaces only the expiry tag', () => {
    expect(recordingTags(90, false)).toEqual({ 'retention-class': 'd90', expiry: 'd90' });
    expect(recordingTags(90, true)).toEqual({ 'retention-class': 'd90', expiry: 'hold' });
    const held = withHold({ 'retention-class': 'd730', expiry: 'd730', other: 'x' }, true);
    expect(held).toEqual({ 'retention-class': 'd730', expiry: 'hold', other: 'x' });
    expect(isHeld(held)).toBe(true);
    expect(withHold(held, false)).toEqual({ 'retention-class': 'd730', expiry: 'd730', other: 'x' });
    // An object stored before retention tags (no tags) or with a class that has no rule gets the default class.
    expect(withHold({}, false)).toEqual({ 'retention-class': 'd365', expiry: 'd365' });
    expect(withHold({ 'retention-class': 'd91' }, true)).toEqual({ 'retention-class': 'd365', expiry: 'hold' });
    expect(taggingHeader(recordingTags(30, false))).toBe('retention-class=d30&expiry=d30');
  });

  it('has exactly one lifecycle rule per class, selecting by the expiry tag, none for held recordings', () => {
    const rules = recordingLifecycleRules('recordings/');
    expect(rules.map((r) => [r.tags, r.expireDays])).toEqual(RECORDING_RETENTION_DAYS.map((d) => [{ expiry: `d${d}` }, d]));
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
    expect(rules.some((r) => Object.values(r.tags).includes('hold'))).toBe(false);
    expect(BUCKETS.recordings.lifecycle).toEqual(rules);
  });
});

describe('request bodies', () => {
  it('accepts the compliance flags with an optional allowed retention class', () => {
    const flags = { consentMissingNonBillable: true, dncNonBillable: false };
    expect(AccountComplianceBodySchema.parse(flags)).toEqual(flags);
    expect(AccountComplianceBodySchema.parse({ ...flags, recordingRetentionDays: 2555 })).toEqual({ ...flags, recordingRetentionDays: 2555 });
    expect(AccountComplianceBodySchema.safeParse({ ...flags, recordingRetentionDays: 100 }).success).toBe(false);
    expect(AccountComplianceBodySchema.safeParse({ ...flags, recordingRetentionDays: '90' }).success).toBe(false);
    expect(AccountComplianceBodySchema.safeParse({ ...flags, other: 1 }).success).toBe(false);
  });

  it('takes one caller number in a deletion request, nothing else', () => {
    expect(DeletionRequestBodySchema.parse({ callerNumber: ' +1 512 555 0101 ' })).toEqual({ callerNumber: '+1 512 555 0101' });
    expect(DeletionRequestBodySchema.safeParse({}).success).toBe(false);
    expect(DeletionRequestBodySchema.safeParse({ callerNumber: '+15125550101', name: 'x' }).success).toBe(false);
  });

  it('derives a deletion id per account and Idempotency-Key', () => {
    const id = deletionIdOf('acct-a', 'key-1');
    expect(id).toMatch(/^del_[0-9a-f]{24}$/);
    expect(deletionIdOf('acct-a', 'key-1')).toBe(id);
    expect(deletionIdOf('acct-b', 'key-1')).not.toBe(id);
    expect(deletionIdOf('acct-a', 'key-2')).not.toBe(id);
  });
});

describe('local S3 tagging (fauxqs has none)', () => {
  it('parses a Tagging document, entities included', () => {
    const xml =
      '<?xml version="1.0"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>' +
      '<Tag><Key>expiry</Key><Value>hold</Value></Tag><Tag><Key>a&amp;b</Key><Value>&lt;x&gt;</Value></Tag></TagSet></Tagging>';
    expect([...parseTagging(xml)]).toEqual([
      ['expiry', 'hold'],
      ['a&b', '<x>'],
    ]);
    expect(parseTagging('<Tagging><TagSet/></Tagging>').size).toBe(0);
  });
});
