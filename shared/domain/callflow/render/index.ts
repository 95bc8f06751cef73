/**
 * One decision, several renderers: the voice function renders the state machine's verbs in the language of the
 * provider that asked. Content types as each provider expects them (Twilio refuses JSON or no content type with
 * 12300; Vonage does not retry an NCCO sent as text/html or application/xml).
 */
import type { Provider } from '../../calls/events';
import type { Verb } from '../instructions';
import { renderNcco } from './ncco';
import { renderPlivo } from './plivo';
import { renderTexml, renderTwiml } from './twiml';

export interface Rendered {
  readonly contentType: string;
  readonly body: string;
}

export function render(provider: Provider, verbs: readonly Verb[], baseUrl: string): Rendered {
  switch (provider) {
    case 'twilio':
      return { contentType: 'text/xml; charset=utf-8', body: renderTwiml(verbs, baseUrl) };
    case 'telnyx':
      return { contentType: 'text/xml; charset=utf-8', body: renderTexml(verbs, baseUrl) };
    case 'plivo':
      return { contentType: 'application/xml; charset=utf-8', body: renderPlivo(verbs, baseUrl) };
    case 'vonage':
      return { contentType: 'application/json', body: JSON.stringify(renderNcco(verbs, baseUrl)) };
    default: {
      const exhaustive: never = provider;
      return exhaustive;
    }
  }
}
