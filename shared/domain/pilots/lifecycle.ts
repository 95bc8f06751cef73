/**
 * The life cycle of a pilot's state (`PILOT_TRANSITIONS`):
 *
 *   scheduled ──activate──▶ active ──cap reached──▶ capped ──report──▶ closed
 *       │                    │  └────window over──▶ ended  ──report──▶ closed
 *       └──────stop──────────┴──stop──▶ stopped (report added, state kept)
 *   any non-terminal state ──workflow failure──▶ failed (the enforcer still closes and reports it → closed)
 */
import { PILOT_STATES, type CloseReason, type PilotState } from './pilots';

export const TERMINAL_STATES: ReadonlySet<PilotState> = new Set(['closed', 'stopped']);

/** Every allowed change of state; anything else is refused by the repository's conditional update. */
export const PILOT_TRANSITIONS: Readonly<Record<PilotState, readonly PilotState[]>> = {
  scheduled: ['active', 'stopped', 'failed', 'capped', 'ended'],
  active: ['capped', 'ended', 'stopped', 'failed'],
  capped: ['closed', 'failed'],
  ended: ['closed', 'failed'],
  failed: ['capped', 'ended', 'closed', 'stopped'],
  closed: [],
  stopped: [],
};

export function canTransition(from: PilotState, to: PilotState): boolean {
  return PILOT_TRANSITIONS[from].includes(to);
}

/** The states from which `to` may be reached (what the conditional update tests). */
export function statesLeadingTo(to: PilotState): PilotState[] {
  return PILOT_STATES.filter((s) => canTransition(s, to));
}

/** The state a close with `reason` moves a pilot to. */
export function stateAfterClose(reason: CloseReason): PilotState {
  return reason === 'cap' ? 'capped' : reason === 'window' ? 'ended' : 'stopped';
}

/** The state once the report is stored: `closed`, except that a stopped pilot stays `stopped`. */
export function stateAfterReport(current: PilotState): PilotState {
  return current === 'stopped' ? 'stopped' : 'closed';
}
