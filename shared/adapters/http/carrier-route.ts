/** Which carrier a request to the carrier-ingest function is for, from the route API Gateway matched. */
import { isCarrier, type Carrier } from '../../domain/catalog/carriers';
import type { HttpEvent } from './http';
import { VOICE_CARRIERS, type VoiceCarrier } from '../../app/routing/voice-carriers';

/**
 * The carrier of the matched route (`routeKey` is `ANY /webhooks/telnyx/{accountId}`). Only a deployment that
 * wires another route to this function gets no carrier: that is a bug, thrown as one.
 */
export function carrierOfRoute(event: Pick<HttpEvent, 'routeKey'>): Carrier {
  const segment = /^\S+ \/webhooks\/([a-z]+)\/\{accountId\}$/.exec(event.routeKey ?? '')?.[1];
  if (segment === undefined || !isCarrier(segment)) throw new Error(`the carrier-ingest function serves no route ${event.routeKey}`);
  return segment;
}

/** The carrier of a voice route (`POST /voice/telnyx/{accountId}`) the carrier voice function serves. */
export function voiceCarrierOfRoute(event: Pick<HttpEvent, 'routeKey'>): VoiceCarrier {
  const segment = /^\S+ \/voice\/([a-z]+)\/\{accountId\}$/.exec(event.routeKey ?? '')?.[1];
  const carrier = VOICE_CARRIERS.find((c) => c === segment);
  if (carrier === undefined) throw new Error(`the carrier voice function serves no route ${event.routeKey}`);
  return carrier;
}
