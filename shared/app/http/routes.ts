/**
 * Every route of the HTTP API, by capability: the one list API Gateway and the local stack route (infra/routes.ts),
 * the API Lambda mounts (functions/api.ts) and the OpenAPI document describes (shared/adapters/http/openapi.ts). A
 * route is declared in its capability (shared/app/kernel/route.ts) and listed here once; the order is the document's.
 */
import { WEBHOOK_ROUTES } from '../calls/webhook-routes';
import { CALL_ROUTES } from '../calls/call-routes';
import { CATALOG_ROUTES } from '../catalog/catalog-routes';
import { LEDGER_ROUTES } from '../ledger/ledger-routes';
import { BLOCK_ROUTES } from '../blocklist/block-list';
import { PILOT_ROUTES } from '../pilots/pilots';
import { REPORT_ROUTES } from '../reports/reports';
import { OUTCOME_ROUTES } from '../outcomes/outcomes';
import { QA_ROUTES } from '../qa/qa';
import { COMPLIANCE_ROUTES } from '../compliance/compliance';
import { PRIVACY_ROUTES } from '../privacy/privacy';
import { CARRIER_CONFIG_ROUTES } from '../catalog/carrier-config';
import { TARGET_ROUTES } from '../routing/targets';
import { VOICE_ROUTES } from '../routing/voice-route';
import { NETWORK_ROUTES } from '../networks/networks';
import { POSTBACK_ROUTES } from '../networks/postback-route';
import { SERVICE_ROUTES } from '../kernel/service-routes';
import type { RouteDoc } from '../kernel/route';

/** The API Lambda's route tables, by name: functions/api.ts gives each its dependencies. */
export const API_ROUTE_TABLES = {
  calls: CALL_ROUTES,
  catalog: CATALOG_ROUTES,
  ledger: LEDGER_ROUTES,
  blocklist: BLOCK_ROUTES,
  pilots: PILOT_ROUTES,
  reports: REPORT_ROUTES,
  outcomes: OUTCOME_ROUTES,
  qa: QA_ROUTES,
  compliance: COMPLIANCE_ROUTES,
  carriers: CARRIER_CONFIG_ROUTES,
  privacy: PRIVACY_ROUTES,
  networks: NETWORK_ROUTES,
  targets: TARGET_ROUTES,
  service: SERVICE_ROUTES,
} as const;

/** Every route: the provider webhooks (served by their own functions), then the API's. */
export const ROUTE_DECLARATIONS: readonly RouteDoc[] = [...WEBHOOK_ROUTES, ...VOICE_ROUTES, ...POSTBACK_ROUTES, ...Object.values(API_ROUTE_TABLES).flat()];
