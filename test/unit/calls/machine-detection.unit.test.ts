/**
 * Machine detection reported apart from the call's end (Telnyx, Vonage, Plivo): its own slot beside the answered
 * event, read back as it was written, and the answer rating reads when the terminal event says nothing.
 */
import { describe, expect, it } from 'vitest';
import { decodeSlot, encodeSlot } from '../../../shared/adapters/calls/call-item';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { detectedAnswer, foldCall, slotName } from '../../../shared/domain/calls/fold';
import { callFactsFrom } from '../../../shared/domain/rating/rules';
import { parseTelnyxEvent } from '../../../shared/domain/calls/providers/telnyx';
import type { CallEvent, CallStatusEvent } from '../../../shared/domain/calls/events';

const ctx = { accountId: 'acme', receivedAt: '2026-11-24T15:14:00.000Z' };
function telnyx(type: string, payload: Record<string, unknown>, occurredAt: string): CallEvent {
  const body = JSON.stringify({ data: { event_type: type, id: `${type}-id`, occurred_at: occurredAt, payload: { call_leg_id: 'leg-1', from: '+15125550142', to: '+15125550101', ...payload } } });
  const out = parseTelnyxEvent(body, ctx);
  if (out.kind !== 'event') throw new Error(`not an event: ${JSON.stringify(out)}`);
  return out.event;
}
const answered = telnyx('call.answered', {}, '2026-11-24T15:10:02.000Z');
const machine = telnyx('call.machine.detection.ended', { result: 'machine' }, '2026-11-24T15:10:05.000Z');
const hangup = telnyx('call.hangup', { hangup_cause: 'normal_clearing', start_time: '2026-11-24T15:10:00.000Z', end_time: '2026-11-24T15:13:20.000Z' }, '2026-11-24T15:13:20.000Z');

describe('a detection event apart from the hangup', () => {
  it('has its own slot, so it and the answered event (both in-progress) never overwrite each other', () => {
    expect([answered, machine, hangup].map(slotName)).toEqual(['s_in-progress', 's_in-progress_amd', 's_completed']);
  });

  it('is read back from its slot as it was written (the caller aside: never stored in a slot)', () => {
    const stored = unmarshall(encodeSlot(machine).M!);
    expect(decodeSlot(slotName(machine), stored, 'acme', machine.callId)).toEqual({ ...machine, from: '' });
    const plain = unmarshall(encodeSlot(answered).M!);
    expect(decodeSlot(slotName(answered), plain, 'acme', answered.callId)).toEqual({ ...answered, from: '' });
  });

  it('gives the call its answer when the terminal event has none; the terminal event says first when it does', () => {
    const events = [hangup, answered, machine];
    expect(detectedAnswer(events)).toBe('machine_start');
    expect(detectedAnswer([hangup, answered])).toBeNull();
    const terminal = foldCall(events).terminal as CallStatusEvent;
    expect(terminal.answeredBy).toBeNull();
    expect(callFactsFrom(terminal, { answeredBy: detectedAnswer(events) }).answeredBy).toBe('machine_start');
    expect(callFactsFrom({ ...terminal, answeredBy: 'human' }, { answeredBy: 'machine_start' }).answeredBy).toBe('human');
    // The fold's status is unchanged by the detection: still decided by the terminal event.
    expect(foldCall(events).status).toBe('completed');
  });
});
