/**
 * One environment parser: the functions' settings and the pilot settings are read and refused the same way, every
 * bad variable named in one error, so a misconfigured function says everything that is wrong at once.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../shared/adapters/platform/env';
import { loadPilotConfig } from '../../../shared/adapters/pilots/env';

function issuesOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('the environment parser', () => {
  it('lists every missing or invalid function setting', () => {
    expect(issuesOf(() => loadConfig(['mainTable', 'ingestQueueUrl', 'sealGraceMs'], { MAIN_TABLE: '', INGEST_QUEUE_URL: 'not a url', SEAL_GRACE_MS: '10' }))).toEqual([
      'MAIN_TABLE: missing',
      expect.stringMatching(/^INGEST_QUEUE_URL: /),
      'SEAL_GRACE_MS: at least 30000 ms',
    ]);
  });

  it('the voice decision budget: 1,500 ms unset, a whole number of at least 50 ms, refused at load otherwise', () => {
    expect(loadConfig(['voiceDecisionBudgetMs'], {})).toEqual({ voiceDecisionBudgetMs: 1500 });
    expect(loadConfig(['voiceDecisionBudgetMs'], { VOICE_DECISION_BUDGET_MS: '8000' })).toEqual({ voiceDecisionBudgetMs: 8000 });
    expect(issuesOf(() => loadConfig(['voiceDecisionBudgetMs'], { VOICE_DECISION_BUDGET_MS: 'fast' }))).toEqual(['VOICE_DECISION_BUDGET_MS: expected a whole number of milliseconds']);
    expect(issuesOf(() => loadConfig(['voiceDecisionBudgetMs'], { VOICE_DECISION_BUDGET_MS: '10' }))).toEqual(['VOICE_DECISION_BUDGET_MS: at least 50 ms']);
  });

  it('lists every invalid pilot setting the same way, and defaults the rest', () => {
    expect(issuesOf(() => loadPilotConfig({ PILOT_STATE_MACHINE_ARN: 'arn:nope', PILOT_MONITOR_SECONDS: '-1' }))).toEqual([
      'PILOT_STATE_MACHINE_ARN: expected a state machine ARN',
      expect.stringMatching(/^PILOT_MONITOR_SECONDS: /),
    ]);
    expect(loadPilotConfig({ PILOT_MONITOR_SECONDS: '' })).toEqual({ stateMachineArn: undefined, monitorSeconds: 60, settleSeconds: 1800, notifyAllowLocal: false, finishGraceSeconds: 300 });
  });
});
