/**
 * The public HTTP API (API Gateway v2): one route per entry in ROUTES, each a Lambda proxy integration with
 * payload format 2.0, an explicit `$default` stage with JSON access logs and throttling.
 *
 * No API Gateway authorizer on purpose: webhooks are authenticated by their X-Twilio-Signature (HMAC over the
 * public URL and parameters, verified in the function with the account's auth token), and the read API by a
 * bearer API key looked up (hashed) in the main table by the function. Both decisions are acknowledged for
 * cdk-nag AwsSolutions-APIG4 on each route with the reason.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, PayloadFormatVersion } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FunctionId } from '../resources';
import { ROUTES } from '../routes';

export interface PublicApiProps {
  readonly apiName: string;
  readonly functions: Record<FunctionId, IFunction>;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Why a route has no API Gateway authorizer (cdk-nag AwsSolutions-APIG4), by the function that serves it. */
const AUTHORIZATION_IN_FUNCTION: Partial<Record<FunctionId, string>> = {
  ingestTwilio:
    'Twilio cannot send credentials an authorizer understands; every webhook is authenticated in the function by ' +
    'its X-Twilio-Signature (HMAC-SHA1 with the account auth token over PUBLIC_BASE_URL + path + params).',
  ingestNetwork:
    'Tracking platforms sign nothing they send: a network\'s postback URL carries a 256-bit random secret as its last ' +
    'path segment, compared in constant time in the function against the SHA-256 digests stored for the network.',
  ingestCarrier:
    'Telnyx, Vonage and Plivo sign their webhooks (Ed25519, HS256 JWT, HMAC-SHA256) with keys no authorizer holds; ' +
    'every webhook is verified in the function over its raw body with the account\'s credentials from SSM.',
  voiceTwilio:
    'Twilio requests the Voice URL without credentials an authorizer understands; every request is authenticated in ' +
    'the function by its X-Twilio-Signature over PUBLIC_BASE_URL + path + query + params, exactly as the webhooks are.',
  voiceCarrier:
    'Telnyx and Plivo request their voice URLs without credentials an authorizer understands; every request is verified ' +
    'in the function (Ed25519 over timestamp|raw body; X-Plivo-Signature-V3 over URL, parameters and nonce) with the account\'s keys from SSM.',
  api:
    'The read API authenticates a bearer API key in the function (SHA-256 of the key looked up in the main table) ' +
    'and scopes every query to that key\'s account; a Lambda authorizer would add a second cold start per request.',
};

/** JSON access log line: no headers, no bodies, no query strings (they could carry phone numbers). */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    requestTime: '$context.requestTimeEpoch',
    ip: '$context.identity.sourceIp',
    method: '$context.httpMethod',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    latencyMs: '$context.responseLatency',
    integrationLatencyMs: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
  }),
);

export class PublicApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;

  constructor(scope: Construct, id: string, props: PublicApiProps) {
    super(scope, id);

    this.api = new HttpApi(this, 'Api', {
      apiName: props.apiName,
      description: 'CallLedger: Twilio webhooks and the read API',
      // The stage is defined below so that it gets access logs and throttling.
      createDefaultStage: false,
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });

    // One integration per function, shared by its routes.
    const integrations = new Map<FunctionId, HttpLambdaIntegration>();
    const integrationFor = (fn: FunctionId): HttpLambdaIntegration => {
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${fn}Integration`, props.functions[fn], {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(fn, integration);
      }
      return integration;
    };

    for (const route of ROUTES) {
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: integrationFor(route.fn),
      });
      const reason = AUTHORIZATION_IN_FUNCTION[route.fn];
      if (created && reason) Validations.of(created).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    }
  }
}
