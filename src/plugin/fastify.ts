import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { WorkerOptions, WorkosMigrateConfig } from '../core/config.js';
import { ConfigError, WorkosMigrateError } from '../core/errors.js';
import { createWorkosMigrate, type WorkosMigrate } from '../sync/index.js';
import { frozenAnswer, requestHelpers, type WorkosMigrateRequest } from './shared.js';

export type { WorkosMigrateRequest } from './shared.js';

export interface WorkosMigrateFastifyOptions extends Omit<WorkosMigrateConfig, 'worker'> {
  /** Worker options; `false` runs no worker in this app (e.g. `workos-migrate worker` runs it apart). */
  worker?: WorkerOptions | false;
  /** Admin routes (status, freeze, rollout); registered only with a token (`process.env.X` may be unset). */
  admin?: { prefix?: string; token?: string | undefined };
}

/**
 * Opt a route into the freeze guard with `config: { workosMigrate: { freeze: true } }`. `freeze` is
 * required: Fastify infers a route's config type from the literal, so an optional key would let a typo
 * (`{ frezee: true }`) compile and guard nothing. Unknown keys also fail the route's registration.
 */
export interface WorkosMigrateRouteConfig {
  workosMigrate?: { freeze: boolean };
}

declare module 'fastify' {
  interface FastifyInstance {
    workosMigrate: WorkosMigrate;
  }
  interface FastifyRequest {
    workosMigrate: WorkosMigrateRequest;
  }
  interface FastifyContextConfig extends WorkosMigrateRouteConfig {}
}

/** What Fastify's `register` itself takes (not ours), the admin options, and a route's options. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];
const ADMIN_OPTIONS = ['prefix', 'token'];
const ROUTE_OPTIONS = ['freeze'];

/** Constant-time bearer check: the comparison takes as long whatever the first wrong byte is. */
export function bearerTokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  const given = Buffer.from(match?.[1] ?? '');
  const expected = Buffer.from(token);
  // Compare equal lengths always, so a wrong length answers in the same time as a wrong byte.
  const padded = Buffer.alloc(expected.length);
  given.copy(padded, 0, 0, expected.length);
  return timingSafeEqual(padded, expected) && given.length === expected.length;
}

function rejectUnknown(value: object, known: readonly string[], path: string): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new ConfigError(`${path}${unknown}`, `is not an option (known: ${known.join(', ')})`);
  }
}

function validateOptions(options: WorkosMigrateFastifyOptions): void {
  const admin = options.admin;
  if (admin !== undefined) {
    if (typeof admin !== 'object' || admin === null) throw new ConfigError('admin', 'must be an object');
    rejectUnknown(admin, ADMIN_OPTIONS, 'admin.');
    if (admin.token !== undefined && (typeof admin.token !== 'string' || admin.token.length < 16)) {
      throw new ConfigError('admin.token', 'must be a string of at least 16 characters (a random secret)');
    }
    if (admin.prefix !== undefined && !/^\/[A-Za-z0-9/_-]*$/.test(admin.prefix)) {
      throw new ConfigError(
        'admin.prefix',
        `must be a path such as /workos-migrate (got ${String(admin.prefix)})`,
      );
    }
  }
  if (
    options.worker !== undefined &&
    options.worker !== false &&
    (typeof options.worker !== 'object' || options.worker === null)
  ) {
    throw new ConfigError('worker', 'must be worker options or false');
  }
}

const plugin: FastifyPluginAsync<WorkosMigrateFastifyOptions> = async (fastify, options) => {
  validateOptions(options);
  // Fastify's own register options are not ours; everything else the engine checks by name.
  const { admin, worker, ...rest } = options;
  const config = Object.fromEntries(
    Object.entries(rest).filter(([key]) => !REGISTER_OPTIONS.includes(key)),
  ) as typeof rest;
  const engineConfig: WorkosMigrateConfig = {
    ...config,
    worker: worker === false ? {} : worker,
    // Fastify's pino logger fits the Logger interface as it is.
    logger: config.logger ?? fastify.log,
  };
  // Validates everything at registration: a bad option fails `register`, naming the option.
  const migrate = createWorkosMigrate(engineConfig);
  await migrate.flags.start();

  fastify.decorate('workosMigrate', migrate);
  // Fastify 5 refuses object values for request decorators; a getter costs nothing per request (an
  // onRequest hook that assigned the helpers cost every route of the app an extra async hook).
  const perRequest = requestHelpers(migrate);
  fastify.decorateRequest('workosMigrate', {
    getter(): WorkosMigrateRequest {
      return perRequest;
    },
  });

  // The guard is attached only to routes that opt in (as @fastify/rate-limit does), so every other
  // route carries no hook at all. Callback style: an async hook would add a promise per request.
  const retryAfter = String(migrate.flags.retryAfterSeconds);
  const freezeGuard = (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const frozen = frozenAnswer(migrate);
    if (!frozen) return done();
    // Answering from a callback hook: send, and do not call done().
    reply.code(503).header('Retry-After', retryAfter).send(frozen);
  };
  fastify.addHook('onRoute', (route) => {
    const routeConfig: unknown = route.config?.workosMigrate;
    if (routeConfig === undefined) return;
    const where = `route ${String(route.method)} ${route.url}: config.workosMigrate.`;
    if (!routeConfig || typeof routeConfig !== 'object') {
      throw new ConfigError(`${where.slice(0, -1)}`, 'must be { freeze: true } or { freeze: false }');
    }
    rejectUnknown(routeConfig, ROUTE_OPTIONS, where);
    const freeze = (routeConfig as { freeze?: unknown }).freeze;
    if (typeof freeze !== 'boolean') throw new ConfigError(`${where}freeze`, 'must be true or false');
    if (!freeze) return;
    const existing = route.preHandler;
    // First, so a frozen signup is answered before the app's own pre-handlers run.
    route.preHandler = [
      freezeGuard,
      ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [existing]),
    ];
  });

  if (worker !== false) fastify.addHook('onReady', async () => migrate.worker.start());
  fastify.addHook('onClose', async () => migrate.close());

  if (admin?.token) {
    const token = admin.token;
    await fastify.register(
      async (routes) => {
        routes.addHook('onRequest', async (request, reply) => {
          if (!bearerTokenMatches(request.headers.authorization, token)) {
            return reply
              .code(401)
              .header('WWW-Authenticate', 'Bearer')
              .send({ error: 'unauthorized', message: 'A valid admin bearer token is required.' });
          }
        });
        routes.get('/status', async () => migrate.status());
        routes.post<{ Body: { on?: unknown; source?: unknown } }>('/freeze', async (request, reply) => {
          const on = request.body?.on;
          if (typeof on !== 'boolean')
            return reply
              .code(400)
              .send({ error: 'invalid_request', message: 'Send {"on": true} or {"on": false}.' });
          return answerSetter(reply, () => migrate.flags.setFreeze(on, sourceOf(request.body?.source)));
        });
        routes.post<{ Body: { percent?: unknown; source?: unknown } }>('/rollout', async (request, reply) => {
          const percent = request.body?.percent;
          if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) {
            return reply.code(400).send({
              error: 'invalid_request',
              message: 'Send {"percent": N} with N a whole number from 0 to 100.',
            });
          }
          return answerSetter(reply, () => migrate.flags.setRollout(percent, sourceOf(request.body?.source)));
        });
      },
      { prefix: admin.prefix ?? '/workos-migrate' },
    );
  }
};

function sourceOf(value: unknown): { source?: 'env' | 'unleash' | 'stored' } {
  if (value === undefined) return {};
  if (value === 'env' || value === 'unleash' || value === 'stored') return { source: value };
  throw new WorkosMigrateError('invalid_source', 'source must be "env", "unleash" or "stored" (or left out)');
}

async function answerSetter(reply: FastifyReply, set: () => Promise<unknown>): Promise<unknown> {
  try {
    return await set();
  } catch (error) {
    if (error instanceof WorkosMigrateError) {
      const status =
        error.code === 'flag_source_mismatch' ? 409 : error.code === 'invalid_source' ? 400 : 502;
      return reply.code(status).send({ error: error.code, message: error.message });
    }
    throw error;
  }
}

/** `app.register(workosMigrate, config)`: mirrors users into WorkOS, guards signups, moves logins. */
export const workosMigrate = fp(plugin, { name: 'workos-migrate', fastify: '5.x' });
export default workosMigrate;
