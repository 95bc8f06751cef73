/** The role of an API key; an `analyst` key sees callers masked (privacy/pii.ts callerForRole). */
export type ApiRole = 'admin' | 'analyst';
