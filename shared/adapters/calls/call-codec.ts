/**
 * A call item as the use cases read it (StoredCall): its event slots, its rating and what later writes added
 * (recording, outcome, QA, credits, reversals, caller traits, legal hold, erasure). How each part is stored
 * compactly, and the legacy shapes still read: call-item.ts.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { decodeCrossCallFlags } from '../../domain/quality/cross-call-flags';
import type { CallEvent } from '../../domain/calls/events';
import type { CallNetworkAttribution } from '../../domain/networks/attribution';
import type { RecordedRating } from '../../domain/rating/decision';
import type { StoredCall } from '../../app/kernel/ports';
import { decodeCallerTraits, decodeOutcome, decodeQa, decodeRating, decodeRecording, decodeSlot, isSlotAttribute } from './call-item';

export function parseCall(item: Record<string, AttributeValue>): StoredCall {
  const raw = unmarshall(item) as Record<string, unknown>;
  const callId = (raw.pk as string).slice('CALL#'.length);
  const accountId = raw.accountId as string;
  const events: CallEvent[] = [];
  for (const [attr, value] of Object.entries(raw)) {
    if (isSlotAttribute(attr) && typeof value === 'object' && value !== null) {
      events.push(decodeSlot(attr, value as Record<string, unknown>, accountId, callId));
    }
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const startedAt = str(raw.startedAt);
  const rating: RecordedRating | null =
    typeof raw.rating === 'object' && raw.rating !== null
      ? decodeRating(raw.rating as Record<string, unknown>, {
          billable: raw.billable === true,
          amountCents: Number(raw.amountCents),
          campaignId: str(raw.campaignId),
          publisherId: str(raw.publisherId),
          subSource: str(raw.subSource),
        })
      : null;
  return {
    callId,
    accountId,
    events,
    rating,
    ratedAt: str(raw.ratedAt),
    startedAt,
    endedAt: str(raw.endedAt),
    durationSec: typeof raw.durationSec === 'number' ? raw.durationSec : null,
    recording: typeof raw.recording === 'object' && raw.recording !== null ? decodeRecording(raw.recording as Record<string, unknown>) : null,
    outcome: typeof raw.outcome === 'object' && raw.outcome !== null ? decodeOutcome(raw.outcome as Record<string, unknown>) : null,
    qa: typeof raw.qa === 'object' && raw.qa !== null ? decodeQa(raw.qa as Record<string, unknown>) : null,
    credits: typeof raw.creditCents === 'number' ? { cents: raw.creditCents, count: typeof raw.creditCount === 'number' ? raw.creditCount : 1 } : null,
    // Reversals of its charges (the duplicate window moved them to an earlier call), added by the rating transaction.
    ...(typeof raw.revCount === 'number'
      ? { reversals: { chargeCents: Number(raw.revChargeCents ?? 0), cents: Number(raw.revCents ?? 0), count: raw.revCount } }
      : {}),
    ...(typeof raw.callerEnc === 'string' ? { callerEnc: raw.callerEnc } : {}),
    ...(typeof raw.callerHash === 'string' ? { callerHash: raw.callerHash } : {}),
    // What the scheduled quality pass flagged (attribute `xq`, shared/app/quality/quality-pass.ts); flags only.
    ...(raw.xq !== undefined ? { crossCall: decodeCrossCallFlags(raw.xq) } : {}),
    // Legacy items kept the caller's number in clear (`callerE164`): still read, and masked for analysts.
    ...(typeof raw.callerE164 === 'string' ? { callerE164: raw.callerE164 } : {}),
    // What the rating recorded of the caller instead of the number (slots carry no `from`).
    ...callerTraitsOf(raw.ct),
    // Written by shared/adapters/privacy/privacy-repo.ts: the legal hold of an open dispute, the erasure of a deletion request.
    ...holdAndErasure(raw),
    // Written by the networks' matching pass (shared/adapters/networks/network-repo.ts): the network side of the call.
    ...(typeof raw.net === 'object' && raw.net !== null ? { network: raw.net as CallNetworkAttribution } : {}),
  };
}

function callerTraitsOf(value: unknown): Pick<StoredCall, 'callerTraits'> {
  const traits = decodeCallerTraits(value);
  return traits === null ? {} : { callerTraits: traits };
}

/** The `hold` and `erasure` Maps of a call item (privacy-repo.ts writes them), as StoredCall fields. */
function holdAndErasure(raw: Record<string, unknown>): Pick<StoredCall, 'legalHold' | 'erasure'> {
  const map = (v: unknown) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null);
  const iso = (v: unknown) => (typeof v === 'number' ? new Date(v).toISOString() : String(v));
  const hold = map(raw.hold);
  const erasure = map(raw.erasure);
  return {
    ...(hold !== null ? { legalHold: { disputeId: String(hold.d), at: iso(hold.a) } } : {}),
    ...(erasure !== null ? { erasure: { deletionId: String(erasure.d), at: iso(erasure.a), recordingPending: erasure.p === true } } : {}),
  };
}
