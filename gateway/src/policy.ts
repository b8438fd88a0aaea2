import { allowHeader } from '@mercado/common/http';
import type { Role } from '@mercado/common/identity';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * Who may call a route: anyone (`public`; a token, when sent, must still be valid), anyone signed
 * in (`authenticated`), or callers holding at least one of the listed roles.
 */
export type Access = 'public' | 'authenticated' | readonly Role[];

export interface PolicyEntry {
  method: HttpMethod;
  /** The public path; `:name` stands for exactly one path segment. */
  path: string;
  access: Access;
}

/**
 * The services behind the gateway over HTTP, each reached through its own comma list of URLs.
 * Payments is not one of them: the gateway reaches it over MQTT only (card requests), so it has no
 * payments URL, route or health entry.
 */
export const serviceNames = ['users', 'products', 'inventory', 'orders'] as const;
export type ServiceName = (typeof serviceNames)[number];

/** Who answers a route: a service behind the gateway, or the gateway itself. */
export type RouteOwner = ServiceName | 'gateway';

/**
 * Path prefixes (the first two segments) and who owns them. Paths are forwarded unchanged, since
 * every service mounts the full `/api/...` path.
 */
export const routeOwners: Readonly<Record<string, RouteOwner>> = {
  '/api/auth': 'users',
  '/api/users': 'users',
  '/api/products': 'products',
  '/api/categories': 'products',
  '/api/inventory': 'inventory',
  '/api/cart': 'orders',
  '/api/orders': 'orders',
  // The terminal registry is identity (the users service owns the `terminal` role); payments only
  // hears terminals over MQTT.
  '/api/terminals': 'users',
  // Payments is reached over MQTT only: what the gateway serves of it, it serves itself.
  '/api/payments': 'gateway',
  '/api/health': 'gateway',
  '/api/openapi.json': 'gateway',
  '/api/docs': 'gateway',
};

/**
 * Routes the gateway answers itself although their prefix belongs to a service. Paying an order
 * travels HTTP → MQTT → payments (payments.ts, and docs/architecture.md, "The checkout, end to
 * end"); without a broker (no MQTT_URL) it answers 503 `service_unavailable`, never reaching the
 * orders service with card data.
 */
export const gatewayHandledRoutes: ReadonlyArray<Pick<PolicyEntry, 'method' | 'path'>> = [
  { method: 'POST', path: '/api/orders/:id/payments' },
];

const sellerOrAdmin: readonly Role[] = ['seller', 'admin'];
const adminOnly: readonly Role[] = ['admin'];

/**
 * The one table of who may call what. A request whose path matches no entry is 404; a path that
 * matches with another method is 405. Services check identity again (defence in depth, and for
 * ownership rules the gateway cannot know, such as "a seller's own products").
 */
export const policy: readonly PolicyEntry[] = [
  // users: accounts and tokens. Logout authenticates by the refresh token in its body.
  { method: 'POST', path: '/api/auth/register', access: 'public' },
  { method: 'POST', path: '/api/auth/login', access: 'public' },
  { method: 'POST', path: '/api/auth/refresh', access: 'public' },
  { method: 'POST', path: '/api/auth/logout', access: 'public' },
  { method: 'GET', path: '/api/auth/jwks.json', access: 'public' },
  { method: 'GET', path: '/api/users/me', access: 'authenticated' },
  { method: 'PATCH', path: '/api/users/me', access: 'authenticated' },
  { method: 'GET', path: '/api/users', access: adminOnly },
  { method: 'PATCH', path: '/api/users/:id', access: adminOnly },
  // users: the payment-terminal registry and presence.
  { method: 'GET', path: '/api/terminals', access: adminOnly },
  { method: 'POST', path: '/api/terminals', access: adminOnly },
  { method: 'DELETE', path: '/api/terminals/:id', access: adminOnly },
  { method: 'POST', path: '/api/terminals/:id/secret', access: adminOnly },

  // products: the catalog. Category upkeep shapes the whole shop, so it is the admins'.
  { method: 'GET', path: '/api/products', access: 'public' },
  { method: 'GET', path: '/api/products/:id', access: 'public' },
  { method: 'POST', path: '/api/products', access: sellerOrAdmin },
  { method: 'PATCH', path: '/api/products/:id', access: sellerOrAdmin },
  { method: 'DELETE', path: '/api/products/:id', access: sellerOrAdmin },
  { method: 'GET', path: '/api/categories', access: 'public' },
  { method: 'POST', path: '/api/categories', access: adminOnly },
  { method: 'PATCH', path: '/api/categories/:id', access: adminOnly },
  { method: 'DELETE', path: '/api/categories/:id', access: adminOnly },

  // inventory: stock per product per region; the low-stock list is back-office information.
  { method: 'GET', path: '/api/inventory/low-stock', access: sellerOrAdmin },
  { method: 'GET', path: '/api/inventory/:productId', access: 'public' },
  { method: 'PUT', path: '/api/inventory/:productId/:region', access: sellerOrAdmin },

  // orders: the cart is open to guests (the orders service identifies them by a cart token).
  { method: 'GET', path: '/api/cart', access: 'public' },
  { method: 'PATCH', path: '/api/cart', access: 'public' },
  { method: 'POST', path: '/api/cart/items', access: 'public' },
  { method: 'PATCH', path: '/api/cart/items/:productId', access: 'public' },
  { method: 'DELETE', path: '/api/cart/items/:productId', access: 'public' },
  { method: 'POST', path: '/api/orders', access: 'authenticated' },
  { method: 'GET', path: '/api/orders', access: 'authenticated' },
  { method: 'GET', path: '/api/orders/sold', access: sellerOrAdmin },
  { method: 'GET', path: '/api/orders/:id', access: 'authenticated' },
  { method: 'POST', path: '/api/orders/:id/cancel', access: 'authenticated' },
  { method: 'POST', path: '/api/orders/:id/ship', access: sellerOrAdmin },
  { method: 'POST', path: '/api/orders/:id/deliver', access: sellerOrAdmin },
  { method: 'POST', path: '/api/orders/:id/refund', access: sellerOrAdmin },
  { method: 'POST', path: '/api/orders/:id/payments', access: 'authenticated' },

  // payments' public keys, for a browser to encrypt a card itself (answered by the gateway).
  { method: 'GET', path: '/api/payments/keys.json', access: 'public' },

  // the gateway itself (the docs page's static files are served apart, under /api/docs/assets/)
  { method: 'GET', path: '/api/health', access: 'public' },
  { method: 'GET', path: '/api/openapi.json', access: 'public' },
  { method: 'GET', path: '/api/docs', access: 'public' },
];

/** A policy entry prepared for matching. */
export interface CompiledRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly access: Access;
  readonly owner: RouteOwner;
  /** What the metrics middleware reads as the route template (never the raw path). */
  readonly template: { readonly path: string };
}

/** Answer for a path that exists but not with the request's method (RFC 9110 §15.5.6). */
export interface MethodNotAllowed {
  readonly allow: string;
}

export type RouteMatch = CompiledRoute | MethodNotAllowed | undefined;

export function isMethodNotAllowed(match: RouteMatch): match is MethodNotAllowed {
  return match !== undefined && 'allow' in match;
}

interface PathGroup {
  readonly pattern: RegExp | undefined;
  readonly byMethod: ReadonlyMap<string, CompiledRoute>;
  readonly notAllowed: MethodNotAllowed;
}

export interface RouteTable {
  /** Finds the route for a method and path; HEAD is answered by GET routes (RFC 9110 §9.3.2). */
  match(method: string, path: string): RouteMatch;
}

/** The first two segments of a path: `/api/orders/1/ship` → `/api/orders`. */
function prefixOf(path: string): string {
  const end = path.indexOf('/', 5);
  return end === -1 ? path : path.slice(0, end);
}

/**
 * One segment of a parameter: never empty and never `.` or `..`, so a path cannot climb out of the
 * route the policy decided on.
 */
const paramSegment = '(?!\\.\\.?(?:/|$))[^/]+';

function patternFor(path: string): RegExp {
  const source = path
    .split('/')
    .map((segment) =>
      segment.startsWith(':') ? paramSegment : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * Literal segments outrank parameters, position by position (`/api/users/me` before
 * `/api/users/:id`), the way one expects a router to resolve overlaps.
 */
function bySpecificity(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const leftParam = left[i]!.startsWith(':');
    const rightParam = right[i]!.startsWith(':');
    if (leftParam !== rightParam) return leftParam ? 1 : -1;
  }
  return left.length - right.length;
}

/**
 * Compiles the policy once at startup into a lookup that costs one map probe for literal paths and
 * a few regular expression tests for parameterised ones, without allocating on the common path.
 */
export function compilePolicy(
  entries: readonly PolicyEntry[] = policy,
  handledByGateway: ReadonlyArray<Pick<PolicyEntry, 'method' | 'path'>> = gatewayHandledRoutes,
): RouteTable {
  const seen = new Set<string>();
  const routesByPath = new Map<string, CompiledRoute[]>();
  for (const entry of entries) {
    const key = `${entry.method} ${entry.path}`;
    if (seen.has(key)) throw new Error(`policy lists ${key} twice`);
    seen.add(key);
    const prefix = prefixOf(entry.path);
    const prefixOwner = routeOwners[prefix];
    if (!prefixOwner) throw new Error(`policy entry ${key} has no owner for ${prefix}`);
    const local = handledByGateway.some((r) => r.method === entry.method && r.path === entry.path);
    const route: CompiledRoute = {
      method: entry.method,
      path: entry.path,
      access: entry.access,
      owner: local ? 'gateway' : prefixOwner,
      template: { path: entry.path },
    };
    const list = routesByPath.get(entry.path) ?? [];
    list.push(route);
    routesByPath.set(entry.path, list);
  }

  const literal = new Map<string, PathGroup>();
  const parameterised = new Map<string, PathGroup[]>();
  const parameterPaths = [...routesByPath.keys()].filter((p) => p.includes('/:'));
  parameterPaths.sort(bySpecificity);

  for (const path of parameterPaths) {
    const routes = routesByPath.get(path)!;
    const group: PathGroup = {
      pattern: patternFor(path),
      byMethod: new Map(routes.map((r) => [r.method, r])),
      notAllowed: { allow: allowHeader(routes.map((r) => r.method)) },
    };
    const prefix = prefixOf(path);
    parameterised.set(prefix, [...(parameterised.get(prefix) ?? []), group]);
  }

  for (const [path, routes] of routesByPath) {
    if (path.includes('/:')) continue;
    // A literal path may also match parameterised ones (`/api/users/me` and `/api/users/:id`):
    // its own methods win, theirs fill in, and Allow lists them all.
    const byMethod = new Map<string, CompiledRoute>();
    for (const group of parameterised.get(prefixOf(path)) ?? []) {
      if (!group.pattern!.test(path)) continue;
      for (const [method, route] of group.byMethod)
        if (!byMethod.has(method)) byMethod.set(method, route);
    }
    for (const route of routes) byMethod.set(route.method, route);
    literal.set(path, {
      pattern: undefined,
      byMethod,
      notAllowed: { allow: allowHeader(byMethod.keys()) },
    });
  }

  function find(group: PathGroup, method: string): CompiledRoute | undefined {
    return group.byMethod.get(method === 'HEAD' ? 'GET' : method);
  }

  function matchParameterised(method: string, path: string): RouteMatch {
    const groups = parameterised.get(prefixOf(path));
    if (!groups) return undefined;
    let firstMatch: PathGroup | undefined;
    let allowed: string[] | undefined;
    for (const group of groups) {
      if (!group.pattern!.test(path)) continue;
      const route = find(group, method);
      if (route) return route;
      if (firstMatch === undefined) firstMatch = group;
      else allowed = [...(allowed ?? firstMatch.byMethod.keys()), ...group.byMethod.keys()];
    }
    if (!firstMatch) return undefined;
    return allowed ? { allow: allowHeader(allowed) } : firstMatch.notAllowed;
  }

  return {
    match(method, rawPath) {
      // One trailing slash is tolerated, as the services' routers do.
      const path =
        rawPath.length > 1 && rawPath.charCodeAt(rawPath.length - 1) === 47
          ? rawPath.slice(0, -1)
          : rawPath;
      const group = literal.get(path);
      if (group) return find(group, method) ?? group.notAllowed;
      return matchParameterised(method, path);
    },
  };
}

/** Whether a signed-in caller with these roles may use a route. */
export function isAllowed(access: Access, roles: readonly Role[]): boolean {
  if (access === 'public' || access === 'authenticated') return true;
  for (const role of roles) if (access.includes(role)) return true;
  return false;
}
