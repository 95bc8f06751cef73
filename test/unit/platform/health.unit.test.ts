/**
 * `GET /health` (shared/app/kernel/health.ts): every component probed at once, each cut off at the timeout whatever it
 * does (a hung dependency, a probe that ignores its signal), down ones named with the kind of failure only.
 */
import { describe, expect, it } from 'vitest';
import { checkHealth, type Probe } from '../../../shared/app/kernel/health';

const up: Probe = async () => {};
/** Never settles and ignores its signal: the worst a probe can do. */
const hung: Probe = () => new Promise<void>(() => {});
/** Settles only when aborted, as an SDK call given the signal does. */
const abortable: Probe = (signal) =>
  new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))));
const kindOf = (err: unknown) => (err instanceof Error && err.name === 'ThrottlingException' ? 'throttled' : 'error');

describe('checkHealth', () => {
  it('is ok when every component answers', async () => {
    expect(await checkHealth({ probes: { dynamodb: up, sqs: up, s3: up }, timeoutMs: 1000, kindOf })).toEqual({
      status: 'ok',
      components: { dynamodb: 'up', sqs: 'up', s3: 'up' },
    });
  });

  it('names each failing component and the kind of failure, never its message', async () => {
    const throttled: Probe = async () => {
      throw Object.assign(new Error('Rate exceeded for table callledger-main'), { name: 'ThrottlingException' });
    };
    const broken: Probe = async () => {
      throw new Error('secret detail');
    };
    const report = await checkHealth({ probes: { dynamodb: throttled, sqs: up, s3: broken }, timeoutMs: 1000, kindOf });
    expect(report).toEqual({
      status: 'degraded',
      components: { dynamodb: 'down', sqs: 'up', s3: 'down' },
      failures: { dynamodb: 'throttled', s3: 'error' },
    });
    expect(JSON.stringify(report)).not.toMatch(/Rate exceeded|secret detail|callledger-main/);
  });

  it('answers within the timeout when components hang, whether or not their probes honour the signal', async () => {
    let aborted = false;
    const watched: Probe = (signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return hung(signal);
    };
    const report = await checkHealth({ probes: { dynamodb: watched, sqs: abortable, s3: up }, timeoutMs: 50, kindOf });
    expect(report).toEqual({
      status: 'degraded',
      components: { dynamodb: 'down', sqs: 'down', s3: 'up' },
      failures: { dynamodb: 'timeout', sqs: 'timeout' },
    });
    // The hung request is told to stop, not left running.
    expect(aborted).toBe(true);
  });
});
