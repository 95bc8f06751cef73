/**
 * A dispute refusal as the error a client is answered with: each refusal has its own stable code, so a client can
 * tell a closed window (`outside_window`) from a credit above the charge (`credit_out_of_range`) without reading
 * the detail. The kinds keep the statuses these refusals have always had: a second, different dispute of the same
 * charge and a resolve of a closed dispute are conflicts (409), the others refusals of the request (422).
 */
import type { DisputeRefusal } from '../../domain/disputes/disputes';
import { DomainError } from '../../domain/kernel/errors';

export function refusalError(refusal: DisputeRefusal): DomainError {
  switch (refusal.kind) {
    case 'charge_reversed':
      return new DomainError(
        'conflict',
        'charge-reversed',
        'Charge reversed',
        `The charge of call ${refusal.callId} was reversed (${refusal.reversalEntryId})` +
          (refusal.priorCallId === null ? '' : `: the earlier call ${refusal.priorCallId} of the same caller bills for the duplicate window instead`) +
          '. Nothing remains to credit; an open dispute of it can only be rejected.',
      );
    case 'not_billed':
      return new DomainError('refused', 'not_billed', 'Not billed', `Call ${refusal.callId} has no charge to dispute.`);
    case 'already_disputed':
      return new DomainError(
        'conflict',
        'already_disputed',
        'Already disputed',
        `Call ${refusal.existing.callId} is already disputed (${refusal.existing.disputeId}, ${refusal.existing.status}).`,
      );
    case 'reason_not_allowed':
      return new DomainError(
        'refused',
        'reason_not_allowed',
        'Reason not allowed',
        `The publisher's credit policy does not allow '${refusal.reason}'; allowed: ${refusal.allowed.join(', ')}.`,
        [{ field: 'reason', message: `must be one of ${refusal.allowed.join(', ')}` }],
      );
    case 'outside_window':
      return new DomainError('refused', 'outside_window', 'Outside the dispute window', `The dispute window (${refusal.disputeWindowDays} days) closed at ${refusal.deadline}.`);
    case 'already_resolved':
      return new DomainError('conflict', 'already_resolved', 'Already resolved', `Dispute ${refusal.existing.disputeId} is already ${refusal.existing.status}.`);
    case 'credit_out_of_range':
      return new DomainError(
        'refused',
        'credit_out_of_range',
        'Credit out of range',
        `A credit of ${refusal.creditCents} cents is not between 1 cent and the charge of ${refusal.chargeCents} cents.`,
        [{ field: 'creditCents', message: `must be between 1 and ${refusal.chargeCents}` }],
      );
    default: {
      const exhaustive: never = refusal;
      return exhaustive;
    }
  }
}
