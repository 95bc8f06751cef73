/**
 * The synthesised CloudFormation template against infra/resources.ts, the append-only IAM guarantee, and cdk-nag.
 *
 * Bundling is skipped (`aws:cdk:bundling-stacks: []`), so these tests need no esbuild run; the context is cdk.json's
 * own, so the flags and environments are the ones `cdk synth` uses.
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveEnvironment } from '../../../infra/constructs/environment-config';
import { ALARMED_METRICS, BUCKETS, ENV, FUNCTIONS, QUEUES, STREAMS, TABLES, physicalName, type BucketDef } from '../../../infra/resources';
import { ROUTES } from '../../../infra/routes';
import { HOLD_VALUE, RECORDING_RETENTION_DAYS } from '../../../shared/domain/recordings/retention';
import { CallLedgerStack, VOICE_SLOW_ANSWER_ALARM_MS, buildCallLedgerApp } from '../../../infra/stack';
import { FAIL_SAFE_LOG_MESSAGE } from '../../../shared/app/routing/voice-log';

type Json = Record<string, any>;

const CDK_JSON = JSON.parse(readFileSync(new URL('../../../cdk.json', import.meta.url), 'utf8')) as Json;
const ENVIRONMENTS = Object.keys(CDK_JSON.context.environments);
const DEV = CDK_JSON.context.environments.dev as Json;

function context(env: string, overrides: Json = {}): Json {
  return { ...CDK_JSON.context, env, 'aws:cdk:bundling-stacks': [], ...overrides };
}

interface Synth {
  readonly stack: CallLedgerStack;
  readonly json: Json;
  readonly template: Template;
  readonly validationReport: Json;
}

/** Synthesises through buildCallLedgerApp, i.e. with the cdk-nag plugin registered exactly as in infra/app.ts. */
function synthApp(env: string, overrides: Json = {}): Synth {
  const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-cdk-'));
  const { app, stack } = buildCallLedgerApp({ outdir, context: context(env, overrides) });
  const assembly = app.synth();
  const json = assembly.getStackArtifact(stack.artifactId).template as Json;
  const validationReport = JSON.parse(readFileSync(path.join(assembly.directory, 'validation-report.json'), 'utf8'));
  return { stack, json, template: Template.fromJSON(json), validationReport };
}

const cache = new Map<string, Synth>();
function synth(env: string): Synth {
  let s = cache.get(env);
  if (!s) {
    s = synthApp(env);
    cache.set(env, s);
  }
  return s;
}

/** A stack without the cdk-nag plugin, for deliberately broken variants (nag would stop their synthesis first). */
function bareStack(env = 'dev'): CallLedgerStack {
  const app = new App({ outdir: mkdtempSync(path.join(tmpdir(), 'callledger-cdk-')), context: context(env) });
  const { envName, config } = resolveEnvironment(app.node);
  return new CallLedgerStack(app, `CallLedger-${envName}`, { envName, config });
}

const resources = (json: Json, type: string): [string, Json][] =>
  Object.entries(json.Resources as Json).filter(([, r]) => r.Type === type) as [string, Json][];

// ---------------------------------------------------------------------------------------------------------------
// The append-only checker: every Allow statement in every identity policy, resolved against the ledger table.
// ---------------------------------------------------------------------------------------------------------------

const LEDGER_FORBIDDEN = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];
const SAMPLE = { partition: 'aws', region: 'us-east-1', account: '111111111111' };
/** Managed policies a role may carry without review: CloudWatch Logs only. */
const ALLOWED_MANAGED_POLICIES = [/:iam::aws:policy\/service-role\/AWSLambdaBasicExecutionRole$/];

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');

/** Renders an intrinsic to a string; references to other resources become an inert placeholder. */
function render(value: unknown, ledgerId: string, ledgerArn: string, ledgerName: string): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v) => render(v, ledgerId, ledgerArn, ledgerName)).join(',');
  const v = value as Json;
  if (v.Ref !== undefined) {
    if (v.Ref === ledgerId) return ledgerName;
    return (
      { 'AWS::Partition': SAMPLE.partition, 'AWS::Region': SAMPLE.region, 'AWS::AccountId': SAMPLE.account }[
        v.Ref as string
      ] ?? `«ref:${v.Ref}»`
    );
  }
  if (v['Fn::GetAtt'] !== undefined) {
    const [id, attr] = v['Fn::GetAtt'] as [string, string];
    return id === ledgerId && attr === 'Arn' ? ledgerArn : `«getatt:${id}.${attr}»`;
  }
  if (v['Fn::Join'] !== undefined) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map((p) => render(p, ledgerId, ledgerArn, ledgerName)).join(sep);
  }
  if (v['Fn::Sub'] !== undefined) {
    const template = (Array.isArray(v['Fn::Sub']) ? v['Fn::Sub'][0] : v['Fn::Sub']) as string;
    return template.replace(/\$\{([^}]+)\}/g, (_m, ref: string) => {
      const [id, attr] = ref.split('.');
      return attr ? render({ 'Fn::GetAtt': [id, attr] }, ledgerId, ledgerArn, ledgerName) : render({ Ref: id }, ledgerId, ledgerArn, ledgerName);
    });
  }
  return `«${JSON.stringify(v)}»`;
}

interface Finding {
  readonly where: string;
  readonly actions: string[];
}

/**
 * Finds every way the template lets an identity UpdateItem/DeleteItem/BatchWriteItem/PartiQL-update/delete on the
 * ledger table or its indexes: explicit actions, wildcards (`dynamodb:*`, `dynamodb:Update*`, `*`), NotAction,
 * resources given as GetAtt/Ref/Join/Sub or as wildcard ARNs, NotResource, and unreviewed managed policies.
 */
function ledgerMutationGrants(json: Json): Finding[] {
  const tables = resources(json, 'AWS::DynamoDB::Table');
  const ledger = tables.find(([, r]) => r.Properties.TableName === physicalName(currentPrefix(json), TABLES.ledger.id));
  if (!ledger) throw new Error('ledger table not found in template');
  const [ledgerId, ledgerRes] = ledger;
  const ledgerName = ledgerRes.Properties.TableName as string;
  const ledgerArn = `arn:${SAMPLE.partition}:dynamodb:${SAMPLE.region}:${SAMPLE.account}:table/${ledgerName}`;
  const ledgerTargets = [ledgerArn, `${ledgerArn}/index/any-index`, `${ledgerArn}/stream/2026-01-01T00:00:00.000`];

  const hitsLedger = (resource: unknown): boolean => {
    const rendered = render(resource, ledgerId, ledgerArn, ledgerName);
    const re = globToRegExp(rendered);
    // A wildcard that matches the ledger, the ledger itself, anything under it (indexes, streams), or its name.
    return (
      ledgerTargets.some((t) => re.test(t)) || rendered.startsWith(`${ledgerArn}/`) || rendered === ledgerName
    );
  };
  const grantedForbidden = (st: Json): string[] => {
    if (st.NotAction !== undefined) {
      const excluded = ([] as string[]).concat(st.NotAction).map(globToRegExp);
      return LEDGER_FORBIDDEN.filter((a) => !excluded.some((re) => re.test(a)));
    }
    const patterns = ([] as string[]).concat(st.Action ?? []).map(globToRegExp);
    return LEDGER_FORBIDDEN.filter((a) => patterns.some((re) => re.test(a)));
  };
  const coversLedger = (st: Json): boolean => {
    if (st.NotResource !== undefined) return !([] as unknown[]).concat(st.NotResource).some(hitsLedger);
    return ([] as unknown[]).concat(st.Resource ?? []).some(hitsLedger);
  };

  const findings: Finding[] = [];
  const checkDocument = (where: string, doc: Json | undefined) => {
    for (const st of ([] as Json[]).concat(doc?.Statement ?? [])) {
      if (st.Effect !== 'Allow') continue;
      const actions = grantedForbidden(st);
      if (actions.length > 0 && coversLedger(st)) findings.push({ where, actions });
    }
  };
  for (const [id, r] of Object.entries(json.Resources as Json)) {
    const p = (r as Json).Properties ?? {};
    switch ((r as Json).Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        checkDocument(id, p.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
      case 'AWS::IAM::User':
      case 'AWS::IAM::Group':
        for (const inline of p.Policies ?? []) checkDocument(`${id}/${inline.PolicyName}`, inline.PolicyDocument);
        for (const arn of p.ManagedPolicyArns ?? []) {
          const rendered = render(arn, '', '', '');
          if (!ALLOWED_MANAGED_POLICIES.some((re) => re.test(rendered))) {
            findings.push({ where: `${id} managed policy ${rendered}`, actions: ['(unreviewed managed policy)'] });
          }
        }
        break;
      case 'AWS::DynamoDB::Table':
        if (id === ledgerId) checkDocument(`${id} resource policy`, p.ResourcePolicy?.PolicyDocument);
        break;
    }
  }
  return findings;
}

function currentPrefix(json: Json): string {
  // The prefix is the part of the main table's name before `-main`.
  const main = resources(json, 'AWS::DynamoDB::Table')
    .map(([, r]) => r.Properties.TableName as string)
    .find((n) => n.endsWith(`-${TABLES.main.id.toLowerCase()}`));
  if (!main) throw new Error('main table not found');
  return main.slice(0, -`-${TABLES.main.id.toLowerCase()}`.length);
}

// ---------------------------------------------------------------------------------------------------------------

describe('CDK stack: resources from infra/resources.ts', () => {
  it('creates exactly the tables in TABLES with their keys, indexes, TTL, PITR, on-demand billing and SSE', () => {
    const { template } = synth('dev');
    template.resourceCountIs('AWS::DynamoDB::Table', Object.keys(TABLES).length);
    for (const def of Object.values(TABLES)) {
      const gsis = def.globalSecondaryIndexes.map((i) => ({
        IndexName: i.indexName,
        KeySchema: [
          { AttributeName: i.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: i.sortKey.name, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: ('projection' in i ? i.projection : undefined) ?? 'ALL' },
      }));
      const ttl = 'timeToLiveAttribute' in def ? def.timeToLiveAttribute : undefined;
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: physicalName(DEV.resourcePrefix, def.id),
        KeySchema: [
          { AttributeName: def.partitionKey.name, KeyType: 'HASH' },
          { AttributeName: def.sortKey.name, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: def.partitionKey.name, AttributeType: def.partitionKey.type },
          { AttributeName: def.sortKey.name, AttributeType: def.sortKey.type },
        ]),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        GlobalSecondaryIndexes: gsis.length > 0 ? gsis : Match.absent(),
        TimeToLiveSpecification: ttl ? { AttributeName: ttl, Enabled: true } : Match.absent(),
      });
    }
  });

  it('creates each queue in QUEUES with its attributes and a DLQ after maxReceiveCount, SSE and TLS-only', () => {
    const { stack, template } = synth('dev');
    // Each work queue and its DLQ, plus one failure DLQ per table stream (STREAMS: test/unit/reports/aggregates-cdk.unit.test.ts).
    template.resourceCountIs('AWS::SQS::Queue', Object.keys(QUEUES).length * 2 + Object.keys(STREAMS).length);
    for (const [key, def] of Object.entries(QUEUES)) {
      const { queue, dlq } = stack.queues.queues[key as keyof typeof QUEUES];
      const name = physicalName(DEV.resourcePrefix, def.id);
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: name,
        VisibilityTimeout: def.visibilityTimeoutSec,
        MessageRetentionPeriod: def.retentionPeriodSec,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: stack.resolve(dlq.queueArn), maxReceiveCount: def.maxReceiveCount },
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `${name}-dlq`,
        MessageRetentionPeriod: def.dlqRetentionPeriodSec,
        SqsManagedSseEnabled: true,
      });
      for (const q of [queue, dlq]) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [stack.resolve(q.queueUrl)],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        });
      }
    }
  });

  it('feeds each queue to its consumer with batch size, batching window and partial batch failure reporting', () => {
    const { stack, template } = synth('dev');
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', Object.keys(QUEUES).length + Object.keys(STREAMS).length);
    for (const [key, def] of Object.entries(QUEUES)) {
      const { queue } = stack.queues.queues[key as keyof typeof QUEUES];
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: stack.resolve(queue.queueArn),
        FunctionName: stack.resolve(stack.functions[def.consumer].fn.functionName),
        BatchSize: def.batchSize,
        MaximumBatchingWindowInSeconds: def.maxBatchingWindowSec > 0 ? def.maxBatchingWindowSec : Match.absent(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      });
    }
  });

  it('makes every bucket private, TLS-only and encrypted; logs access; versions recordings; applies BUCKETS lifecycles', () => {
    const { stack, template, json } = synth('dev');
    const buckets = resources(json, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(Object.keys(BUCKETS).length + 1); // + the access-log bucket
    for (const [id, b] of buckets) {
      expect(b.Properties.PublicAccessBlockConfiguration, id).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration, id).toEqual([
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    for (const [key, def] of Object.entries(BUCKETS)) {
      const bucket = stack.storage.buckets[key as keyof typeof BUCKETS];
      const props = (json.Resources[stack.getLogicalId(bucket.node.defaultChild as CfnElement)] as Json).Properties;
      expect(props.LoggingConfiguration.DestinationBucketName).toEqual(stack.resolve(stack.storage.accessLogs.bucketName));
      if (key === 'recordings') expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
      for (const rule of def.lifecycle as readonly BucketDef['lifecycle'][number][]) {
        expect(props.LifecycleConfiguration.Rules).toContainEqual(
          expect.objectContaining({
            Prefix: rule.prefix,
            Status: 'Enabled',
            ExpirationInDays: rule.expireDays,
            ...(rule.transitionToIaDays !== undefined ? { Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: rule.transitionToIaDays }] } : {}),
            ...(rule.tags !== undefined ? { TagFilters: Object.entries(rule.tags).map(([Key, Value]) => ({ Key, Value })) } : {}),
          }),
        );
      }
    }
  });

  it('expires recordings per retention class by their expiry tag, and no rule selects held ones', () => {
    const { stack, json } = synth('dev');
    const bucket = stack.storage.buckets.recordings;
    const rules = ((json.Resources[stack.getLogicalId(bucket.node.defaultChild as CfnElement)] as Json).Properties.LifecycleConfiguration.Rules) as Json[];
    const tagged = rules.filter((r) => r.TagFilters !== undefined);
    expect(tagged.map((r) => [r.Prefix, r.TagFilters, r.ExpirationInDays, r.Status]).sort((a, b) => Number(a[2]) - Number(b[2]))).toEqual(
      RECORDING_RETENTION_DAYS.map((days) => ['recordings/', [{ Key: 'expiry', Value: `d${days}` }], days, 'Enabled']),
    );
    // The only rules without a tag filter act on noncurrent versions or incomplete uploads, never on a current
    // recording: a recording tagged expiry=hold (or untagged) is never expired.
    for (const r of rules.filter((x) => x.TagFilters === undefined)) {
      expect(r.ExpirationInDays, JSON.stringify(r)).toBeUndefined();
      expect(r.ExpirationDate).toBeUndefined();
    }
    expect(JSON.stringify(rules)).not.toContain(`"${HOLD_VALUE}"`);
  });

  it('routes exactly ROUTES to their functions through payload v2 Lambda integrations', () => {
    const { stack, json } = synth('dev');
    const routes = resources(json, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const integrations = Object.fromEntries(resources(json, 'AWS::ApiGatewayV2::Integration'));
    for (const route of ROUTES) {
      const [, r] = routes.find(([, x]) => x.Properties.RouteKey === `${route.method} ${route.path}`)!;
      const integrationId = (r.Properties.Target['Fn::Join'][1][1] as Json).Ref as string;
      const integration = integrations[integrationId]!.Properties;
      expect(integration.IntegrationType).toBe('AWS_PROXY');
      expect(integration.PayloadFormatVersion).toBe('2.0');
      expect(integration.IntegrationUri).toEqual(stack.resolve(stack.functions[route.fn].fn.functionArn));
    }
  });

  it('serves the $default stage with auto-deploy, JSON access logs and throttling', () => {
    const { template } = synth('dev');
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: DEV.apiThrottle.rateLimit, ThrottlingBurstLimit: DEV.apiThrottle.burstLimit },
    });
  });

  it('runs every function in FUNCTIONS on Node.js 24, arm64, with tracing, its own log group and all ENV names', () => {
    const { stack, template, json } = synth('dev');
    for (const def of Object.values(FUNCTIONS)) {
      const { fn, logGroup } = stack.functions[def.id];
      const props = (json.Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)] as Json).Properties;
      expect(props).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        MemorySize: def.memoryMb,
        Timeout: def.timeoutSec,
        Handler: 'index.handler',
        LoggingConfig: { LogFormat: 'JSON', LogGroup: stack.resolve(logGroup.logGroupName) },
      });
      const vars = props.Environment.Variables as Json;
      for (const name of Object.values(ENV)) expect(vars[name], `${def.id} ${name}`).toBeDefined();
      expect(vars).toMatchObject({
        CALLER_HASH_KEY_REF: `ssm:${DEV.ssmPrefix}caller-hash-key`,
        SECRETS_REF: `ssm:${DEV.ssmPrefix}`,
        RECORDING_URL_ALLOWED_HOSTS: DEV.recordingUrlAllowedHosts.join(','),
        POWERTOOLS_SERVICE_NAME: `callledger-${def.id}`,
        POWERTOOLS_METRICS_NAMESPACE: 'CallLedger',
      });
      template.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/lambda/${props.FunctionName}`,
        RetentionInDays: DEV.logRetentionDays,
      });
    }
  });

  it('points PUBLIC_BASE_URL at the API endpoint without a dependency cycle, or at the configured domain', () => {
    const { stack, json } = synth('dev');
    const apiEndpoint = stack.resolve(stack.publicApi.api.apiEndpoint);
    expect(apiEndpoint).toEqual({ 'Fn::GetAtt': [expect.any(String), 'ApiEndpoint'] });
    for (const [, fn] of resources(json, 'AWS::Lambda::Function')) {
      if (fn.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === undefined) continue;
      expect(fn.Properties.Environment.Variables.PUBLIC_BASE_URL).toEqual(apiEndpoint);
    }
    // Template.fromJSON rejects templates with cyclic Ref/GetAtt/DependsOn chains; check it explicitly.
    expect(() => Template.fromJSON(json)).not.toThrow();

    const custom = synthApp('dev', {
      environments: {
        ...CDK_JSON.context.environments,
        dev: { ...DEV, publicBaseUrl: 'https://hooks.example.com' },
      },
    });
    custom.template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: physicalName(DEV.resourcePrefix, 'ingest-twilio'),
      Environment: { Variables: Match.objectLike({ PUBLIC_BASE_URL: 'https://hooks.example.com' }) },
    });
  });

  it('alarms on every DLQ, API 5xx, each function\'s errors and the ingest backlog, all to the SNS topic', () => {
    const { stack, json } = synth('dev');
    const topic = stack.resolve(stack.alarms.topic.topicArn);
    const alarms = resources(json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const a of alarms) expect(a.AlarmActions).toEqual([topic]);
    const has = (metric: string, dims: Json) =>
      alarms.some((a) => a.MetricName === metric && JSON.stringify(a.Dimensions).includes(JSON.stringify(dims)));
    for (const { dlq } of Object.values(stack.queues.queues)) {
      expect(has('ApproximateNumberOfMessagesVisible', stack.resolve(dlq.queueName))).toBe(true);
    }
    expect(has('5xx', stack.resolve(stack.publicApi.api.apiId))).toBe(true);
    for (const { fn } of Object.values(stack.functions)) {
      expect(has('Errors', stack.resolve(fn.functionName))).toBe(true);
    }
    expect(has('ApproximateAgeOfOldestMessage', stack.resolve(stack.queues.queues.ingest.queue.queueName))).toBe(true);
  });

  it('lets the api read the ingest queue\'s attributes for GET /health, and nothing else of it', () => {
    const { stack, json } = synth('dev');
    const queueArn = stack.resolve(stack.queues.queues.ingest.queue.queueArn);
    const apiRole = stack.resolve(stack.functions.api.role.roleName);
    const statements = resources(json, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(JSON.stringify(apiRole)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
    const onQueue = statements.filter((st) => JSON.stringify(st.Resource).includes(JSON.stringify(queueArn)));
    expect(onQueue.map((st) => st.Action)).toEqual(['sqs:GetQueueAttributes']);
  });

  it('alarms on the first event refused because its call belongs to another account (the writer\'s CallAccountConflict metric)', () => {
    const { stack, json } = synth('dev');
    const alarms = resources(json, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => a.MetricName === ALARMED_METRICS.callAccountConflict);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({
      Namespace: ALARMED_METRICS.namespace,
      // Exactly the dimensions the EMF line carries (test/int/calls/call-account-conflict.int.test.ts reads them back).
      Dimensions: [{ Name: 'service', Value: ALARMED_METRICS.service }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [stack.resolve(stack.alarms.topic.topicArn)],
    });
  });
});

describe('CDK stack: the voice functions\' alarms', () => {
  it('counts fail-safe answers from each voice function\'s log line and pages on the first, and on a slow p99', () => {
    const { stack, json } = synth('dev');
    const topic = stack.resolve(stack.alarms.topic.topicArn);
    const filters = resources(json, 'AWS::Logs::MetricFilter').map(([, f]) => f.Properties);
    const alarms = resources(json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    for (const fn of ['voiceTwilio', 'voiceCarrier'] as const) {
      const logGroup = stack.resolve(stack.functions[fn].logGroup.logGroupName);
      const filter = filters.find((f) => JSON.stringify(f.LogGroupName) === JSON.stringify(logGroup));
      expect(filter, fn).toBeDefined();
      expect(filter!.FilterPattern).toBe(`{ $.message = "${FAIL_SAFE_LOG_MESSAGE}" }`);
      const metricName = filter!.MetricTransformations[0].MetricName;
      expect(alarms.find((a) => a.MetricName === metricName)).toMatchObject({ Statistic: 'Sum', Threshold: 1, EvaluationPeriods: 1, AlarmActions: [topic], TreatMissingData: 'notBreaching' });
      const slow = alarms.find((a) => a.MetricName === 'Duration' && JSON.stringify(a.Dimensions).includes(JSON.stringify(stack.resolve(stack.functions[fn].fn.functionName))));
      expect(slow, fn).toMatchObject({ ExtendedStatistic: 'p99', Threshold: VOICE_SLOW_ANSWER_ALARM_MS, EvaluationPeriods: 3, AlarmActions: [topic] });
    }
  });
});

describe('CDK stack: the ledger table is append-only in IAM', () => {
  it.each(ENVIRONMENTS)('%s: no policy grants UpdateItem/DeleteItem/BatchWriteItem/PartiQL update or delete on the ledger', (env) => {
    expect(ledgerMutationGrants(synth(env).json)).toEqual([]);
  });

  it('the ledger writer appends only inside TransactWriteItems', () => {
    const { stack, template } = synth('dev');
    const ledgerArn = stack.resolve(stack.data.tables.ledger.tableArn);
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [stack.resolve(stack.functions.ledgerWriter.role.roleName)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Action: ['dynamodb:ConditionCheckItem', 'dynamodb:PutItem'],
            Resource: ledgerArn,
            Condition: { 'ForAnyValue:StringEquals': { 'dynamodb:EnclosingOperation': ['TransactWriteItems'] } },
          },
        ]),
      },
    });
  });

  it('the checker finds an L2 grantReadWriteData on the ledger', () => {
    const stack = bareStack();
    stack.data.tables.ledger.grantReadWriteData(stack.functions.api.fn);
    const findings = ledgerMutationGrants(Template.fromStack(stack).toJSON());
    expect(findings.map((f) => f.actions)).toContainEqual(
      expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']),
    );
  });

  it.each([
    ['dynamodb:* on every table', ['dynamodb:*'], ['arn:aws:dynamodb:*:*:table/*']],
    ['Update* on an index of the ledger', ['dynamodb:Update*'], ['LEDGER/index/x']],
    ['PartiQLDelete on the ledger by name', ['dynamodb:PartiQLDelete'], [`arn:aws:dynamodb:us-east-1:111111111111:table/${physicalName(DEV.resourcePrefix, TABLES.ledger.id)}`]],
    ['* on *', ['*'], ['*']],
  ])('the checker finds %s', (_name, actions, resourcesIn) => {
    const stack = bareStack();
    const ledgerArn = stack.data.tables.ledger.tableArn;
    stack.functions.recordingFetcher.fn.addToRolePolicy(
      new PolicyStatement({ actions, resources: resourcesIn.map((r) => r.replace('LEDGER', ledgerArn)) }),
    );
    expect(ledgerMutationGrants(Template.fromStack(stack).toJSON())).not.toEqual([]);
  });

  it('the checker ignores mutating grants on other tables and reads on the ledger', () => {
    const stack = bareStack();
    stack.data.tables.main.grantReadWriteData(stack.functions.api.fn);
    stack.data.tables.ledger.grantReadData(stack.functions.api.fn);
    expect(ledgerMutationGrants(Template.fromStack(stack).toJSON())).toEqual([]);
  });

  it('the grant helper refuses mutating actions on an append-only table at synth time', async () => {
    const { grantTable } = await import('../../../infra/constructs/permissions');
    const stack = bareStack();
    expect(() =>
      grantTable(stack.functions.api.fn, stack.data.tables.ledger, TABLES.ledger, ['dynamodb:GetItem', 'dynamodb:UpdateItem']),
    ).toThrow(/append-only: refusing to grant dynamodb:UpdateItem/);
  });
});

describe('CDK stack: environments, retention and cdk-nag', () => {
  it.each(ENVIRONMENTS)('%s synthesises with zero unacknowledged cdk-nag AwsSolutions findings', (env) => {
    const { validationReport } = synth(env);
    const open = (validationReport.pluginReports as Json[]).flatMap((p) =>
      (p.violations as Json[]).filter((v) => v.severity === 'error' || v.severity === 'fatal' || v.severity === 'warning'),
    );
    expect(open).toEqual([]);
  });

  it('cdk-nag is active in buildCallLedgerApp: an unacknowledged finding fails synthesis', () => {
    const outdir = mkdtempSync(path.join(tmpdir(), 'callledger-cdk-'));
    const { app, stack } = buildCallLedgerApp({ outdir, context: context('dev') });
    new Bucket(stack, 'CarelessBucket'); // no TLS policy, no access logs
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
  });

  it('prod retains tables, buckets and logs and turns on deletion protection', () => {
    const { json } = synth('prod');
    for (const [id, t] of resources(json, 'AWS::DynamoDB::Table')) {
      expect(t.DeletionPolicy, id).toBe('Retain');
      expect(t.UpdateReplacePolicy, id).toBe('Retain');
      expect(t.Properties.DeletionProtectionEnabled, id).toBe(true);
      expect(t.Properties.PointInTimeRecoverySpecification, id).toEqual({ PointInTimeRecoveryEnabled: true });
    }
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup']) {
      for (const [id, r] of resources(json, type)) expect(r.DeletionPolicy, id).toBe('Retain');
    }
    // No auto-delete custom resource (and so no extra function) in prod.
    expect(resources(json, 'AWS::Lambda::Function')).toHaveLength(Object.keys(FUNCTIONS).length);
  });

  it('dev may be destroyed: no deletion protection, Delete policies', () => {
    const { json } = synth('dev');
    for (const [id, t] of resources(json, 'AWS::DynamoDB::Table')) {
      expect(t.DeletionPolicy, id).toBe('Delete');
      expect(t.Properties.DeletionProtectionEnabled, id).toBe(false);
    }
  });

  it('rejects an unknown environment, listing the valid ones', () => {
    expect(() => buildCallLedgerApp({ context: context('qa') })).toThrow(
      `unknown environment "qa": pass -c env=<name> with one of ${ENVIRONMENTS.join(', ')}`,
    );
  });

  it('rejects an invalid environment entry, naming the field', () => {
    const environments = {
      ...CDK_JSON.context.environments,
      staging: { ...CDK_JSON.context.environments.staging, logRetentionDays: 31, ssmPrefix: 'callledger/staging' },
    };
    expect(() => buildCallLedgerApp({ context: context('staging', { environments }) })).toThrow(
      /environments\.staging: logRetentionDays: .*; ssmPrefix: /,
    );
  });

  it('refuses a prod that would not retain data', () => {
    const environments = {
      ...CDK_JSON.context.environments,
      prod: { ...CDK_JSON.context.environments.prod, removalPolicy: 'destroy' },
    };
    expect(() => buildCallLedgerApp({ context: context('prod', { environments }) })).toThrow(/must set removalPolicy "retain"/);
  });

  it('uses the stack name CallLedger-<env> and tags resources with app and env', () => {
    for (const env of ENVIRONMENTS) {
      const { stack, json } = synth(env);
      expect(stack.stackName).toBe(`CallLedger-${env}`);
      for (const type of ['AWS::DynamoDB::Table', 'AWS::Lambda::Function', 'AWS::SQS::Queue', 'AWS::S3::Bucket']) {
        // CDK's own auto-delete provider (dev buckets) is a raw CfnResource that tags do not reach.
        for (const [id, r] of resources(json, type).filter(([id]) => !id.startsWith('CustomS3AutoDeleteObjects'))) {
          expect(r.Properties.Tags, id).toEqual(
            expect.arrayContaining([
              { Key: 'app', Value: 'callledger' },
              { Key: 'env', Value: env },
            ]),
          );
        }
      }
    }
  });
});

describe('CDK stack: the ledger sealer (tamper evidence)', () => {
  /** Every statement of the identity policies attached to `role`. */
  const statementsOf = (json: Json, roleRef: unknown): Json[] =>
    resources(json, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(JSON.stringify(roleRef)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);

  it('indexes the ledger by (accountId, createdAt), keys only', () => {
    const { template } = synth('dev');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: physicalName(DEV.resourcePrefix, TABLES.ledger.id),
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: 'accountId', AttributeType: 'S' },
        { AttributeName: 'createdAt', AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byCreatedAt',
          KeySchema: [
            { AttributeName: 'accountId', KeyType: 'HASH' },
            { AttributeName: 'createdAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('invokes the sealer hourly through EventBridge Scheduler, with a role that may invoke only the scheduled functions', () => {
    const { stack, template, json } = synth('dev');
    const sealerArn = stack.resolve(stack.functions.ledgerSealer.fn.functionArn);
    const schedules = resources(json, 'AWS::Scheduler::Schedule').filter(([, r]) => JSON.stringify(r.Properties.Target.Arn) === JSON.stringify(sealerArn));
    expect(schedules).toHaveLength(1);
    expect(schedules[0]![1].Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: sealerArn, RoleArn: stack.resolve(stack.schedules.role.roleArn), RetryPolicy: { MaximumEventAgeInSeconds: 3600 } },
    });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ],
      },
    });
    // lambda:InvokeFunction on the scheduled functions (FUNCTIONS[*].schedule) and nothing else.
    const scheduled = Object.values(FUNCTIONS).filter((def) => 'schedule' in def);
    expect(scheduled.map((def) => def.id)).toContain('ledgerSealer');
    const invoke = statementsOf(json, stack.resolve(stack.schedules.role.roleName));
    expect(invoke.map((st) => [st.Effect, st.Action, st.Condition])).toEqual(invoke.map(() => ['Allow', 'lambda:InvokeFunction', undefined]));
    const invoked = invoke.flatMap((st) => ([] as unknown[]).concat(st.Resource)).map((r) => JSON.stringify(r));
    const expected = scheduled.flatMap((def) => {
      const arn = stack.resolve(stack.functions[def.id].fn.functionArn);
      return [arn, { 'Fn::Join': ['', [arn, ':*']] }];
    });
    expect(invoked.sort()).toEqual(expected.map((r) => JSON.stringify(r)).sort());
    expect(FUNCTIONS.ledgerSealer.schedule.rateMinutes).toBe(60);
  });

  it('gives the sealer exactly: Query on gsi1 (accounts), Query + BatchGetItem on the ledger and byCreatedAt, PutItem under SEAL# only, PutObject on anchors/', () => {
    const { stack, json } = synth('dev');
    const mainArn = stack.resolve(stack.data.tables.main.tableArn);
    const ledgerArn = stack.resolve(stack.data.tables.ledger.tableArn);
    const anchorsArn = stack.resolve(stack.storage.buckets.anchors.bucketArn);
    const data = statementsOf(json, stack.resolve(stack.functions.ledgerSealer.role.roleName)).filter((st) =>
      ([] as string[]).concat(st.Action).some((a) => a.startsWith('dynamodb:') || a.startsWith('s3:')),
    );
    expect(data).toEqual([
      { Action: 'dynamodb:Query', Effect: 'Allow', Resource: { 'Fn::Join': ['', [mainArn, '/index/gsi1']] } },
      { Action: ['dynamodb:BatchGetItem', 'dynamodb:Query'], Effect: 'Allow', Resource: [ledgerArn, { 'Fn::Join': ['', [ledgerArn, '/index/byCreatedAt']] }] },
      {
        Action: 'dynamodb:PutItem',
        Effect: 'Allow',
        Resource: ledgerArn,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['SEAL#*'] }, Null: { 'dynamodb:LeadingKeys': 'false' } },
      },
      { Action: 's3:PutObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [anchorsArn, '/anchors/*']] } },
    ]);
  });

  it('keeps anchors in a retained, versioned Object Lock bucket that refuses overwrites; nobody may bypass or shorten the lock', () => {
    const { stack, template, json } = synth('dev');
    const id = stack.getLogicalId(stack.storage.buckets.anchors.node.defaultChild as CfnElement);
    const bucket = json.Resources[id] as Json;
    expect(bucket.DeletionPolicy).toBe('Retain'); // even in dev, whose other buckets are destroyed
    expect(bucket.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: BUCKETS.anchors.objectLock.retentionDays } } },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:PutObject', Principal: { AWS: '*' }, Condition: { Null: { 's3:if-none-match': 'true' } } }),
        ]),
      },
    });
    const dangerous = /^s3:(\*|BypassGovernanceRetention|PutObjectRetention|PutObjectLegalHold|PutBucketObjectLockConfiguration|DeleteObject\w*|PutBucketPolicy|DeleteBucketPolicy)$/;
    for (const [pid, p] of resources(json, 'AWS::IAM::Policy')) {
      for (const st of p.Properties.PolicyDocument.Statement as Json[]) {
        const actions = ([] as string[]).concat(st.Action);
        if (JSON.stringify(st.Resource).includes(id)) expect(actions.filter((a) => dangerous.test(a)), pid).toEqual([]);
      }
    }
  });

  it('lets the API read anchors (GET /v1/ledger/verify) under anchors/ only', () => {
    const { stack, json } = synth('dev');
    const anchorsArn = stack.resolve(stack.storage.buckets.anchors.bucketArn);
    // CDK merges statements that differ only by resource: compare (action, resource, condition) triples.
    const onAnchors = statementsOf(json, stack.resolve(stack.functions.api.role.roleName)).flatMap((st) =>
      ([] as unknown[])
        .concat(st.Resource)
        .filter((r) => JSON.stringify(r).includes(JSON.stringify(anchorsArn)))
        .flatMap((r) => ([] as string[]).concat(st.Action).map((a) => ({ action: a, resource: r, condition: st.Condition }))),
    );
    expect(onAnchors).toEqual([
      { action: 's3:GetObject', resource: { 'Fn::Join': ['', [anchorsArn, '/anchors/*']] }, condition: undefined },
      { action: 's3:ListBucket', resource: anchorsArn, condition: { StringLike: { 's3:prefix': ['anchors/*'] } } },
    ]);
  });
});

describe('CDK stack: the cross-call quality pass', () => {
  const statementsOf = (json: Json, roleRef: unknown): Json[] =>
    resources(json, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(JSON.stringify(roleRef)))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);

  it('runs hourly through EventBridge Scheduler, with the scheduled functions\' invoke role', () => {
    const { stack, json } = synth('dev');
    const arn = stack.resolve(stack.functions.qualityPass.fn.functionArn);
    const schedules = resources(json, 'AWS::Scheduler::Schedule').filter(([, r]) => JSON.stringify(r.Properties.Target.Arn) === JSON.stringify(arn));
    expect(schedules).toHaveLength(1);
    expect(schedules[0]![1].Properties).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: arn, RoleArn: stack.resolve(stack.schedules.role.roleArn), RetryPolicy: { MaximumEventAgeInSeconds: 3600 } },
    });
    expect(FUNCTIONS.qualityPass.schedule.rateMinutes).toBe(60);
  });

  it('may only: Query gsi1, GetItem on ACCT#/QPASS#, PutItem on QPASS#, UpdateItem on CALL# — nothing on the ledger', () => {
    const { stack, json } = synth('dev');
    const mainArn = stack.resolve(stack.data.tables.main.tableArn);
    const ledgerArn = stack.resolve(stack.data.tables.ledger.tableArn);
    const leading = (prefixes: string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes }, Null: { 'dynamodb:LeadingKeys': 'false' } });
    const data = statementsOf(json, stack.resolve(stack.functions.qualityPass.role.roleName)).filter((st) =>
      ([] as string[]).concat(st.Action).some((a) => a.startsWith('dynamodb:') || a.startsWith('s3:') || a.startsWith('kms:')),
    );
    expect(data).toEqual([
      { Action: 'dynamodb:Query', Effect: 'Allow', Resource: { 'Fn::Join': ['', [mainArn, '/index/gsi1']] } },
      { Action: 'dynamodb:GetItem', Effect: 'Allow', Resource: mainArn, Condition: leading(['ACCT#*', 'QPASS#*']) },
      { Action: 'dynamodb:PutItem', Effect: 'Allow', Resource: mainArn, Condition: leading(['QPASS#*']) },
      { Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: mainArn, Condition: leading(['CALL#*']) },
    ]);
    expect(JSON.stringify(data)).not.toContain(JSON.stringify(ledgerArn));
  });
});
