/**
 * Every network fixture (events/fixtures/networks/): its registration is a valid `PUT /v1/networks/{networkId}`
 * body, each delivery parses under the registration's mapping, and the deliveries fold into the expected claim in
 * the order they arrived, reversed, and rotated (the fold ignores order and duplicates).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldClaim, networkCallerKey, parsePostback, postbackParams, type NetworkPostback } from '../../../shared/domain/networks/claims';
import { effectiveFields } from '../../../shared/domain/networks/registration';
import { NetworkRegistrationSchema } from '../../../shared/domain/networks/registration-schema';

const DIR = join(import.meta.dirname, '../../../events/fixtures/networks');
const callerKey = networkCallerKey('test-caller-hash-key');

interface Fixture {
  readonly registration: unknown;
  readonly deliveries: readonly { method: string; query: string; contentType: string | null; body: string; receivedAt: string }[];
  readonly expected: Record<string, unknown> & { caller: string | null };
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('network fixtures', () => {
  it('cover every platform kind', () => {
    const kinds = files.map((f) => (JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { registration: { kind: string } }).registration.kind).sort();
    expect(kinds).toEqual(['generic', 'retreaver', 'ringba', 'trackdrive']);
  });

  for (const file of files) {
    it(`${file} parses and folds into its claim in any order`, () => {
      const fixture = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
      const registration = NetworkRegistrationSchema.parse(fixture.registration);
      const mapping = effectiveFields(registration.kind, registration.fields);
      const postbacks: NetworkPostback[] = fixture.deliveries.map((d) => {
        const params = postbackParams(d);
        if (!params.ok) throw new Error(`${file}: ${JSON.stringify(params.errors)}`);
        const parsed = parsePostback(mapping, params.params, { receivedAt: d.receivedAt, callerKey });
        if (!parsed.ok) throw new Error(`${file}: ${JSON.stringify(parsed.errors)}`);
        return parsed.postback;
      });
      const { caller, ...expected } = fixture.expected;
      const orders = postbacks.map((_, i) => [...postbacks.slice(i), ...postbacks.slice(0, i)]);
      for (const order of [...orders, [...postbacks].reverse()]) {
        const claim = foldClaim(order);
        expect(claim).toMatchObject(expected);
        expect(claim.callerKey).toBe(caller === null ? null : callerKey(caller));
      }
    });
  }
});
