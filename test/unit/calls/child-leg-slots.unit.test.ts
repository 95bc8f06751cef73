/**
 * Several dialled legs of one call that each complete (shared/domain/calls/fold.ts slotName): a leg reported busy
 * and then `completed` with 0 s (Vonage, TeXML), then the next target talking 187 s. Each completed leg keeps its own
 * slot on the caller's call item, so the talk time is the longest leg whichever arrived first, and the slot decodes
 * back to the leg's own event (so erasure finds the same slot names: privacy.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSlot, encodeSlot, eventAtRest } from '../../../shared/adapters/calls/call-item';
import type { CallStatusEvent } from '../../../shared/domain/calls/events';
import { slotName, talkSeconds } from '../../../shared/domain/calls/fold';

const parent = 'vonage:CON-11111111-2222-3333-4444-555555555555';

function leg(uuid: string, status: CallStatusEvent['status'], durationSec: number | null): CallStatusEvent {
  const callId = `vonage:${uuid}`;
  return {
    kind: 'call.status', provider: 'vonage', accountId: 'acme', callId, eventId: `${callId}:status:${status}`,
    occurredAt: '2026-12-08T10:00:00.000Z', receivedAt: '2026-12-08T10:00:01.000Z', sequenceNumber: null,
    status, direction: 'outbound-dial', from: '+15125550101', to: '+15125550131', durationSec, answeredBy: null, stirVerstat: null,
    digits: null, fromState: null, fromZip: null, fromCountry: null, parentCallId: parent,
  };
}

/** What the call item keeps of a set of events: the first per slot (the adapter's if_not_exists), decoded. */
function stored(events: readonly CallStatusEvent[]): CallStatusEvent[] {
  const slots = new Map<string, CallStatusEvent>();
  for (const e of events) if (!slots.has(slotName(e))) slots.set(slotName(e), e);
  return [...slots].map(([attr, e]) => decodeSlot(attr, unmarshalled(encodeSlot(e)), 'acme', parent) as CallStatusEvent);
}

const busyLeg = [leg('aaaaaaaa-0000-0000-0000-000000000001', 'busy', null), leg('aaaaaaaa-0000-0000-0000-000000000001', 'completed', 0)];
const talkLeg = [leg('bbbbbbbb-0000-0000-0000-000000000002', 'answered' as CallStatusEvent['status'], null), leg('bbbbbbbb-0000-0000-0000-000000000002', 'completed', 187)];

describe('the completed legs of one call', () => {
  it('each keep a slot named by the leg, and decode to the leg\'s own event', () => {
    const [a, b] = [busyLeg[1]!, talkLeg[1]!];
    expect(slotName(a)).not.toBe(slotName(b));
    expect(slotName(a)).toBe('c_completed__vonage:aaaaaaaa-0000-0000-0000-000000000001');
    const decoded = decodeSlot(slotName(b), unmarshalled(encodeSlot(b)), 'acme', parent);
    expect(decoded).toEqual(eventAtRest(b));
    expect(slotName(decoded)).toBe(slotName(b));
    // A leg's other statuses keep one slot per status: they measure nothing.
    expect(slotName(busyLeg[0]!)).toBe('c_busy');
  });

  it('talk time is the longest completed leg in any arrival order, duplicates included', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray([...busyLeg, ...talkLeg, talkLeg[1]!, busyLeg[1]!], { minLength: 6, maxLength: 6 }), (order) => {
        expect(talkSeconds(stored(order))).toBe(187);
      }),
    );
  });
});

/** A slot's Map as the document client reads it back. */
function unmarshalled(slot: ReturnType<typeof encodeSlot>): Record<string, unknown> {
  const value = (v: { S?: string; N?: string; BOOL?: boolean; NULL?: boolean; M?: Record<string, unknown> }): unknown =>
    v.S ?? (v.N !== undefined ? Number(v.N) : v.BOOL ?? (v.NULL ? null : Object.fromEntries(Object.entries(v.M ?? {}).map(([k, x]) => [k, value(x as never)]))));
  return value(slot as never) as Record<string, unknown>;
}
