/** The Twilio call simulator: scripts (script.ts), one call (player.ts), many calls (run.ts), TwiML as Twilio reads it (twiml.ts). */
export * from './script';
export * from './player';
export * from './run';
export { checkTwiml, parseTwiml, readAnswer, TwimlFetchFailure, TwimlViolation, TWILIO_DOCUMENTED, type TwimlNode } from './twiml';
