/**
 * The zod forms of the request grammar (input.ts), shared by every request schema: an instant in the range the
 * keys can hold, and free text without control characters. One definition each, so that no field of any body
 * can take what another refuses. Apart from input.ts because building schemas at module load pulls in full zod.
 */
import * as z from 'zod';
import { INSTANT_RANGE_MESSAGE, isInstantInRange, MULTI_LINE_MESSAGE, MULTI_LINE_TEXT, SINGLE_LINE_MESSAGE, SINGLE_LINE_TEXT } from './input';

/** An ISO-8601 date-time with a zone (`Z` or `±hh:mm`) in years 0000–9999 once its offset is applied. */
export function instantInput() {
  return z.iso.datetime({ offset: true }).refine(isInstantInRange, INSTANT_RANGE_MESSAGE);
}

/** Single-line free text (names, labels, ids from other systems): the schema with the no-control-characters rule. */
export function singleLine<S extends z.ZodString>(schema: S): S {
  return schema.regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);
}

/** Multi-line free text (notes): tab and line breaks allowed, every other control character refused. */
export function multiLine<S extends z.ZodString>(schema: S): S {
  return schema.regex(MULTI_LINE_TEXT, MULTI_LINE_MESSAGE);
}
