import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as auth from './auth-api.js';
import * as authkit from './authkit.js';
import type { ApiContext, ApiRequest } from './context.js';
import { createControl, handleControlRequest } from './control.js';
import * as events from './events-api.js';
import {
  ApiError,
  type ApiResult,
  bearerMatches,
  invalidParameters,
  notFound,
  tooManyRequests,
} from './http.js';
import { newRequestId } from './ids.js';
import { DEFAULT_API_KEY, DEFAULT_CLIENT_ID, type EmulatorOptions, type ScriptedFault } from './options.js';
import { KeyedBuckets, TokenBucket } from './rate-limit.js';
import { checkScriptedFault, type ResolvedRateLimits, resolveOptions } from './settings.js';
import { lazySigningKey } from './signing.js';
import { EmulatorStore } from './store.js';
import type { RequestCounters, RunningEmulator } from './types.js';
import * as users from './users-api.js';

type Handler = (ctx: ApiContext, req: ApiRequest) => Promise<ApiResult>;

interface Route {
  method: string;
  template: string;
  segments: string[];
  handler: Handler;
  /** Which bucket the request spends; authenticate and resets limit per email inside the handler. */
  budget: 'reads' | 'writes' | null;
  /** The body carries the client's proof (secret or PKCE verifier): a public client sends no API key. */
  keyOptional?: boolean;
}

function route(method: string, template: string, handler: Handler, budget: Route['budget']): Route {
  return { method, template, segments: template.split('/').filter(Boolean), handler, budget };
}

// Literal routes come before parameterised ones with the same shape.
const ROUTES: Route[] = [
  route('POST', '/user_management/users', users.create, 'writes'),
  route('GET', '/user_management/users', users.list, 'reads'),
  route('GET', '/user_management/users/external_id/{external_id}', users.getByExternalId, 'reads'),
  route('GET', '/user_management/users/{id}', users.get, 'reads'),
  route('PUT', '/user_management/users/{id}', users.update, 'writes'),
  route('DELETE', '/user_management/users/{id}', users.remove, 'writes'),
  route('POST', '/user_management/password_reset/confirm', auth.confirmPasswordReset, 'writes'),
  route('POST', '/user_management/password_reset', auth.createPasswordReset, 'writes'),
  { ...route('POST', '/user_management/authenticate', authkit.authenticate, null), keyOptional: true },
  route('POST', '/user_management/sessions/revoke', auth.revokeSession, 'writes'),
  route('GET', '/events', events.listEvents, 'reads'),
  // Public, as at WorkOS: the SDK fetches it without a key to verify access tokens.
  { ...route('GET', '/sso/jwks/{clientId}', authkit.jwks, 'reads'), keyOptional: true },
];

function matchRoute(method: string, path: string): { route: Route; params: Record<string, string> } | null {
  const parts = path.split('/').filter(Boolean);
  for (const candidate of ROUTES) {
    if (candidate.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matches = candidate.segments.every((segment, index) => {
      const part = parts[index] as string;
      if (segment.startsWith('{')) {
        params[segment.slice(1, -1)] = decodeURIComponent(part);
        return true;
      }
      return segment === part;
    });
    if (matches && candidate.method === method) return { route: candidate, params };
  }
  return null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw invalidParameters('The request body is not valid JSON.');
  }
}

function newCounters(): RequestCounters {
  return { total: 0, byRoute: {}, byStatus: {}, rateLimited: 0, faults: {} };
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/**
 * Starts a local WorkOS User Management API. Plain `node:http` rather than a framework: the
 * faults need the raw socket (drop it before or after applying a write), and a dozen routes
 * need no router.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const settings = resolveOptions(options, { apiKey: DEFAULT_API_KEY, clientId: DEFAULT_CLIENT_ID });
  const store = new EmulatorStore({ recordEvents: settings.events, dataFile: options.dataFile });
  let counters = newCounters();
  let scripts: ReturnType<typeof checkScriptedFault>[] = [];

  // Buckets are rebuilt when the limits change at run time.
  let bucketsFor: ResolvedRateLimits | null = null;
  let buckets: {
    reads: TokenBucket | null;
    writes: TokenBucket | null;
    authenticate: KeyedBuckets | null;
    passwordReset: KeyedBuckets | null;
  } = { reads: null, writes: null, authenticate: null, passwordReset: null };
  const currentBuckets = () => {
    if (bucketsFor !== settings.rateLimits) {
      const limits = settings.rateLimits;
      buckets = {
        reads: limits.reads ? new TokenBucket(limits.reads) : null,
        writes: limits.writes ? new TokenBucket(limits.writes) : null,
        authenticate: limits.authenticatePerEmail ? new KeyedBuckets(limits.authenticatePerEmail) : null,
        passwordReset: limits.passwordResetPerEmail ? new KeyedBuckets(limits.passwordResetPerEmail) : null,
      };
      bucketsFor = limits;
    }
    return buckets;
  };

  const ctx: ApiContext = {
    store,
    settings,
    sessions: new Map(),
    authkit: authkit.createAuthkitState(),
    signingKey: lazySigningKey(),
    authenticateWait: (email) => currentBuckets().authenticate?.take(email) ?? 0,
    passwordResetWait: (email) => currentBuckets().passwordReset?.take(email) ?? 0,
  };

  const send = (req: IncomingMessage, res: ServerResponse, path: string, result: ApiResult) => {
    const requestId = newRequestId();
    const payload = result.body === undefined ? '' : JSON.stringify(result.body);
    res.writeHead(result.status, {
      'X-Request-ID': requestId,
      ...(payload ? { 'Content-Type': 'application/json; charset=utf-8' } : {}),
      'Content-Length': Buffer.byteLength(payload),
      ...result.headers,
    });
    res.end(payload);
    if (!path.startsWith('/_emulator/')) bump(counters.byStatus, String(result.status));
    options.onResponse?.({
      method: req.method ?? 'GET',
      path,
      status: result.status,
      body: result.body,
      deviation: result.deviation ?? null,
    });
  };

  // AuthKit's pages: HTML for a browser, never cached, never framed, no script allowed.
  const sendPage = (res: ServerResponse, result: authkit.HostedResult) => {
    res.writeHead(result.status, {
      'X-Request-ID': newRequestId(),
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      ...(result.location ? { Location: result.location } : {}),
      ...(result.html ? { 'Content-Type': 'text/html; charset=utf-8' } : {}),
      'Content-Length': Buffer.byteLength(result.html),
    });
    res.end(result.html);
  };

  const takeScript = (method: string, path: string) => {
    const index = scripts.findIndex(
      (script) =>
        (script.method === null || script.method === method) &&
        (script.path === null || path.startsWith(script.path) || script.pattern?.test(path) === true),
    );
    if (index < 0) return null;
    const script = scripts[index] as (typeof scripts)[number];
    script.count -= 1;
    if (script.count <= 0) scripts.splice(index, 1);
    return script;
  };

  const control = createControl({
    ctx,
    settings,
    counters: () => counters,
    resetCounters: () => {
      counters = newCounters();
    },
    addScript: (fault) => {
      scripts.push(checkScriptedFault(fault));
    },
    clearScripts: () => {
      scripts = [];
    },
  });

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    counters.total += 1;
    const matched = matchRoute(method, path);
    bump(counters.byRoute, `${method} ${matched ? matched.route.template : path}`);
    const bodyText = await readBody(req);

    const faults = settings.faults;
    if (faults.latencyMs) {
      bump(counters.faults, 'latency');
      await sleep(faults.latencyMs.min + Math.random() * (faults.latencyMs.max - faults.latencyMs.min));
    }
    // One fault per request at most: a scripted one, else a random draw at the configured rates.
    const script = takeScript(method, path);
    const roll = Math.random();
    let fault: ScriptedFault['kind'] | null = script?.kind ?? null;
    if (!script) {
      let threshold = 0;
      for (const [kind, rate] of [
        ['drop', faults.dropRate],
        ['error', faults.errorRate],
        ['rate_limit', faults.rateLimitRate],
        ['applied_unanswered', faults.appliedUnansweredRate],
      ] as const) {
        threshold += rate;
        if (roll < threshold) {
          fault = kind;
          break;
        }
      }
    }
    if (fault) bump(counters.faults, fault);
    if (fault === 'drop') {
      req.socket.destroy();
      return;
    }
    if (fault === 'error') {
      const status = script ? script.status : ([500, 502, 503] as const)[Math.floor(Math.random() * 3)];
      send(req, res, path, {
        status: status ?? 500,
        body: { code: 'server_error', message: 'Internal server error.' },
      });
      return;
    }
    if (fault === 'rate_limit') {
      counters.rateLimited += 1;
      const error = tooManyRequests((script?.retryAfterSeconds ?? 1) * 1000);
      send(req, res, path, { status: error.status, body: error.body, headers: error.headers });
      return;
    }

    let result: ApiResult;
    try {
      const keyless = matched?.route.keyOptional === true && req.headers.authorization === undefined;
      if (!keyless && !bearerMatches(req.headers.authorization, settings.apiKeys)) {
        throw new ApiError(401, { code: 'unauthorized', message: 'Invalid API key.' });
      }
      if (!matched) throw notFound(`No route for ${method} ${path}.`, 'not_found');
      const bucket = matched.route.budget ? currentBuckets()[matched.route.budget] : null;
      const wait = bucket ? bucket.take() : 0;
      if (wait > 0) throw tooManyRequests(wait);
      if (script?.kind === 'stall') await sleep(script.delayMs);
      const body = parseJson(bodyText);
      if (script?.kind === 'ignore_field' && typeof body === 'object' && body !== null) {
        delete (body as Record<string, unknown>)[script.field];
      }
      result = await matched.route.handler(ctx, { params: matched.params, query: url.searchParams, body });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 429) counters.rateLimited += 1;
      result = { status: error.status, body: error.body, headers: error.headers, deviation: error.deviation };
    }
    if (fault === 'applied_unanswered') {
      // The write is stored; the client never learns it.
      req.socket.destroy();
      return;
    }
    send(req, res, path, result);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const work = url.pathname.startsWith('/_emulator/')
      ? handleControlRequest(control, settings, req, url, readBody).then((result) => {
          if (result) send(req, res, url.pathname, result);
        })
      : authkit.isHostedPath(url.pathname)
        ? authkit.handleHostedRequest(ctx, req, url, readBody).then((result) => {
            const missing = result
              ? null
              : notFound(`No route for ${req.method} ${url.pathname}.`, 'not_found');
            if (result) sendPage(res, result);
            else if (missing) send(req, res, url.pathname, { status: missing.status, body: missing.body });
          })
        : handleApi(req, res, url);
    work.catch((error: unknown) => {
      // A bug in the emulator: answer like WorkOS would, and never include request data.
      if (!res.headersSent && !res.destroyed) {
        send(req, res, url.pathname, {
          status: 500,
          body: { code: 'server_error', message: `Emulator error: ${(error as Error).message}` },
        });
      }
    });
  });
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostForUrl = settings.host.includes(':') ? `[${settings.host}]` : settings.host;

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    sdkOptions: { apiHostname: settings.host, port, https: false },
    apiKey: settings.apiKeys[0] as string,
    clientId: settings.clientIds[0] as string,
    control,
    close: async () => {
      store.flush();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
