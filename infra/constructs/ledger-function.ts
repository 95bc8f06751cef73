/**
 * One CallLedger Lambda function with production defaults: Node.js 24 on arm64, an esbuild ESM bundle (minified,
 * tree-shaken, AWS SDK v3 from the runtime), X-Ray tracing, its own log group with retention, and its own role.
 *
 * The role starts EMPTY apart from writing to this function's log group: no AWSLambdaBasicExecutionRole (whose
 * `logs:*` on `*` cdk-nag rightly flags). Every data permission is added explicitly by the stack, so the role's
 * policy reads as the complete list of what the function may do.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ApplicationLogLevel, Architecture, LoggingFormat, Runtime, SystemLogLevel, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUNDLE_OPTIONS, ESM_REQUIRE_BANNER, EXTERNAL_MODULES } from '../bundling';
import type { FunctionDef } from '../resources';

/** Repository root: entries in FUNCTIONS are relative to it; package-lock.json there anchors esbuild. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface LedgerFunctionProps {
  readonly def: FunctionDef;
  /** Physical function name; the log group is `/aws/lambda/<functionName>`. */
  readonly functionName: string;
  readonly environment: Record<string, string>;
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Powertools service name (log key `service`, metric dimension). */
  readonly serviceName: string;
  readonly metricsNamespace: string;
  readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

export class LedgerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LedgerFunctionProps) {
    super(scope, id);
    const { def } = props;

    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `/aws/lambda/${props.functionName}`,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `CallLedger ${def.id}: least-privilege execution role`,
    });
    // The log group is created by this stack, so the function never needs logs:CreateLogGroup.
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new NodejsFunction(this, 'Function', {
      functionName: props.functionName,
      entry: path.join(REPO_ROOT, def.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: def.memoryMb,
      timeout: Duration.seconds(def.timeoutSec),
      tracing: Tracing.ACTIVE,
      role: this.role,
      logGroup: this.logGroup,
      // Powertools writes JSON itself; JSON platform logs keep START/END/REPORT lines parseable alongside. The
      // platform's level filter must equal POWERTOOLS_LOG_LEVEL, else Lambda drops the lines Powertools emits.
      loggingFormat: LoggingFormat.JSON,
      applicationLogLevelV2: ApplicationLogLevel[props.logLevel],
      systemLogLevelV2: SystemLogLevel.INFO,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: props.logLevel,
        // Stack traces point at the TypeScript sources (the .map ships without sourcesContent).
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Same options as infra/bundling.ts (the bench bundles with them too).
        format: OutputFormat.ESM,
        target: BUNDLE_OPTIONS.target,
        mainFields: [...BUNDLE_OPTIONS.mainFields],
        minify: BUNDLE_OPTIONS.minify,
        sourceMap: true,
        sourceMapMode: SourceMapMode.EXTERNAL,
        sourcesContent: BUNDLE_OPTIONS.sourcesContent,
        banner: ESM_REQUIRE_BANNER,
        // The runtime's AWS SDK v3 (see infra/bundling.ts for the trade-off).
        bundleAwsSDK: false,
        externalModules: [...EXTERNAL_MODULES],
        metafile: false,
      },
    });
  }
}
