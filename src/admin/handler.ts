import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import { WorkosMigrateError } from '../core/errors.js';
import type { WorkosMigrate } from '../signin/engine.js';
import { type AdminSession, bearerTokenMatches, constantTimeEquals, maskEmail, SessionKeys } from './auth.js';
import { dashboardAsset } from './dashboard.js';
import { createMetrics, type MetricsOptions } from './metrics.js';

export interface AdminOptions {
  /** Where the admin routes live; default `/workos-migrate`. */
  prefix?: string;
  /** The admin secret (16+ characters). Without it no admin route, dashboard or metrics is served. */
  token?: string | undefined;
  /** `/metrics`: register on the app's own prom-client registry instead of a private one. */
  metrics?: MetricsOptions;
}

/** A request as both adapters hand it over: the path below the admin prefix, headers, a parsed body. */
export interface AdminRequest {
  method: string;
  /** Path and query below the prefix, e.g. `/status` or `/dead?reason=x`; `/` for the dashboard. */
  url: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** The request came over HTTPS (the framework's view, trust-proxy aware): the cookie gets `Secure`. */
  secure: boolean;
}

export interface AdminResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export const SESSION_COOKIE = 'workos_migrate_session';

type Caller = { kind: 'bearer' } | { kind: 'session'; session: AdminSession };

const json = (status: number, value: unknown, headers: Record<string, string> = {}): AdminResponse => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  body: JSON.stringify(value),
});
const problem = (status: number, error: string, message: string, headers?: Record<string, string>) =>
  json(status, { error, message }, headers);

const unauthorized = () =>
  problem(401, 'unauthorized', 'A valid admin bearer token or dashboard session is required.', {
    'www-authenticate': 'Bearer',
  });

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The request comes from a page of this same origin. Browsers always send `Origin` on a POST made by
 * fetch or a form; a missing or different one (another site's form, a cross-origin fetch) is refused.
 */
function sameOrigin(request: AdminRequest): boolean {
  const origin = header(request.headers, 'origin');
  const host = header(request.headers, 'host');
  if (!origin || !host) return false;
  try {
    const parsed = new URL(origin);
    return parsed.host === host && parsed.protocol === (request.secure ? 'https:' : 'http:');
  } catch {
    return false;
  }
}

function sourceOf(value: unknown): { source?: 'env' | 'unleash' | 'stored' } {
  if (value === undefined) return {};
  if (value === 'env' || value === 'unleash' || value === 'stored') return { source: value };
  throw new WorkosMigrateError('invalid_source', 'source must be "env", "unleash" or "stored" (or left out)');
}

async function answerSetter(set: () => Promise<unknown>): Promise<AdminResponse> {
  try {
    return json(200, await set());
  } catch (error) {
    if (error instanceof WorkosMigrateError) {
      const status =
        error.code === 'flag_source_mismatch' ? 409 : error.code === 'invalid_source' ? 400 : 502;
      return problem(status, error.code, error.message);
    }
    throw error;
  }
}

const isPercent = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100;

/**
 * The framework-free admin surface: the JSON routes (status, freeze, rollout, retry, dead letters),
 * the dashboard with its session cookie and CSRF checks, and Prometheus metrics. Adapters pass every
 * request under the prefix to `handle` and write the answer back as it is.
 */
export function createAdminHandler(migrate: WorkosMigrate, options: AdminOptions & { token: string }) {
  const { token } = options;
  const prefix = options.prefix ?? '/workos-migrate';
  const sessions = new SessionKeys(token);
  const metrics = createMetrics(migrate, options.metrics);

  const cookie = (request: AdminRequest, value: string, maxAgeSeconds: number) =>
    serializeCookie(SESSION_COOKIE, value, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.secure,
      path: prefix,
      maxAge: maxAgeSeconds,
    });

  function caller(request: AdminRequest): Caller | null {
    const authorization = header(request.headers, 'authorization');
    if (authorization !== undefined)
      return bearerTokenMatches(authorization, token) ? { kind: 'bearer' } : null;
    const cookies = parseCookies(header(request.headers, 'cookie') ?? '');
    const session = sessions.verify(cookies[SESSION_COOKIE]);
    return session ? { kind: 'session', session } : null;
  }

  /** A state change made with the cookie needs the same origin and the session's CSRF token. */
  function csrfRefusal(request: AdminRequest, who: Caller): AdminResponse | null {
    if (who.kind === 'bearer') return null;
    if (!sameOrigin(request)) {
      return problem(403, 'cross_origin', 'State-changing requests must come from the dashboard itself.');
    }
    if (!constantTimeEquals(header(request.headers, 'x-csrf-token') ?? '', who.session.csrfToken)) {
      return problem(
        403,
        'csrf_token_invalid',
        'Reload the dashboard: the X-CSRF-Token header is missing or wrong.',
      );
    }
    return null;
  }

  async function signIn(request: AdminRequest): Promise<AdminResponse> {
    // Login CSRF: only the dashboard's own page may start a session.
    if (!sameOrigin(request)) {
      return problem(403, 'cross_origin', 'Sign in from the dashboard page itself.');
    }
    const given = (request.body as { token?: unknown } | null)?.token;
    if (typeof given !== 'string' || !constantTimeEquals(given, token)) {
      return problem(401, 'unauthorized', 'That is not the admin token.');
    }
    const { cookieValue, session } = sessions.issue();
    return json(
      200,
      { csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() },
      { 'set-cookie': cookie(request, cookieValue, Math.floor((session.expiresAt - Date.now()) / 1000)) },
    );
  }

  async function route(request: AdminRequest, who: Caller, path: string, query: URLSearchParams) {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const key = `${request.method} ${path}`;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      const refused = csrfRefusal(request, who);
      if (refused) return refused;
    }
    switch (key) {
      case 'GET /status':
        return json(200, await migrate.status());
      case 'GET /overview': {
        // What the dashboard polls: status() plus this instance's worker counters, in one request.
        const { writes, rateLimited } = migrate.worker.counters;
        return json(200, {
          at: new Date().toISOString(),
          status: await migrate.status(),
          worker: {
            writes,
            rateLimited,
            currentRate: migrate.worker.currentRate,
            mirrorLag: migrate.worker.mirrorLag.percentiles(),
            running: migrate.worker.running,
            leader: migrate.worker.leader,
          },
        });
      }
      case 'GET /session':
        return who.kind === 'session'
          ? json(200, {
              csrfToken: who.session.csrfToken,
              expiresAt: new Date(who.session.expiresAt).toISOString(),
            })
          : json(200, { csrfToken: null, bearer: true });
      case 'POST /session/end':
        if (who.kind === 'session') sessions.revoke(who.session);
        return json(200, { signedOut: true }, { 'set-cookie': cookie(request, '', 0) });
      case 'GET /metrics': {
        try {
          const text = await metrics.text();
          return {
            status: 200,
            headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' },
            body: text,
          };
        } catch (error) {
          return problem(501, 'metrics_unavailable', (error as Error).message);
        }
      }
      case 'GET /dead': {
        const limit = query.get('limit');
        const page = await migrate.deadLetters({
          ...(query.get('reason') ? { reason: query.get('reason') as string } : {}),
          ...(limit !== null && /^\d+$/.test(limit) ? { limit: Number(limit) } : {}),
          ...(query.get('after') ? { after: query.get('after') as string } : {}),
        });
        // Emails leave this process masked only.
        return json(200, {
          ...page,
          deadLetters: page.deadLetters.map((letter) => ({ ...letter, email: maskEmail(letter.email) })),
        });
      }
      case 'GET /rollout/preview': {
        const percent = Number(query.get('percent'));
        if (!isPercent(percent)) {
          return problem(400, 'invalid_request', 'Pass ?percent=N with N a whole number from 0 to 100.');
        }
        return json(200, await migrate.rolloutPreview(percent));
      }
      case 'POST /freeze': {
        const on = body.on;
        if (typeof on !== 'boolean')
          return problem(400, 'invalid_request', 'Send {"on": true} or {"on": false}.');
        return answerSetter(() => migrate.flags.setFreeze(on, sourceOf(body.source)));
      }
      case 'POST /rollout': {
        const percent = body.percent;
        if (!isPercent(percent)) {
          return problem(400, 'invalid_request', 'Send {"percent": N} with N a whole number from 0 to 100.');
        }
        return answerSetter(() => migrate.flags.setRollout(percent, sourceOf(body.source)));
      }
      case 'POST /retry': {
        const { reason, userId } = body;
        if (
          (reason !== undefined && typeof reason !== 'string') ||
          (userId !== undefined && typeof userId !== 'string' && typeof userId !== 'number')
        ) {
          return problem(400, 'invalid_request', 'Send {} (all), {"reason": R} or {"userId": ID}.');
        }
        const requeued = await migrate.retryDead({
          ...(reason !== undefined ? { reason } : {}),
          ...(userId !== undefined ? { userId } : {}),
        });
        return json(200, { requeued });
      }
      default:
        return problem(404, 'not_found', `No admin route ${key}.`);
    }
  }

  return {
    prefix,
    async handle(request: AdminRequest): Promise<AdminResponse> {
      // The bare prefix: the page's relative asset URLs need the trailing slash.
      if (request.method === 'GET' && (request.url === '' || request.url.startsWith('?'))) {
        return { status: 308, headers: { location: `${prefix}/` }, body: '' };
      }
      const url = new URL(request.url, 'http://admin.invalid');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      // The page and its assets carry no data: anyone may load them; the data routes need a caller.
      const asset = request.method === 'GET' ? dashboardAsset(path) : null;
      if (asset) return asset;
      if (request.method === 'POST' && path === '/session') return signIn(request);
      const who = caller(request);
      if (!who) return unauthorized();
      return route(request, who, path, url.searchParams);
    },
  };
}

export type AdminHandler = ReturnType<typeof createAdminHandler>;
