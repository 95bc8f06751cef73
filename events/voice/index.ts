/** The Twilio call simulator: scripts (script.ts), one call (player.ts), many calls (run.ts), TwiML as Twilio reads it (twiml.ts). */
export * from './script';
export * from './player';
export * from './run';
// cli.ts is the command line (it runs on import), so it is not re-exported.
export { checkTwiml, parseTwiml, readAnswer, TwimlFetchFailure, TwimlViolation, TWILIO_DOCUMENTED, type TwimlNode } from './twiml';
