/**
 * The management routes of publishers, campaigns and tracking numbers (use cases in management.ts): admin keys write,
 * analyst keys read.
 */
import { CampaignBodySchema, PublisherBodySchema, TrackingNumberBodySchema } from '../../domain/catalog/config-schema';
import { CampaignSchema, PublisherSchema, TrackingNumberSchema } from '../kernel/api-schemas';
import { invalidInput, unsupportedMediaType } from '../kernel/errors';
import { route, type Route, type RouteRequest, type RouteResponse } from '../kernel/route';
import { getCampaign, getPublisher, getTrackingNumber, putCampaign, putPublisher, putTrackingNumber, type ManagementDeps, type Written } from './management';

/** The JSON body of a PUT: 415 unless the content type is JSON (a body is required), 400 unless it parses. */
function managementBody(req: RouteRequest): unknown {
  const type = req.contentType;
  if (type === undefined || !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) throw unsupportedMediaType(type, ['application/json']);
  try {
    return JSON.parse(req.body);
  } catch {
    throw invalidInput('The body is not valid JSON.');
  }
}

/** 201 when the PUT created the resource, 200 when it replaced or updated it. */
function written<T>(result: Written<T>): RouteResponse {
  return { status: result.created ? 201 : 200, body: result.body };
}

export const CATALOG_ROUTES: readonly Route<ManagementDeps>[] = [
  route({
    method: 'GET',
    path: '/v1/publishers/{publisherId}',
    summary: 'A publisher',
    auth: 'bearer',
    responses: { 200: { description: 'The publisher', schema: PublisherSchema } },
    problems: [401, 404],
    handle: async (principal, req, deps) => ({ status: 200, body: await getPublisher(principal, req.pathParameters.publisherId ?? '', deps) }),
  }),
  route({
    method: 'PUT',
    path: '/v1/publishers/{publisherId}',
    summary: 'Create or replace a publisher (admin)',
    auth: 'admin',
    request: PublisherBodySchema,
    responses: {
      200: { description: 'Replaced', schema: PublisherSchema },
      201: { description: 'Created', schema: PublisherSchema },
    },
    problems: [400, 401, 403, 415],
    handle: async (principal, req, deps) => written(await putPublisher(principal, req.pathParameters.publisherId ?? '', managementBody(req), deps)),
  }),
  route({
    method: 'GET',
    path: '/v1/campaigns/{campaignId}',
    summary: 'A campaign with every terms version',
    auth: 'bearer',
    responses: { 200: { description: 'The campaign', schema: CampaignSchema } },
    problems: [401, 404],
    handle: async (principal, req, deps) => ({ status: 200, body: await getCampaign(principal, req.pathParameters.campaignId ?? '', deps) }),
  }),
  route({
    method: 'PUT',
    path: '/v1/campaigns/{campaignId}',
    summary:
      'Create or update a campaign (admin). Terms that differ from the latest version append a new version effective from effectiveFrom (default and minimum: 60 s from now); a callFlow that differs from the latest flow version appends one the same way (callFlow.effectiveFrom)',
    auth: 'admin',
    request: CampaignBodySchema,
    responses: { 200: { description: 'Updated', schema: CampaignSchema }, 201: { description: 'Created', schema: CampaignSchema } },
    problems: [400, 401, 403, 409, 415, 422],
    handle: async (principal, req, deps) => written(await putCampaign(principal, req.pathParameters.campaignId ?? '', managementBody(req), deps)),
  }),
  route({
    method: 'GET',
    path: '/v1/tracking-numbers/{e164}',
    summary: 'A tracking number with its assignment history',
    auth: 'bearer',
    responses: { 200: { description: 'The tracking number', schema: TrackingNumberSchema } },
    problems: [401, 404],
    handle: async (principal, req, deps) => ({ status: 200, body: await getTrackingNumber(principal, req.pathParameters.e164 ?? '', deps) }),
  }),
  route({
    method: 'PUT',
    path: '/v1/tracking-numbers/{e164}',
    summary: 'Assign or re-assign a tracking number (admin), effective from effectiveFrom (default and minimum: 60 s from now)',
    auth: 'admin',
    request: TrackingNumberBodySchema,
    responses: { 200: { description: 'Re-assigned', schema: TrackingNumberSchema }, 201: { description: 'Created', schema: TrackingNumberSchema } },
    problems: [400, 401, 403, 409, 415, 422],
    handle: async (principal, req, deps) => written(await putTrackingNumber(principal, req.pathParameters.e164 ?? '', managementBody(req), deps)),
  }),
];
