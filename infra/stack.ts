/**
 * CallLedgerStack: the production AWS stack, built only from infra/resources.ts (tables, queues, buckets,
 * functions, routes, env names) and one validated per-environment config (infra/constructs/environment-config.ts).
 *
 *   Twilio ──POST──▶ HTTP API ──▶ ingestTwilio ──▶ SQS ingest ──▶ ledgerWriter ──▶ DynamoDB main + ledger
 *                        │                                           │  └──▶ S3 archive (raw/…)
 *                        └──▶ api (read) ◀── main/ledger              └──▶ SQS recordings ──▶ recordingFetcher ──▶ S3
 */
import { App, CfnOutput, Duration, RemovalPolicy, Stack, Tags, Validations, type AppProps, type CfnElement, type StackProps } from 'aws-cdk-lib';
import { Effect, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import path from 'node:path';
import { ENV_NAMES } from '../shared/adapters/platform/env';
import { DEFAULT_SEAL_OPTIONS } from '../shared/app/ledger/verify';
import { OperationalAlarms } from './constructs/alarms';
import { VoiceAlarms } from './constructs/voice-alarms';
import { StorageBuckets } from './constructs/buckets';
import { resolveEnvironment, type EnvironmentConfig } from './constructs/environment-config';
import { PublicApi } from './constructs/http-api';
import { LedgerFunction } from './constructs/ledger-function';
import { DDB_READ, DDB_WRITE, grantLedgerAppend, grantPartitionItems, grantPartitionPut, grantSsmRead, grantTable } from './constructs/permissions';
import { WorkQueues } from './constructs/queues';
import { FunctionSchedules } from './constructs/schedules';
import { PilotWorkflow } from './constructs/pilots';
import { PiiKey } from './constructs/pii-key';
import { DataTables } from './constructs/tables';
import { FUNCTIONS, QUEUES, STREAMS, TABLES, VOICE_DECISION_BUDGET_MS_DEFAULT, physicalName, type FunctionId } from './resources';

export interface CallLedgerStackProps extends StackProps {
  readonly envName: string;
  readonly config: EnvironmentConfig;
}

/** SSM parameter (under the environment's prefix) holding the caller-hash HMAC key. */
export const CALLER_HASH_KEY_PARAM = 'caller-hash-key';
/** SSM sub-path of provider secrets: `twilio/<accountId>/auth-token`. */
export const TWILIO_SECRETS_PATH = 'twilio/';
/** SSM sub-paths of the other carriers' secrets (shared/domain/catalog/carriers.ts): `<carrier>/<accountId>/<name>`. */
export const CARRIER_SECRETS_PATHS = ['telnyx/', 'vonage/', 'plivo/'] as const;
/**
 * p99 duration of a voice function that pages when held 15 minutes: two thirds of the decision's default budget
 * (VOICE_DECISION_BUDGET_MS 1500), so the alarm fires while answers still come from the decision, not the fail-safe.
 */
export const VOICE_SLOW_ANSWER_ALARM_MS = 1000;

export class CallLedgerStack extends Stack {
  readonly data: DataTables;
  readonly queues: WorkQueues;
  readonly storage: StorageBuckets;
  readonly functions: Record<FunctionId, LedgerFunction>;
  readonly publicApi: PublicApi;
  readonly alarms: OperationalAlarms;
  readonly schedules: FunctionSchedules;
  readonly pilots: PilotWorkflow;
  /** The KMS key caller numbers are sealed under. */
  readonly piiKey: PiiKey;

  constructor(scope: Construct, id: string, props: CallLedgerStackProps) {
    super(scope, id, props);
    const { config, envName } = props;
    const prefix = config.resourcePrefix;
    const removalPolicy = config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = config.logRetentionDays as RetentionDays;

    Tags.of(this).add('app', 'callledger');
    Tags.of(this).add('env', envName);

    this.data = new DataTables(this, 'Data', {
      resourcePrefix: prefix,
      removalPolicy,
      deletionProtection: config.deletionProtection,
    });
    this.queues = new WorkQueues(this, 'Queues', { resourcePrefix: prefix });
    this.storage = new StorageBuckets(this, 'Storage', {
      resourcePrefix: prefix,
      removalPolicy,
      accessLogRetentionDays: 365,
    });
    const { main, ledger, aggregates } = this.data.tables;
    const { ingest, recordings } = this.queues.queues;
    const { archive, recordings: recordingsBucket, anchors } = this.storage.buckets;

    this.piiKey = new PiiKey(this, 'Pii', { resourcePrefix: prefix, removalPolicy });

    const environment: Record<string, string> = {
      [ENV_NAMES.mainTable]: main.tableName,
      [ENV_NAMES.ledgerTable]: ledger.tableName,
      [ENV_NAMES.aggregatesTable]: aggregates.tableName,
      [ENV_NAMES.ingestQueueUrl]: ingest.queue.queueUrl,
      [ENV_NAMES.recordingsQueueUrl]: recordings.queue.queueUrl,
      [ENV_NAMES.archiveBucket]: archive.bucketName,
      [ENV_NAMES.recordingsBucket]: recordingsBucket.bucketName,
      [ENV_NAMES.callerHashKeyRef]: `ssm:${config.ssmPrefix}${CALLER_HASH_KEY_PARAM}`,
      [ENV_NAMES.piiKeyRef]: this.piiKey.keyRef,
      [ENV_NAMES.secretsRef]: `ssm:${config.ssmPrefix}`,
      [ENV_NAMES.recordingUrlAllowedHosts]: config.recordingUrlAllowedHosts.join(','),
      [ENV_NAMES.carrierRecordingHosts]: JSON.stringify(config.carrierRecordingHosts),
      [ENV_NAMES.anchorsBucket]: anchors.bucketName,
      [ENV_NAMES.sealIntervalMs]: String(DEFAULT_SEAL_OPTIONS.intervalMs),
      [ENV_NAMES.sealGraceMs]: String(DEFAULT_SEAL_OPTIONS.graceMs),
      [ENV_NAMES.voiceDecisionBudgetMs]: String(VOICE_DECISION_BUDGET_MS_DEFAULT),
    };

    this.functions = Object.fromEntries(
      Object.values(FUNCTIONS).map((def) => {
        const functionName = physicalName(prefix, path.basename(def.entry, '.ts'));
        const fn = new LedgerFunction(this, def.id, {
          def,
          functionName,
          environment,
          logRetention,
          removalPolicy,
          serviceName: `callledger-${def.id}`,
          metricsNamespace: 'CallLedger',
          logLevel: config.logLevel,
        });
        return [def.id, fn];
      }),
    ) as Record<FunctionId, LedgerFunction>;

    this.grantPermissions(config);

    // Each queue feeds its consumer (QUEUES[*].consumer) with partial batch failure reporting.
    for (const { def, queue } of Object.values(this.queues.queues)) {
      this.functions[def.consumer].fn.addEventSource(
        new SqsEventSource(queue, {
          batchSize: def.batchSize,
          maxBatchingWindow: def.maxBatchingWindowSec > 0 ? Duration.seconds(def.maxBatchingWindowSec) : undefined,
          reportBatchItemFailures: true,
          ...(def.consumer === 'ledgerWriter' && config.ledgerWriterMaxConcurrency !== undefined
            ? { maxConcurrency: config.ledgerWriterMaxConcurrency }
            : {}),
        }),
      );
    }

    // Each table stream feeds its consumer (STREAMS): call items only (event filtering, so other writes never invoke
    // it), partial batch responses, bisection on error, and records that still fail after the retries go to a DLQ.
    const streamDlqs: { consumer: FunctionId; dlq: Queue }[] = [];
    for (const [key, def] of Object.entries(STREAMS)) {
      const dlq = new Queue(this, `${def.consumer}StreamDlq`, {
        queueName: physicalName(prefix, `${key}-stream-dlq`),
        retentionPeriod: Duration.days(14),
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
      });
      streamDlqs.push({ consumer: def.consumer, dlq });
      Validations.of(dlq).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: "This queue IS a dead-letter destination: the stream event source's on-failure destination (records that still fail after the retries).",
      });
      this.functions[def.consumer].fn.addEventSource(
        new DynamoEventSource(this.data.tables[def.table], {
          startingPosition: StartingPosition.TRIM_HORIZON,
          batchSize: def.batchSize,
          maxBatchingWindow: def.maxBatchingWindowSec > 0 ? Duration.seconds(def.maxBatchingWindowSec) : undefined,
          retryAttempts: def.retryAttempts,
          bisectBatchOnError: true,
          reportBatchItemFailures: true,
          onFailure: new SqsDlq(dlq),
          filters: [FilterCriteria.filter({ dynamodb: { Keys: { pk: { S: FilterRule.beginsWith(def.keyPrefix) } } } })],
        }),
      );
    }

    this.publicApi = new PublicApi(this, 'Http', {
      apiName: `${prefix}-api`,
      functions: mapValues(this.functions, (f) => f.fn),
      throttle: config.apiThrottle,
      logRetention,
      removalPolicy,
    });

    // PUBLIC_BASE_URL: the custom domain from config, else the API's execute-api endpoint. No dependency cycle:
    // the function reads AWS::ApiGatewayV2::Api's ApiEndpoint attribute, and the Api resource does not depend on
    // any function (only its integrations, routes and invoke permissions do).
    const publicBaseUrl = config.publicBaseUrl || this.publicApi.api.apiEndpoint;
    for (const f of Object.values(this.functions)) f.fn.addEnvironment(ENV_NAMES.publicBaseUrl, publicBaseUrl);

    this.alarms = new OperationalAlarms(this, 'Alarms', {
      topicName: `${prefix}-alarms`,
      alarmEmail: config.alarmEmail,
      alarmNamePrefix: prefix,
      api: this.publicApi.api,
      functions: mapValues(this.functions, (f) => f.fn),
      queues: this.queues.queues,
      backlogQueue: this.queues.queues[consumedBy('ledgerWriter')],
      backlogAlarmSeconds: config.ingestBacklogAlarmSeconds,
    });

    // The voice functions: fail-safe answers and slow answers page the same topic (constructs/voice-alarms.ts).
    new VoiceAlarms(this, 'VoiceAlarms', {
      alarmNamePrefix: prefix,
      topic: this.alarms.topic,
      functions: { voiceTwilio: this.functions.voiceTwilio, voiceCarrier: this.functions.voiceCarrier },
      slowAnswerMs: VOICE_SLOW_ANSWER_ALARM_MS,
    });

    // Stream consumers: a record in the failure DLQ (aggregates missing a call until it changes again or a rebuild),
    // and falling behind the stream (IteratorAge: reports of recent days would be stale) page the same topic.
    for (const { consumer, dlq } of streamDlqs) {
      const alarms = [
        new Alarm(this, `${consumer}StreamDlqAlarm`, {
          alarmName: `${prefix}-${consumer}-stream-dlq`,
          metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
        new Alarm(this, `${consumer}IteratorAgeAlarm`, {
          alarmName: `${prefix}-${consumer}-iterator-age`,
          metric: this.functions[consumer].fn.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
          threshold: 5 * 60_000,
          evaluationPeriods: 5,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      ];
      for (const alarm of alarms) alarm.addAlarmAction(new SnsAction(this.alarms.topic));
    }

    // Scheduled functions (FUNCTIONS[*].schedule) on EventBridge Scheduler, e.g. the ledger sealer hourly.
    this.schedules = new FunctionSchedules(this, 'Schedules', { functions: mapValues(this.functions, (f) => f.fn), namePrefix: prefix });

    // Pilot campaigns: the state machine, its alarms and the pilot functions' IAM (enforce-caps runs every
    // minute through FunctionSchedules above).
    this.pilots = new PilotWorkflow(this, 'Pilots', {
      stateMachineName: physicalName(prefix, 'pilots'),
      taskFunction: this.functions.pilotWorkflow.fn,
      enforceFunction: this.functions.enforceCaps.fn,
      apiFunction: this.functions.api.fn,
      mainTable: this.data.tables.main,
      ledgerTable: this.data.tables.ledger,
      reportsBucket: this.storage.buckets.archive,
      logRetention,
      removalPolicy,
      alarmTopic: this.alarms.topic,
      alarmNamePrefix: prefix,
    });

    this.acknowledgeNagFindings(config);

    new CfnOutput(this, 'ApiUrl', { value: this.publicApi.api.apiEndpoint, description: 'execute-api endpoint' });
    new CfnOutput(this, 'PublicBaseUrl', { value: publicBaseUrl, description: 'Twilio callback base URL' });
    new CfnOutput(this, 'TwilioWebhookUrlTemplate', {
      value: `${publicBaseUrl}/webhooks/twilio/<accountId>`,
      description: 'Status callback and recording status callback URL for each account',
    });
    new CfnOutput(this, 'CarrierWebhookUrlTemplate', {
      value: `${publicBaseUrl}/webhooks/<telnyx|vonage|plivo>/<accountId>`,
      description: 'Telnyx webhook URL, Vonage event_url, Plivo hangup/callback URL for each account',
    });
    for (const [key, table] of Object.entries(this.data.tables)) {
      new CfnOutput(this, `${TABLES[key as keyof typeof TABLES].id}TableName`, { value: table.tableName });
    }
    for (const { def, queue, dlq } of Object.values(this.queues.queues)) {
      new CfnOutput(this, `${def.id}QueueUrl`, { value: queue.queueUrl });
      new CfnOutput(this, `${def.id}DlqUrl`, { value: dlq.queueUrl });
    }
    for (const [key, bucket] of Object.entries(this.storage.buckets)) {
      new CfnOutput(this, `${capitalise(key)}BucketName`, { value: bucket.bucketName });
    }
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
  }

  /** The complete permission matrix. Nothing else grants data access (roles start empty, see LedgerFunction). */
  private grantPermissions(config: EnvironmentConfig): void {
    const { main, ledger, aggregates } = this.data.tables;
    const { ingest, recordings } = this.queues.queues;
    const { archive, recordings: recordingsBucket } = this.storage.buckets;
    const f = mapValues(this.functions, (x) => x.fn);

    // ingestTwilio: look up the account, verify with its Twilio auth token, enqueue.
    grantTable(f.ingestTwilio, main, TABLES.main, DDB_READ);
    grantSsmRead(f.ingestTwilio, this, config.ssmPrefix, TWILIO_SECRETS_PATH);
    ingest.queue.grantSendMessages(f.ingestTwilio);
    // … and apply a dialled leg's progress: its target's lease slot and the call's routing record (conditional updates).
    grantTable(f.ingestTwilio, main, TABLES.main, ['dynamodb:UpdateItem']);

    // voiceTwilio: the Voice URL. Reads configuration, targets, block lists and lease slots; answers with one
    // transaction (pilot counter + reservation, lease slot, routing record: conditional puts and updates); hands the
    // incoming call and the IVR answer to the ledger through the ingest queue; hashes callers like the writer.
    grantTable(f.voiceTwilio, main, TABLES.main, [...DDB_READ, ...DDB_WRITE]);
    grantSsmRead(f.voiceTwilio, this, config.ssmPrefix, TWILIO_SECRETS_PATH);
    grantSsmRead(f.voiceTwilio, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    ingest.queue.grantSendMessages(f.voiceTwilio);
    // voiceCarrier: the same for the carriers' voice URLs, with their secrets (never Twilio's); the caller-hash key
    // also derives each account's state key (`st`, state.ts voiceStateKey).
    grantTable(f.voiceCarrier, main, TABLES.main, [...DDB_READ, ...DDB_WRITE]);
    for (const sub of CARRIER_SECRETS_PATHS) grantSsmRead(f.voiceCarrier, this, config.ssmPrefix, sub);
    grantSsmRead(f.voiceCarrier, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    ingest.queue.grantSendMessages(f.voiceCarrier);

    // ingestNetwork: read the network's registration (secret digests, allow-list), hash the claim's caller, enqueue.
    grantTable(f.ingestNetwork, main, TABLES.main, ['dynamodb:GetItem']);
    grantSsmRead(f.ingestNetwork, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    ingest.queue.grantSendMessages(f.ingestNetwork);

    // networkSettle: re-match the networks' last two days (claims, calls, registrations), store findings on claims and
    // call items (UpdateItem), create network disputes and, for charged calls, disputes on our charge (PutItem).
    grantTable(f.networkSettle, main, TABLES.main, [...DDB_READ, ...DDB_WRITE]);
    grantTable(f.networkSettle, ledger, TABLES.ledger, DDB_READ);
    grantSsmRead(f.networkSettle, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    // ingestCarrier: the same for Telnyx, Vonage and Plivo, with their secrets (never Twilio's).
    grantTable(f.ingestCarrier, main, TABLES.main, DDB_READ);
    for (const sub of CARRIER_SECRETS_PATHS) grantSsmRead(f.ingestCarrier, this, config.ssmPrefix, sub);
    ingest.queue.grantSendMessages(f.ingestCarrier);
    // … and apply a TeXML dialled leg's progress like ingestTwilio (conditional updates), its context checked with the
    // account's state key, derived from the caller-hash key.
    grantTable(f.ingestCarrier, main, TABLES.main, ['dynamodb:UpdateItem']);
    grantSsmRead(f.ingestCarrier, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);

    // ledgerWriter: fold + rate calls (main: read/write), append ledger entries in the rating transaction,
    // archive raw batches, hand completed recordings to the fetcher, hash callers with the HMAC key.
    grantTable(f.ledgerWriter, main, TABLES.main, [...DDB_READ, ...DDB_WRITE]);
    grantTable(f.ledgerWriter, ledger, TABLES.ledger, DDB_READ);
    grantLedgerAppend(f.ledgerWriter, ledger, TABLES.ledger);
    grantObjectWrite(f.ledgerWriter, archive, 'raw/');
    recordings.queue.grantSendMessages(f.ledgerWriter);
    grantSsmRead(f.ledgerWriter, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    // Seal callers' numbers: GenerateDataKey for the day's data key (a PIIKEY# item, main-table PutItem above).
    this.piiKey.grantSeal(f.ledgerWriter);

    // recordingFetcher: download with the account's Twilio credentials, stream to S3, record it on the call.
    grantTable(f.recordingFetcher, main, TABLES.main, ['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    grantObjectWrite(f.recordingFetcher, recordingsBucket, 'recordings/');
    grantSsmRead(f.recordingFetcher, this, config.ssmPrefix, TWILIO_SECRETS_PATH);
    for (const sub of CARRIER_SECRETS_PATHS) grantSsmRead(f.recordingFetcher, this, config.ssmPrefix, sub);
    // Recordings are stored with their retention and hold tags (PutObject with tags needs PutObjectTagging)
    // and the hold tag follows a dispute opened while the recording was being stored.
    f.recordingFetcher.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:PutObjectTagging', 's3:GetObjectTagging'],
        resources: [recordingsBucket.arnForObjects('recordings/*')],
      }),
    );

    // api: read calls and ledger entries of the key's account; presign recording downloads (GetObject).
    grantTable(f.api, main, TABLES.main, DDB_READ);
    grantTable(f.api, ledger, TABLES.ledger, DDB_READ);
    // Management config and disputes are conditional puts (never updates or deletes of call items); an accepted
    // dispute appends its credit to the ledger in the same transaction.
    grantTable(f.api, main, TABLES.main, ['dynamodb:PutItem', 'dynamodb:ConditionCheckItem']);
    // A full credit re-rates the calls that were duplicates only because of the credited call, with the writer's
    // rating transaction (call item, duplicate marker, pilot counter: conditional updates on the main table).
    grantTable(f.api, main, TABLES.main, ['dynamodb:UpdateItem']);
    // DNC uploads write up to 100,000 entries in BatchWriteItem chunks of 25 (shared/adapters/compliance/dnc-repo.ts; puts only).
    grantTable(f.api, main, TABLES.main, ['dynamodb:BatchWriteItem']);
    grantLedgerAppend(f.api, ledger, TABLES.ledger);
    // Invoice reconciliation matches caller numbers by their keyed hash.
    grantSsmRead(f.api, this, config.ssmPrefix, CALLER_HASH_KEY_PARAM);
    // Open sealed caller numbers for call answers (full for admin keys, masked for analysts).
    this.piiKey.grantOpen(f.api);
    // GET /v1/ledger/verify checks the newest anchor of the key's account: list and read anchors/ only.
    grantObjectRead(f.api, this.storage.buckets.anchors, 'anchors/');
    f.api.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:GetObject'],
        resources: [recordingsBucket.arnForObjects('recordings/*')],
      }),
    );
    // Privacy (shared/app/privacy/privacy.ts): legal holds re-tag recordings; deletion requests delete every version of one.
    f.api.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:GetObjectTagging', 's3:PutObjectTagging', 's3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [recordingsBucket.arnForObjects('recordings/*')],
      }),
    );
    f.api.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:ListBucketVersions'],
        resources: [recordingsBucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['recordings/*'] } },
      }),
    );

    // GET /health asks the ingest queue for its ARN (shared/adapters/platform/health-probes.ts): attributes only, no messages.
    f.api.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ['sqs:GetQueueAttributes'], resources: [ingest.queue.queueArn] }));

    // aggregator (daily aggregates): read the changed call item and the campaign / account config (GetItem on
    // the main table), keep contributions and cells in the aggregates table (GetItem, PutItem, UpdateItem: in
    // TransactWriteItems); the stream read permissions come with the event source. The api reads the cells (Query).
    grantTable(f.aggregator, main, TABLES.main, ['dynamodb:GetItem']);
    grantTable(f.aggregator, aggregates, TABLES.aggregates, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    grantTable(f.api, aggregates, TABLES.aggregates, ['dynamodb:Query']);

    // ledgerSealer (tamper evidence): list registered accounts (main gsi1, the ACCOUNTS partition), read the ledger
    // by write time (its byCreatedAt index, then the entries by key) and its newest seal, put seals under SEAL#
    // partition keys only (never an entry's ACCT#: dynamodb:LeadingKeys), and write anchors once to anchors/.
    f.ledgerSealer.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:Query'],
        resources: [`${main.tableArn}/index/${TABLES.main.globalSecondaryIndexes[0].indexName}`],
      }),
    );
    grantTable(f.ledgerSealer, ledger, TABLES.ledger, ['dynamodb:Query', 'dynamodb:BatchGetItem']);
    grantPartitionPut(f.ledgerSealer, ledger, TABLES.ledger, 'SEAL#');
    f.ledgerSealer.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['s3:PutObject'],
        resources: [this.storage.buckets.anchors.arnForObjects('anchors/*')],
      }),
    );
    // qualityPass (cross-call flags): list registered accounts and read each account's calls in start order
    // (Query on main gsi1 only), read the account's quality config (GetItem on ACCT# partitions), keep its checkpoint
    // (GetItem/PutItem on QPASS# partitions) and set the `xq` flags on call items (UpdateItem on CALL# partitions only:
    // never a marker, pilot counter or configuration item). Nothing on the ledger table: flags never touch billing.
    f.qualityPass.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:Query'],
        resources: [`${main.tableArn}/index/${TABLES.main.globalSecondaryIndexes[0].indexName}`],
      }),
    );
    grantPartitionItems(f.qualityPass, main, TABLES.main, ['dynamodb:GetItem'], ['ACCT#', 'QPASS#']);
    grantPartitionItems(f.qualityPass, main, TABLES.main, ['dynamodb:PutItem'], ['QPASS#']);
    grantPartitionItems(f.qualityPass, main, TABLES.main, ['dynamodb:UpdateItem'], ['CALL#']);
    // sweepReservations: list live pilots (the PILOTS registry) and read their counters; end an expired reservation by
    // marking its call's pointer (PutItem/UpdateItem on CALL# partitions: only the RESERVATION item is written) and
    // giving its money back on the counter and day items (UpdateItem on PILOT# partitions). Nothing on the ledger.
    grantTable(f.sweepReservations, main, TABLES.main, ['dynamodb:GetItem', 'dynamodb:Query']);
    grantPartitionItems(f.sweepReservations, main, TABLES.main, ['dynamodb:UpdateItem'], ['PILOT#', 'CALL#']);
    grantPartitionItems(f.sweepReservations, main, TABLES.main, ['dynamodb:PutItem'], ['CALL#']);
  }

  /**
   * cdk-nag findings that are intended, each with its reason. Findings are acknowledged one by one, on the
   * narrowest construct (cdk-nag 3 has no prefix matching), so a new wildcard elsewhere still fails synthesis.
   */
  private acknowledgeNagFindings(config: EnvironmentConfig): void {
    const resource = (r: string) => `AwsSolutions-IAM5[Resource::${r}]`;
    const arnPrefix = (service: string) => `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>`;
    const logicalArn = (c: Construct) => `<${this.getLogicalId(c.node.defaultChild as CfnElement)}.Arn>`;
    const ssmParam = (sub: string) =>
      `${arnPrefix('ssm')}:parameter${config.ssmPrefix}${sub.endsWith('/') ? `${sub}*` : sub}`;

    for (const f of Object.values(this.functions)) {
      Validations.of(f).acknowledge({
        id: resource('*'),
        reason: 'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions.',
      });
    }
    const usesSecrets: [LedgerFunction, string][] = [
      [this.functions.ingestTwilio, TWILIO_SECRETS_PATH],
      [this.functions.voiceTwilio, TWILIO_SECRETS_PATH],
      [this.functions.recordingFetcher, TWILIO_SECRETS_PATH],
      ...CARRIER_SECRETS_PATHS.flatMap((sub) => [
        [this.functions.ingestCarrier, sub] as [LedgerFunction, string],
        [this.functions.voiceCarrier, sub] as [LedgerFunction, string],
        [this.functions.recordingFetcher, sub] as [LedgerFunction, string],
      ]),
    ];
    for (const [f, sub] of usesSecrets) {
      Validations.of(f).acknowledge({
        id: resource(ssmParam(sub)),
        reason:
          'Provider secrets are SSM SecureStrings per customer account (twilio/<accountId>/auth-token, ' +
          'telnyx|vonage|plivo/<accountId>/…); accounts are added at run time, so each grant covers one provider path of this environment only.',
      });
    }
    for (const f of [this.functions.ingestTwilio, this.functions.ingestCarrier, this.functions.ingestNetwork, this.functions.networkSettle, this.functions.voiceTwilio, this.functions.voiceCarrier, this.functions.recordingFetcher, this.functions.ledgerWriter, this.functions.api]) {
      Validations.of(f).acknowledge({
        id: resource(`${arnPrefix('kms')}:key/*`),
        reason:
          'kms:Decrypt for SSM SecureStrings, conditioned on kms:ViaService=ssm.<region>: only usable through SSM ' +
          'GetParameter on the parameters granted above, whichever key encrypts them.',
      });
    }
    Validations.of(this.functions.ledgerWriter).acknowledge({
      id: resource(`${logicalArn(this.storage.buckets.archive)}/raw/*`),
      reason: 'Archive objects are raw/<accountId>/<yyyy>/<mm>/<dd>/<batchId>.jsonl.gz, created per batch: PutObject on the raw/ prefix.',
    });
    Validations.of(this.functions.recordingFetcher).acknowledge({
      id: resource(`${logicalArn(this.storage.buckets.recordings)}/recordings/*`),
      reason: 'Recording objects are recordings/<accountId>/<callId>.<ext>, created per call: PutObject on the prefix.',
    });
    const anchorsArn = logicalArn(this.storage.buckets.anchors);
    Validations.of(this.functions.ledgerSealer).acknowledge({
      id: resource(`${anchorsArn}/anchors/*`),
      reason: 'Anchors are anchors/<accountId>/<seq>.json, one per account and sealer run: PutObject (write-once, If-None-Match) on the prefix.',
    });
    Validations.of(this.functions.api).acknowledge({
      id: resource(`${anchorsArn}/anchors/*`),
      reason: 'GET /v1/ledger/verify reads the newest anchor of the caller\'s account; object keys are per account and seal.',
    });
    Validations.of(this.functions.api).acknowledge({
      id: resource(`${logicalArn(this.storage.buckets.recordings)}/recordings/*`),
      reason: 'The API presigns GETs for any recording of the caller\'s account; object keys are per call.',
    });
  }
}

/** PutObject (and multipart abort, for streamed uploads) under one key prefix. */
function grantObjectWrite(grantee: IGrantable, bucket: Bucket, keyPrefix: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(`${keyPrefix}*`)],
    }),
  );
}

/** GetObject under one key prefix, and ListBucket limited to that prefix. */
function grantObjectRead(grantee: IGrantable, bucket: Bucket, keyPrefix: string): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ effect: Effect.ALLOW, actions: ['s3:GetObject'], resources: [bucket.arnForObjects(`${keyPrefix}*`)] }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({
      effect: Effect.ALLOW,
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${keyPrefix}*`] } },
    }),
  );
}

/** The queue key whose consumer is `fn` (the backlog alarm watches the ledger writer's input). */
function consumedBy(fn: FunctionId): keyof typeof QUEUES {
  const entry = Object.entries(QUEUES).find(([, def]) => def.consumer === fn);
  if (!entry) throw new Error(`no queue in QUEUES is consumed by ${fn}`);
  return entry[0] as keyof typeof QUEUES;
}

function mapValues<K extends string, A, B>(record: Record<K, A>, fn: (a: A) => B): Record<K, B> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v as A)])) as Record<K, B>;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export interface BuiltApp {
  readonly app: App;
  readonly stack: CallLedgerStack;
}

/**
 * Builds the app exactly as `cdk synth` does: resolves `-c env=…` against cdk.json's `environments`, creates the
 * stack, and registers cdk-nag's AwsSolutions checks (synthesis fails on any unacknowledged error).
 * Tests call this with cdk.json's context plus overrides.
 */
export function buildCallLedgerApp(props?: AppProps): BuiltApp {
  const app = new App(props);
  const { envName, config } = resolveEnvironment(app.node);
  const account = config.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const region = config.region ?? process.env.CDK_DEFAULT_REGION;
  const stack = new CallLedgerStack(app, `CallLedger-${envName}`, {
    envName,
    config,
    description: `CallLedger (${envName}): Twilio call events to an append-only DynamoDB ledger`,
    // Without an account/region the stack is environment-agnostic, so synth works offline with no credentials.
    ...(account && region ? { env: { account, region } } : {}),
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
