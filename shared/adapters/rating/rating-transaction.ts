/**
 * The rating transaction's items (docs/CONTRACTS.md, "Rating a call"), built from what the use case decided: the
 * arriving call's parts, then the duplicate marker's next state (conditional on the version the plan was made from:
 * duplicate-marker.ts), then each re-rated call of the window with its entry, then the pilots' counters with the
 * plan's movements summed per item (the caps as the domain computes them, shared/domain/pilots/caps.ts, spelled by
 * ../pilots/counter-condition.ts). Also how a cancelled transaction's reasons read back as the writer's next step.
 */
import type { AttributeValue, CancellationReason } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { ledgerSortKey } from '../../domain/ledger/entries';
import type { LedgerEntry } from '../../domain/ledger/entries';
import { withContentHash } from '../../domain/ledger/tamper';
import { counterCondition, moveRefusal, netPilotMovements, type CounterMove, type PilotMovement } from '../../domain/pilots/caps';
import { CallAccountMismatch, type CommitOutcome, type WindowRerate, type WindowWrite } from '../../app/rating/ports';
import { estimateWcu, gsiWcu } from '../platform/dynamodb/capacity';
import type { TransactItem } from '../platform/dynamodb/ddb-ops';
import { LEDGER_BY_CREATED_AT } from '../ledger/ledger-repo';
import type { CallImages } from '../calls/call-images';
import { mainKeys } from '../calls/keys';
import { counterUpdates } from '../pilots/counter-condition';
import { markerCondition } from '../../domain/rating/duplicate-window';
import { decodeWindow, encodeWindow, windowCondition } from './duplicate-marker';

const S = (s: string): AttributeValue => ({ S: s });
const N = (n: number): AttributeValue => ({ N: String(n) });

/** One item of the rating transaction, what it is (to read its cancellation reason) and its AWS-model price. */
export interface TxPart {
  readonly tag:
    | { readonly kind: 'call'; readonly callId: string }
    | { readonly kind: 'entry'; readonly entryId: string; readonly rerateOf: string | null }
    | { readonly kind: 'marker' }
    | { readonly kind: 'rerate'; readonly callId: string }
    | { readonly kind: 'pilot'; readonly move: CounterMove; readonly which: string | null };
  readonly item: TransactItem;
  readonly wcu: () => number;
}

/** What a rating transaction writes besides the arriving call's own parts. */
export interface RatingPlan {
  readonly table: string;
  readonly ledgerTable: string | undefined;
  readonly images: CallImages;
  readonly accountId: string;
  readonly window: WindowWrite | null;
  readonly rerates: readonly WindowRerate[];
  readonly movements: readonly PilotMovement[];
}

/**
 * Every item of the transaction, in the order the cancellation reader judges them; or the pilot refusal the domain
 * pronounced before any write (counterCondition).
 */
export function ratingParts(arriving: readonly TxPart[], plan: RatingPlan): TxPart[] | Extract<CommitOutcome, { outcome: 'over_cap' }> {
  const moves = netPilotMovements([...plan.movements, ...plan.rerates.flatMap((r) => (r.pilot === null ? [] : [r.pilot]))]);
  const parts: TxPart[] = [...arriving];
  if (plan.window !== null) parts.push(markerPart(plan.table, plan.accountId, plan.window));
  for (const r of plan.rerates) {
    parts.push(reratePart(plan.table, plan.images, plan.accountId, r));
    if (r.entry !== null) parts.push(entryPart(plan.ledgerTable, r.entry, r.callId));
  }
  for (const m of moves) {
    const condition = counterCondition(m);
    if (typeof condition === 'string') return { outcome: 'over_cap', pilotId: m.pilotId, refusal: condition };
    const updates = counterUpdates(plan.table, condition);
    parts.push({ tag: { kind: 'pilot', move: m, which: null }, item: updates.total, wcu: () => 2 });
    m.days.forEach((d, i) => parts.push({ tag: { kind: 'pilot', move: m, which: d.date }, item: updates.days[i]!, wcu: () => 2 }));
  }
  if (parts.length > 100) throw new Error(`rating transaction of ${parts.length} items (> 100) for ${plan.accountId}`);
  return parts;
}

/** The duplicate marker's next state, conditional on the marker still being the one the plan was made from. */
function markerPart(table: string, accountId: string, window: WindowWrite): TxPart {
  const markerItem = marshall({ ...mainKeys.duplicate(accountId, window.key.scope, window.key.callerHash), ...unmarshall(encodeWindow(window.next)) });
  const cond = windowCondition(markerCondition(window.expect, window.next).expect);
  return {
    tag: { kind: 'marker' },
    item: {
      Put: {
        TableName: table,
        Item: markerItem,
        ConditionExpression: cond.expression,
        ExpressionAttributeNames: cond.names,
        ...(Object.keys(cond.values).length > 0 ? { ExpressionAttributeValues: cond.values } : {}),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    wcu: () => estimateWcu(markerItem, { transactional: true }),
  };
}

/** A ledger entry Put (with its content hash, tamper.ts), conditional on its deterministic key being free. */
export function entryPart(ledgerTable: string | undefined, entry: LedgerEntry, rerateOf: string | null): TxPart {
  if (ledgerTable === undefined) throw new Error('CallRepo: the rating transaction needs the ledger table');
  // The entry carries its content hash so `GET /v1/ledger/verify` detects an edit made behind the API.
  const item = marshall({ pk: `ACCT#${entry.accountId}`, sk: ledgerSortKey(entry), ...withContentHash(entry) }, { removeUndefinedValues: true });
  return {
    tag: { kind: 'entry', entryId: entry.entryId, rerateOf },
    item: { Put: { TableName: ledgerTable, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
    // The ledger's createdAt index (KEYS_ONLY) takes a copy of the entry's keys: index writes are not doubled.
    wcu: () => estimateWcu(item, { transactional: true }) + gsiWcu(null, item, LEDGER_BY_CREATED_AT),
  };
}

/**
 * The update of a call re-rated by a duplicate-window plan: only what the duplicate rule changes (its reasons,
 * prior, billable and amount, the rating's time) and, with a reversal, the call's reversal sums; conditional on the
 * item as read. The rest of the stored rating (terms figures, signals, block) stays as the first rating wrote it.
 */
export function reratePart(table: string, images: CallImages, accountId: string, r: WindowRerate): TxPart {
  const names: Record<string, string> = {
    '#ra': 'ratedAt',
    '#bill': 'billable',
    '#amt': 'amountCents',
    '#acct': 'accountId',
    '#r': 'rating',
    '#x': 'x',
    '#pc': 'pc',
    '#ps': 'ps',
    '#cc': 'creditCents',
  };
  const values: Record<string, AttributeValue> = {
    ':ra': S(r.ratedAt),
    ':bill': { BOOL: r.billable },
    ':amt': N(r.amountCents),
    ':readRa': S(r.expectRatedAt),
    ':readBill': { BOOL: r.expectBillable },
    ':acct': S(accountId),
  };
  const sets = ['#ra = :ra', '#bill = :bill', '#amt = :amt'];
  const removes: string[] = [];
  if (r.reasons.length > 0) {
    sets.push('#r.#x = :x');
    values[':x'] = S(r.reasons.join(' '));
  } else removes.push('#r.#x');
  if (r.prior !== null) {
    sets.push('#r.#pc = :pc', '#r.#ps = :ps');
    values[':pc'] = S(r.prior.callId);
    values[':ps'] = N(r.prior.billedStartMs);
  } else removes.push('#r.#pc', '#r.#ps');
  if (r.capRefusal !== undefined) {
    names['#cr'] = 'cr';
    sets.push('#r.#cr = :cr');
    values[':cr'] = S(r.capRefusal);
  }
  const adds: string[] = [];
  if (r.entry?.type === 'reversal') {
    names['#rvc'] = 'revChargeCents';
    names['#rv'] = 'revCents';
    names['#rvn'] = 'revCount';
    values[':rvc'] = N(r.reversedChargeCents ?? 0);
    values[':rv'] = N(r.entry.amountCents);
    values[':one'] = N(1);
    adds.push('#rvc :rvc', '#rv :rv', '#rvn :one');
  }
  let condition = '#ra = :readRa AND #bill = :readBill AND #acct = :acct AND ';
  if (r.expectCreditCents === null) condition += 'attribute_not_exists(#cc)';
  else {
    condition += '#cc = :readCc';
    values[':readCc'] = N(r.expectCreditCents);
  }
  const expression = `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}${adds.length > 0 ? ` ADD ${adds.join(', ')}` : ''}`;
  return {
    tag: { kind: 'rerate', callId: r.callId },
    item: {
      Update: {
        TableName: table,
        Key: marshall(mainKeys.call(r.callId)),
        UpdateExpression: expression,
        ConditionExpression: condition,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
    wcu: () => images.priceRerate(r),
  };
}

/**
 * Turns a cancelled rating transaction's reasons into what the writer does next, judged in this order: the
 * arriving call is already rated; a conflict with a concurrent transaction; the marker is not the one the plan was
 * made from (plan again from the image it returned); a re-rated call changed since it was read; a pilot's counter
 * refused (a duplicate never consumes the cap: the marker is judged first).
 */
export function readCancellation(images: CallImages, accountId: string, parts: readonly TxPart[], reasons: readonly CancellationReason[]): CommitOutcome {
  const failed = (i: number) => reasons[i]?.Code === 'ConditionalCheckFailed';
  const callIndex = parts.findIndex((p) => p.tag.kind === 'call');
  if (callIndex >= 0 && failed(callIndex)) {
    const tag = parts[callIndex]!.tag as { kind: 'call'; callId: string };
    const item = reasons[callIndex]!.Item;
    if (item) images.remember(tag.callId, item);
    const old = item ? unmarshall(item) : {};
    if (old.accountId !== undefined && old.accountId !== accountId) throw new CallAccountMismatch(tag.callId);
    return { outcome: 'already_rated' };
  }
  if (reasons.some((r) => r.Code === 'TransactionConflict')) return { outcome: 'conflict' };
  const markerIndex = parts.findIndex((p) => p.tag.kind === 'marker');
  if (markerIndex >= 0 && failed(markerIndex)) return { outcome: 'window_changed', window: decodeWindow(reasons[markerIndex]!.Item) };
  for (const [i, p] of parts.entries()) {
    if (p.tag.kind !== 'rerate' || !failed(i)) continue;
    const item = reasons[i]!.Item;
    if (item) images.remember(p.tag.callId, item);
    return { outcome: 'rerate_stale', callId: p.tag.callId };
  }
  const pilotFailures = parts.flatMap((p, i) => (p.tag.kind === 'pilot' && failed(i) ? [{ tag: p.tag, item: reasons[i]!.Item }] : []));
  if (pilotFailures.length > 0) {
    const move = pilotFailures[0]!.tag.move;
    const totalFailure = pilotFailures.find((f) => f.tag.move === move && f.tag.which === null);
    const image = totalFailure?.item ? unmarshall(totalFailure.item) : null;
    // The counter's image comes back only when its own condition failed; a day item's failure alone means the
    // counter passed, so it is read as open with room.
    const total =
      totalFailure === undefined
        ? { open: true, spentCents: 0, billableCalls: 0 }
        : image === null
          ? null
          : { open: image.open === true, spentCents: Number(image.spentCents ?? 0), billableCalls: Number(image.billableCalls ?? 0) };
    const days = new Map<string, number>();
    for (const f of pilotFailures) if (f.tag.move === move && f.tag.which !== null) days.set(f.tag.which, f.item ? Number(unmarshall(f.item).spentCents ?? 0) : 0);
    // A condition failed but the images show room: the counter was closed or missing.
    const refusal = moveRefusal(move, total, days) ?? (totalFailure !== undefined ? 'closed' : 'daily_cap');
    return { outcome: 'over_cap', pilotId: move.pilotId, refusal };
  }
  const entry = parts.find((p, i) => p.tag.kind === 'entry' && failed(i));
  // An entry exists while its call is not rated for it: impossible if every writer uses this transaction.
  if (entry !== undefined) throw new Error(`ledger entry ${(entry.tag as { entryId: string }).entryId} exists but its call is not rated for it`);
  throw new Error(`rating transaction for ${accountId} cancelled: ${reasons.map((r) => r.Code ?? 'None').join(',')}`);
}
