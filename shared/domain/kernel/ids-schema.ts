/**
 * The zod forms of the two identifiers every body uses: a resource id (path ids, references between resources) and
 * an E.164 phone number. A leaf module, so that any capability's schema can name them without importing another
 * capability's schemas (the campaign body names the call flow's, which names targets).
 */
import * as z from 'zod';

export const IdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be 1-63 lower-case letters, digits or dashes');
export const E164Schema = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15125550101');
