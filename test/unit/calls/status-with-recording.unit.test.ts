/**
 * A status callback may name the call's recording: Twilio adds RecordingSid, RecordingUrl and RecordingDuration to a
 * call's (or a dialled leg's) `completed` status callback when its <Dial> recorded. It is still the call's status (a
 * recording status callback carries RecordingStatus), so the leg's end is booked and its lease released.
 */
import { describe, expect, it } from 'vitest';
import { parseForm, parseTwilioEvent } from '../../../shared/domain/calls/providers/twilio';

const AC = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const ctx = { accountId: 'acme-roofing', receivedAt: '2026-11-24T10:00:00.000Z' };

describe('a status callback that names the recording', () => {
  it("is the dialled leg's completed status, on its parent call", () => {
    const body = new URLSearchParams({
      AccountSid: AC,
      CallSid: 'CA434836f001a94daa500951e18fb48e19',
      ParentCallSid: 'CA991c983182bfd6687fa0404784136c8d',
      CallStatus: 'completed',
      Direction: 'outbound-dial',
      From: '+12064226665',
      To: '+15125550131',
      CallDuration: '123',
      Duration: '3',
      RecordingUrl: 'https://api.twilio.com/2010-04-01/Accounts/AC0f1e2d3c4b5a69788796a5b4c3d2e1f0/Recordings/RE0123456789abcdef0123456789abcdef',
      RecordingSid: 'RE0123456789abcdef0123456789abcdef',
      RecordingDuration: '120',
      SequenceNumber: '3',
    }).toString();
    expect(parseTwilioEvent(parseForm(body), ctx)).toMatchObject({
      kind: 'call.status',
      status: 'completed',
      durationSec: 123,
      parentCallId: 'twilio:CA991c983182bfd6687fa0404784136c8d',
    });
  });
});
