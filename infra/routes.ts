/**
 * The route catalog API Gateway (infra/constructs/http-api.ts) and the local stack (infra/local/) route: method, path
 * and the function serving it, derived from the route declarations (shared/app/http/routes.ts), where every route is
 * declared once. Apart from infra/resources.ts because every function imports that file, and none but the API needs
 * the declarations.
 */
import { ROUTE_DECLARATIONS } from '../shared/app/http/routes';
import type { FunctionId, RouteDef } from './resources';

export const ROUTES: readonly RouteDef[] = ROUTE_DECLARATIONS.map((r) => {
  const fn: FunctionId = r.fn ?? 'api';
  return { method: r.method, path: r.path, fn };
});
