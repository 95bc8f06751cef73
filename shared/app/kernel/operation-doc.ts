/**
 * How a capability documents its operations: plain data next to its routes, turned into the OpenAPI document by
 * shared/adapters/http/openapi.ts. The schemas are the same zod schemas the routes parse with.
 */
import type * as z from 'zod';

/** `twilio`, `carrier`: the webhook is authenticated by the provider's signature, verified in the function. */
export type Auth = 'bearer' | 'admin' | 'none' | 'twilio' | 'carrier';

/** A query parameter or request header: a name, or the name with whether it is required and what it means. */
export type ParameterDoc = string | { readonly name: string; readonly required?: boolean; readonly description?: string };

/** How a route table documents an operation (openapi.ts turns it into an OpenAPI operation). */
export interface OperationDoc {
  readonly summary: string;
  readonly auth: Auth;
  /** The application/json request body. */
  readonly request?: z.ZodType;
  /** Request bodies of other media types (text/csv): media type → what the text is. */
  readonly requestText?: Readonly<Record<string, string>>;
  /** An application/x-www-form-urlencoded request body. */
  readonly requestForm?: z.ZodType;
  readonly responses: Readonly<
    Record<number, { readonly description: string; readonly schema?: z.ZodType; readonly text?: Readonly<Record<string, string>>; readonly retryAfter?: boolean }>
  >;
  readonly query?: readonly ParameterDoc[];
  readonly headers?: readonly ParameterDoc[];
  readonly problems: readonly number[];
  /** False for the routes that call no dependency; every other one may answer 503 (shared/adapters/http/http.ts). */
  readonly dependencies?: false;
}
