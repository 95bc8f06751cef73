import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../../../shared/domain/ledger/entries';
import {
  entryHash,
  GENESIS,
  merkleRoot,
  nextSealWindow,
  sealInterval,
  verify,
  withContentHash,
  type Seal,
  type StoredEntry,
} from '../../../shared/domain/ledger/tamper';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const T0 = Date.parse('2026-11-24T00:00:00.000Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const opts = { intervalMs: HOUR, graceMs: 15 * MIN, genesisMs: T0 };

function entry(n: number, createdAtMs: number, over: Partial<LedgerEntry> = {}): StoredEntry {
  return withContentHash({
    entryId: `charge:twilio:CA${n}`,
    type: 'charge',
    amountCents: 4500,
    currency: 'USD',
    callId: `twilio:CA${n}`,
    accountId: 'acme',
    publisherId: 'pub-a',
    subSource: null,
    campaignId: 'roofing-tx',
    termsVersion: 1,
    effectiveAt: new Date(createdAtMs - 5 * MIN).toISOString(),
    createdAt: new Date(createdAtMs).toISOString(),
    ...over,
  } as LedgerEntry);
}

/** What the scheduled sealer does: close every interval that is ready at `nowMs`. */
function sealAll(entries: readonly StoredEntry[], nowMs: number, seals: Seal[] = []): Seal[] {
  const out = [...seals];
  for (;;) {
    const prev = out.at(-1) ?? null;
    const w = nextSealWindow(prev, nowMs, opts);
    if (w === null) return out;
    out.push(sealInterval({ accountId: 'acme', prev, fromMs: w.fromMs, toMs: w.toMs, entries, sealedAtMs: nowMs }));
  }
}

describe('building blocks', () => {
  it('merkleRoot: domain-separated leaves and nodes, odd node promoted, order matters', () => {
    const [a, b, c] = ['a', 'b', 'c'].map(sha) as [string, string, string];
    const la = sha(`leaf:${a}`);
    const lb = sha(`leaf:${b}`);
    const lc = sha(`leaf:${c}`);
    expect(merkleRoot([])).toBe(sha('empty'));
    expect(merkleRoot([a])).toBe(la);
    expect(merkleRoot([a, b])).toBe(sha(`node:${la}${lb}`));
    expect(merkleRoot([a, b, c])).toBe(sha(`node:${sha(`node:${la}${lb}`)}${lc}`));
    expect(merkleRoot([b, a])).not.toBe(merkleRoot([a, b]));
  });

  it('the content hash covers every stored field', () => {
    const e = entry(1, T0 + MIN);
    expect(e.contentHash).toBe(entryHash(e));
    for (const [k, v] of Object.entries({ accountId: 'x', createdAt: 'x', subSource: 'x', termsVersion: 9, currency: 'EUR', amountCents: 1 })) {
      expect(entryHash({ ...e, [k]: v } as LedgerEntry)).not.toBe(e.contentHash);
    }
  });

  it('nextSealWindow closes aligned intervals only after the grace period', () => {
    expect(nextSealWindow(null, T0 + HOUR + 15 * MIN - 1, opts)).toBeNull();
    expect(nextSealWindow(null, T0 + HOUR + 15 * MIN, opts)).toEqual({ fromMs: T0, toMs: T0 + HOUR });
    const s1 = sealInterval({ accountId: 'acme', prev: null, fromMs: T0, toMs: T0 + HOUR, entries: [], sealedAtMs: T0 + 2 * HOUR });
    expect(s1).toMatchObject({ seq: 1, entryCount: 0, prevSealHash: GENESIS, coversFrom: '2026-11-24T00:00:00.000Z' });
    expect(nextSealWindow(s1, T0 + 3 * HOUR, opts)).toEqual({ fromMs: T0 + HOUR, toMs: T0 + 2 * HOUR });
    expect(() => sealInterval({ accountId: 'acme', prev: s1, fromMs: T0 + 2 * HOUR, toMs: T0 + 3 * HOUR, entries: [], sealedAtMs: 0 })).toThrow(/start where/);
  });
});

describe('verify', () => {
  const entries = [entry(1, T0 + 5 * MIN), entry(2, T0 + 50 * MIN), entry(3, T0 + 70 * MIN), entry(4, T0 + 130 * MIN), entry(5, T0 + 200 * MIN)];
  const now = T0 + 3 * HOUR + 20 * MIN; // seals [0,1h), [1h,2h), [2h,3h); entry 5 (3h20m) is unsealed
  const seals = sealAll(entries, now);

  it('passes an untouched ledger and counts the unsealed tail', () => {
    expect(seals.map((s) => s.entryCount)).toEqual([2, 1, 1]);
    expect(verify(entries, seals)).toEqual({ ok: true, checkedEntries: 5, checkedSeals: 3, unsealedEntries: 1 });
    expect(verify(entries, seals, { seq: 3, sealHash: seals[2]!.sealHash }).ok).toBe(true);
  });

  it('an edit that keeps the old hash is pinned to the entry', () => {
    const edited = entries.map((e) => (e.entryId === 'charge:twilio:CA3' ? { ...e, amountCents: 450 } : e));
    expect(verify(edited, seals)).toMatchObject({
      ok: false,
      broken: { kind: 'entry_hash', entryId: 'charge:twilio:CA3', expected: entryHash(edited[2]!), actual: entries[2]!.contentHash },
      checkedSeals: 1,
    });
  });

  it('a consistent edit (hash recomputed), an insertion or a deletion breaks its seal', () => {
    const rehashed = entries.map((e) => (e.entryId === 'charge:twilio:CA2' ? withContentHash({ ...e, amountCents: 1 }) : e));
    expect(verify(rehashed, seals)).toMatchObject({ ok: false, broken: { kind: 'seal_contents', seq: 1, expected: { entryCount: 2 }, actual: { entryCount: 2 } } });
    expect(verify([...entries, entry(9, T0 + 80 * MIN)], seals)).toMatchObject({
      ok: false,
      broken: { kind: 'seal_contents', seq: 2, expected: { entryCount: 1 }, actual: { entryCount: 2 } },
    });
    expect(verify(entries.filter((e) => e.entryId !== 'charge:twilio:CA4'), seals)).toMatchObject({
      ok: false,
      broken: { kind: 'seal_contents', seq: 3, expected: { entryCount: 1 }, actual: { entryCount: 0 } },
    });
  });

  it('a backdated insertion before the first seal is reported', () => {
    expect(verify([entry(0, T0 - 1), ...entries], seals)).toMatchObject({ ok: false, broken: { kind: 'before_genesis', entryId: 'charge:twilio:CA0' } });
  });

  it('tampering with seals breaks the seal hash, the chain, or the sequence', () => {
    const forged = seals.map((s) => (s.seq === 2 ? { ...s, entryCount: 5 } : s));
    expect(verify(entries, forged)).toMatchObject({ ok: false, broken: { kind: 'seal_hash', seq: 2 } });
    // Rewriting seal 1 consistently (over edited entries) breaks the link from seal 2.
    const edited = entries.map((e) => (e.entryId === 'charge:twilio:CA1' ? withContentHash({ ...e, amountCents: 1 }) : e));
    const resealed = [sealInterval({ accountId: 'acme', prev: null, fromMs: T0, toMs: T0 + HOUR, entries: edited, sealedAtMs: now }), ...seals.slice(1)];
    expect(verify(edited, resealed)).toMatchObject({ ok: false, broken: { kind: 'seal_chain', seq: 2, expected: resealed[0]!.sealHash, actual: seals[0]!.sealHash } });
    expect(verify(entries, [seals[0]!, seals[2]!])).toMatchObject({ ok: false, broken: { kind: 'seal_sequence', seq: 3 } });
  });

  it('truncating the newest seal is caught against an external anchor', () => {
    const anchor = { seq: 3, sealHash: seals[2]!.sealHash };
    expect(verify(entries, seals.slice(0, 2))).toMatchObject({ ok: true });
    expect(verify(entries, seals.slice(0, 2), anchor)).toMatchObject({ ok: false, broken: { kind: 'anchor', seq: 3, actual: null } });
  });

  it('property: any single edit, insertion or deletion of a sealed entry is detected', () => {
    const arbLedger = fc.uniqueArray(fc.record({ n: fc.nat(1000), minute: fc.integer({ min: 0, max: 6 * 60 - 1 }) }), { selector: (x) => x.n, minLength: 1, maxLength: 25 });
    const fields = ['entryId', 'type', 'amountCents', 'currency', 'callId', 'accountId', 'publisherId', 'subSource', 'campaignId', 'termsVersion', 'effectiveAt', 'createdAt'] as const;
    const arbChange = fc.oneof(
      fc.record({ kind: fc.constant('edit' as const), pick: fc.nat(), field: fc.constantFrom(...fields), rehash: fc.boolean(), shiftMin: fc.integer({ min: -300, max: 300 }).filter((m) => m !== 0) }),
      fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), minute: fc.integer({ min: 0, max: 6 * 60 - 1 }) }),
    );
    fc.assert(
      fc.property(arbLedger, arbChange, (spec, change) => {
        const ledger = spec.map((x) => entry(x.n, T0 + x.minute * MIN));
        const nowMs = T0 + 7 * HOUR; // everything in [T0, T0 + 6h) is sealed
        const sealed = sealAll(ledger, nowMs);
        expect(verify(ledger, sealed).ok).toBe(true);
        let tampered: StoredEntry[];
        switch (change.kind) {
          case 'edit': {
            const i = change.pick % ledger.length;
            const e = ledger[i]!;
            const value = (() => {
              switch (change.field) {
                case 'amountCents':
                case 'termsVersion':
                  return e[change.field] + change.shiftMin;
                case 'type':
                  return 'credit';
                case 'effectiveAt':
                case 'createdAt':
                  return new Date(Date.parse(e[change.field]) + change.shiftMin * MIN).toISOString();
                default:
                  return `${e[change.field] ?? ''}x`;
              }
            })();
            const edited = { ...e, [change.field]: value } as StoredEntry;
            tampered = ledger.map((x, j) => (j === i ? (change.rehash ? withContentHash(edited) : edited) : x));
            break;
          }
          case 'delete':
            tampered = ledger.filter((_, j) => j !== change.pick % ledger.length);
            break;
          case 'insert':
            tampered = [...ledger, entry(5000, T0 + change.minute * MIN)];
            break;
        }
        expect(verify(tampered, sealed).ok).toBe(false);
      }),
    );
  });
});
