/**
 * Every test file: API exchanges are checked against the served OpenAPI document (hooks.ts), and a test whose
 * exchanges departed from it fails, naming the route, the status and the JSON pointer.
 */
import { afterAll, afterEach } from 'vitest';
import { installContractFetch } from './hooks';
import { formatMismatches, takeMismatches } from './openapi-contract';

installContractFetch();

function failOnMismatches(): void {
  const mismatches = takeMismatches();
  if (mismatches.length > 0) throw new Error(formatMismatches(mismatches));
}

afterEach(failOnMismatches);
afterAll(failOnMismatches);
