/**
 * The voice tests' configuration on a local stack: a campaign with terms and a call flow in force since the epoch,
 * its publisher and tracking numbers, targets and (optionally) a pilot, written straight to the main table (the API
 * would make each take effect CONFIG_LEAD_MS later), and the simulator's configuration for the stack.
 */
import { randomBytes } from 'node:crypto';
import { ENV } from '../../infra/resources';
import type { LocalStack } from '../../infra/local/stack';
import { ConfigRepo, configItems } from '../../shared/adapters/catalog/config-repo';
import { TargetRepo } from '../../shared/adapters/routing/target-repo';
import { mainKeys } from '../../shared/adapters/calls/keys';
import { routingKeys } from '../../shared/adapters/routing/routing-repo';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { CallFlow } from '../../shared/domain/callflow/flow';
import type { Campaign } from '../../shared/domain/catalog/types';
import type { PilotTerms } from '../../shared/domain/pilots/caps';
import type { Target } from '../../shared/domain/routing/targets';
import type { ContractTerms } from '../../shared/domain/terms/terms';
import type { SimulatorConfig } from '../../events/voice/player';

export const EPOCH = '2000-01-01T00:00:00.000Z';
export const ACCOUNT = 'acme-roofing';

export const VOICE_TERMS: ContractTerms = {
  priceCents: 4500,
  bufferSec: 60,
  durationBasis: 'talk',
  qualification: null,
  duplicateWindowHours: 72,
  duplicateScope: 'campaign',
  withheldCallerId: 'non_billable',
  priceBands: [],
  overrides: [],
};

const say = (text: string) => ({ kind: 'say' as const, text, voice: null, language: 'en-US' });

/** Press 1 for a new roof (qualifies), 2 for something else (ends politely); no input ends the call. */
export function ivrFlow(routes: Record<string, string[]>, overrides: Partial<CallFlow> = {}): CallFlow {
  return {
    greeting: say('Thanks for calling Lone Star Roofing.'),
    ivr: {
      prompt: say('Press 1 for a new roof, or 2 for anything else.'),
      options: [
        { digits: '1', then: { action: 'qualify' } },
        { digits: '2', then: { action: 'end', message: say('We only install new roofs. Goodbye.') } },
      ],
      timeoutSec: 5,
      retries: 1,
      retryPrompt: say('Sorry, I did not get that.'),
      noInput: { action: 'end', message: null },
    },
    routes,
    ringTimeoutSec: 15,
    maxCallSec: 3600,
    recording: 'from_answer',
    whisper: { text: 'Call from {publisher} for {campaign}.', voice: null, language: 'en-US' },
    unavailable: { action: 'message', message: say('Everyone is busy. Please call again later.') },
    refusedMessage: say('We cannot take this call. Goodbye.'),
    caps: null,
    failSafe: { action: 'message', message: say('We are sorry, please call again later.') },
    ...overrides,
  };
}

export function voiceTarget(targetId: string, e164: string, overrides: Partial<Target> = {}): Target {
  return {
    accountId: ACCOUNT,
    targetId,
    name: `Target ${targetId}`,
    destination: { kind: 'number', e164 },
    enabled: true,
    hours: null,
    concurrencyCap: 5,
    hourlyCap: null,
    dailyCap: null,
    geography: null,
    priority: 1,
    weight: 1,
    ringTimeoutSec: null,
    rev: 1,
    updatedAt: EPOCH,
    ...overrides,
  };
}

let nextNumber = Math.floor(Math.random() * 150);
/** A fresh NANP tracking number in 512-555-08xx..09xx (unused by the demo seed), distinct within a run. */
export function freshNumber(): string {
  return `+1512555${String(800 + (nextNumber++ % 200)).padStart(4, '0')}`;
}

export const suffix = () => randomBytes(3).toString('hex');

export interface VoiceCampaign {
  readonly campaignId: string;
  readonly publisherId: string;
  readonly number: string;
}

/** Writes a publisher, a campaign (terms v1 and flow v1 in force since the epoch, pilots) and one tracking number. */
export async function writeVoiceCampaign(
  stack: Pick<LocalStack, 'names' | 'clients'>,
  args: { campaignId: string; flow: CallFlow; terms?: ContractTerms; number?: string; pilots?: PilotTerms[]; hours?: Campaign['hours']; geography?: Campaign['geography'] },
): Promise<VoiceCampaign> {
  const repo = new ConfigRepo({ mainTable: stack.names.mainTable, client: stack.clients.dynamodb });
  const publisherId = `pub-${args.campaignId}`;
  const number = args.number ?? freshNumber();
  const campaign: Campaign = {
    accountId: ACCOUNT,
    campaignId: args.campaignId,
    name: `Campaign ${args.campaignId}`,
    vertical: 'home_services',
    geography: args.geography ?? null,
    hours: args.hours ?? null,
    termsVersions: [{ ...(args.terms ?? VOICE_TERMS), version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }],
    flowVersions: [{ ...args.flow, version: 1, effectiveFrom: EPOCH, createdAt: EPOCH }],
    ...(args.pilots ? { pilots: args.pilots } : {}),
    rev: 1,
    updatedAt: EPOCH,
  };
  await repo.putConfigItems([
    configItems.publisher({
      accountId: ACCOUNT,
      publisherId,
      name: `Publisher ${args.campaignId}`,
      trafficMethods: ['paid_search'],
      subSources: [],
      contact: null,
      creditPolicy: { disputeWindowDays: 30, allowedReasons: ['fraud', 'other'] },
    }),
    configItems.campaign(campaign),
    configItems.trackingNumber({ accountId: ACCOUNT, number, assignments: [{ campaignId: args.campaignId, publisherId, subSource: null, effectiveFrom: EPOCH, createdAt: EPOCH }], rev: 1, updatedAt: EPOCH }),
  ]);
  return { campaignId: args.campaignId, publisherId, number };
}

export async function writeTargets(stack: Pick<LocalStack, 'names' | 'clients'>, targets: readonly Target[]): Promise<void> {
  const repo = new TargetRepo({ mainTable: stack.names.mainTable, client: stack.clients.dynamodb });
  for (const t of targets) await repo.putTarget(t, null);
}

/** A pilot's counter as POST /v1/pilots opens it. */
export async function writePilotCounter(stack: LocalStack, pilot: PilotTerms): Promise<void> {
  await stack.clients.dynamodb.send(
    new PutItemCommand({
      TableName: stack.names.mainTable,
      Item: marshall({
        ...mainKeys.pilotCounter(ACCOUNT, pilot.pilotId),
        accountId: ACCOUNT,
        pilotId: pilot.pilotId,
        open: true,
        spentCents: 0,
        billableCalls: 0,
        heldCents: 0,
        heldCalls: 0,
        reservations: {},
        spendCapCents: pilot.spendCapCents,
        maxBillableCalls: pilot.maxBillableCalls,
      }),
    }),
  );
}

/** Every slot of a target held by other (live) calls until `untilMs`. */
export async function occupyTarget(stack: LocalStack, targetId: string, cap: number, untilMs: number): Promise<void> {
  for (let slot = 0; slot < cap; slot++) {
    await stack.clients.dynamodb.send(
      new PutItemCommand({
        TableName: stack.names.mainTable,
        Item: marshall({ ...routingKeys.slot(ACCOUNT, targetId, slot), holder: `twilio:CA${'0'.repeat(31)}${slot}`, expiresAtMs: untilMs, maxCallMs: 3_630_000 }),
      }),
    );
  }
}

export function simulatorConfig(stack: LocalStack): SimulatorConfig {
  const account = stack.seed.accounts.find((a) => a.accountId === ACCOUNT)!;
  return {
    publicBaseUrl: stack.env[ENV.publicBaseUrl] ?? stack.baseUrl,
    baseUrl: stack.baseUrl,
    accounts: { [ACCOUNT]: { authToken: stack.secrets.twilioAuthTokens[ACCOUNT]!, accountSid: account.twilio!.accountSid } },
    mediaBaseUrl: stack.mediaBaseUrl,
  };
}
