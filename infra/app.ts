/**
 * CDK entry point (cdk.json: `npx tsx infra/app.ts`).
 *
 *   npx cdk synth -c env=dev        # or staging, prod; works offline, no AWS account needed
 *   npx cdk deploy -c env=dev
 *
 * Everything lives in buildCallLedgerApp so that the unit tests synthesise exactly what the CLI does.
 */
import { EnvironmentConfigError } from './constructs/environment-config';
import { buildCallLedgerApp } from './stack';

try {
  buildCallLedgerApp().app.synth();
} catch (err) {
  // A configuration mistake gets one clear line, not a stack trace.
  if (err instanceof EnvironmentConfigError) {
    console.error(`callledger: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
