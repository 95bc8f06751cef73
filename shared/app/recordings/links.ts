/** How long a recording link the API hands out stays valid: long enough to play a call, short enough not to be shared. */
export const PRESIGN_TTL_SEC = 15 * 60;
