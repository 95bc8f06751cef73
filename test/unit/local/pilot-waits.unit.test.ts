/**
 * The local pilot workflow's waits on a fake clock: a pilot whose window opens further ahead than one Node.js timer
 * can hold (2^31 − 1 ms, 24.8 days) stays scheduled until `startsAt` — Node.js (and the fake clock, like it) fires an
 * over-long timer at once — and an execution stopped during that wait never runs a task.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, sleepUntil, startLocalPilotWorkflow } from '../../../infra/local/stepfunctions';

const DAY = 86_400_000;

function recordingHandler() {
  const actions: { action: string; at: number }[] = [];
  const handler = async (event: unknown) => {
    const action = (event as { action: string }).action;
    actions.push({ action, at: Date.now() });
    // The monitor's first check finds the pilot closed: straight to the report, then done.
    return action === 'check' ? { decision: 'closed' } : { ok: true };
  };
  return { actions, handler };
}

const input = (startsAt: string) => ({ accountId: 'acct', pilotId: 'pilot-0123456789abcdef01234567', startsAt, monitorSeconds: 10, settleSeconds: 30 });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.UTC(2030, 0, 1) });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('local pilot workflow: the wait until startsAt', () => {
  it('a window 40 days ahead is not activated before startsAt, and is activated at it', async () => {
    const { actions, handler } = recordingHandler();
    const wf = startLocalPilotWorkflow({ handler });
    const startsAtMs = Date.now() + 40 * DAY;
    const arn = await wf.start('pilot-0123456789abcdef01234567', input(new Date(startsAtMs).toISOString()));

    await vi.advanceTimersByTimeAsync(1000);
    expect(actions).toEqual([]);
    // Past one timer's limit, and a minute short of the window.
    await vi.advanceTimersByTimeAsync(startsAtMs - Date.now() - 60_000);
    expect(Date.now() - (startsAtMs - 40 * DAY)).toBeGreaterThan(MAX_TIMER_MS);
    expect(actions).toEqual([]);
    expect(wf.execution(arn)!.status).toBe('RUNNING');

    await vi.advanceTimersByTimeAsync(60_000 + 10_000);
    expect(actions[0]).toEqual({ action: 'activate', at: startsAtMs });
    await vi.advanceTimersByTimeAsync(20_000);
    await wf.execution(arn)!.done;
    expect(actions.map((a) => a.action)).toEqual(['activate', 'check', 'report']);
    expect(wf.execution(arn)!.status).toBe('SUCCEEDED');
  });

  it('an execution stopped during a long wait runs no task and ends ABORTED', async () => {
    const { actions, handler } = recordingHandler();
    const wf = startLocalPilotWorkflow({ handler });
    const arn = await wf.start('pilot-0123456789abcdef01234567', input(new Date(Date.now() + 90 * DAY).toISOString()));
    await vi.advanceTimersByTimeAsync(30 * DAY);
    await wf.stop(arn, 'stopped by its owner');
    await wf.execution(arn)!.done;
    expect(wf.execution(arn)!.status).toBe('ABORTED');
    await vi.advanceTimersByTimeAsync(90 * DAY);
    expect(actions).toEqual([]);
  });
});

describe('sleepUntil', () => {
  it('resolves at the deadline however far ahead, never before', async () => {
    const until = Date.now() + 100 * DAY + 123;
    let done = false;
    void sleepUntil(until, new AbortController().signal).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(100 * DAY + 122);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
  });

  it('resolves at once when aborted, and for a deadline already past', async () => {
    const controller = new AbortController();
    const sleeping = sleepUntil(Date.now() + 50 * DAY, controller.signal);
    controller.abort();
    await sleeping;
    await sleepUntil(Date.now() - 1, new AbortController().signal);
    expect(vi.getTimerCount()).toBe(0);
  });
});
