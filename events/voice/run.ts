/**
 * Many simulated calls at once: a fixed number in flight (`concurrency`), each a call of player.ts, and a progress
 * line as they end. A call whose TwiML the simulator refuses is reported with its error and trace; it never stops
 * the others. Progress names counts and call SIDs only: never a caller's number (personal data).
 */
import { playCall, SimulationError, type CallTrace, type SimulatedCall, type SimulatorConfig } from './player';
import type { CallScript, CallScriptInput } from './script';

export type CallResult =
  | ({ readonly ok: true } & SimulatedCall)
  | { readonly ok: false; readonly index: number; readonly error: Error; readonly trace: CallTrace | null };

export interface Progress {
  readonly done: number;
  readonly total: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly last: CallResult;
}

export interface RunOptions {
  /** Calls in flight at once; default 8. */
  readonly concurrency?: number;
  readonly onProgress?: (p: Progress) => void;
}

/** Plays every script, `concurrency` at a time; results in the scripts' order. */
export async function playCalls(scripts: readonly (CallScriptInput | CallScript)[], config: SimulatorConfig, options: RunOptions = {}): Promise<CallResult[]> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
  const results: CallResult[] = new Array(scripts.length);
  let nextIndex = 0;
  let done = 0;
  let failed = 0;
  let inFlight = 0;
  const worker = async () => {
    while (nextIndex < scripts.length) {
      const index = nextIndex++;
      inFlight++;
      let result: CallResult;
      try {
        result = { ok: true, ...(await playCall(scripts[index]!, config)) };
      } catch (e) {
        const error = e instanceof Error ? e : new Error(String(e));
        result = { ok: false, index, error, trace: e instanceof SimulationError ? e.trace : null };
        failed++;
      }
      inFlight--;
      results[index] = result;
      done++;
      options.onProgress?.({ done, total: scripts.length, failed, inFlight, last: result });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, scripts.length) }, worker));
  return results;
}

/** A progress printer for a terminal: one line rewritten in place (`\r`), a newline when the run is over. */
export function progressLine(write: (s: string) => void = (s) => process.stderr.write(s)): (p: Progress) => void {
  return (p) => {
    const failure = p.last.ok ? '' : `  last failure: ${p.last.error.message.slice(0, 120)}`;
    write(`\rcalls ${p.done}/${p.total}  failed ${p.failed}  in flight ${p.inFlight}${failure}${p.done === p.total ? '\n' : ''}`);
  };
}

/** The run at a glance, for the demo's routing summary beside the ledger: counts, seconds, and per answering target. */
export interface RunSummary {
  readonly calls: number;
  readonly failed: number;
  readonly answered: number;
  readonly rejected: number;
  readonly connected: number;
  readonly billable: number;
  readonly talkSec: number;
  readonly byTarget: Readonly<Record<string, { readonly connected: number; readonly billable: number; readonly talkSec: number }>>;
}

export function summarize(results: readonly CallResult[]): RunSummary {
  const byTarget: Record<string, { connected: number; billable: number; talkSec: number }> = {};
  let failed = 0;
  let answered = 0;
  let rejected = 0;
  let connected = 0;
  let billable = 0;
  let talkSec = 0;
  for (const r of results) {
    if (!r.ok) {
      failed++;
      continue;
    }
    const t = r.truth;
    if (t.answered) answered++;
    if (t.rejected) rejected++;
    if (t.billable) billable++;
    talkSec += t.talkSec;
    if (t.connected && t.answeredTarget !== null) {
      connected++;
      const row = (byTarget[t.answeredTarget] ??= { connected: 0, billable: 0, talkSec: 0 });
      row.connected++;
      row.talkSec += t.talkSec;
      if (t.billable) row.billable++;
    }
  }
  return { calls: results.length, failed, answered, rejected, connected, billable, talkSec, byTarget };
}
