/** Which carrier a request to the carrier-ingest function is for, from the route API Gateway matched. */
import { isCarrier, type Carrier } from '../../domain/catalog/carriers';
import type { HttpEvent } from './http';

/**
 * The carrier of the matched route (`routeKey` is `ANY /webhooks/telnyx/{accountId}`). Only a deployment that
 * wires another route to this function gets no carrier: that is a bug, thrown as one.
 */
export function carrierOfRoute(event: Pick<HttpEvent, 'routeKey'>): Carrier {
  const segment = /^\S+ \/webhooks\/([a-z]+)\/\{accountId\}$/.exec(event.routeKey ?? '')?.[1];
  if (segment === undefined || !isCarrier(segment)) throw new Error(`the carrier-ingest function serves no route ${event.routeKey}`);
  return segment;
}
