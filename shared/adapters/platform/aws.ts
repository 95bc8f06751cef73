/**
 * The AWS clients and the DynamoDB counters in one import, for tools that want them all (the benchmark, tests).
 * Function code imports the per-service modules in ./clients instead, so that each function loads only the SDK
 * packages it uses (see clients/endpoint.ts).
 */
export { dynamodb } from './clients/dynamodb';
export { s3 } from './clients/s3';
export { sqs } from './clients/sqs';
export { ssm } from './clients/ssm';
export { ddbStats } from './dynamodb/ddb-stats';
