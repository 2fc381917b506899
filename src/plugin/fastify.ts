import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type AdminOptions, createAdminHandler, validateAdminOptions } from '../admin/index.js';
import type { WorkerOptions, WorkosMigrateConfig } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { createWorkosMigrate, type WorkosMigrate } from '../signin/engine.js';
import { frozenAnswer, requestHelpers, type WorkosMigrateRequest } from './shared.js';

export type { WorkosMigrateRequest } from './shared.js';

export interface WorkosMigrateFastifyOptions extends Omit<WorkosMigrateConfig, 'worker'> {
  /** Worker options; `false` runs no worker in this app (e.g. `workos-migrate worker` runs it apart). */
  worker?: WorkerOptions | false;
  /** Admin routes, dashboard and `/metrics`; served only with a token (`process.env.X` may be unset). */
  admin?: AdminOptions;
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

/** What Fastify's `register` itself takes (not ours), and a route's options. */
const REGISTER_OPTIONS = ['prefix', 'logLevel', 'logSerializers'];
const ROUTE_OPTIONS = ['freeze'];

export { bearerTokenMatches } from '../admin/auth.js';

function rejectUnknown(value: object, known: readonly string[], path: string): void {
  const unknown = Object.keys(value).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new ConfigError(`${path}${unknown}`, `is not an option (known: ${known.join(', ')})`);
  }
}

function validateOptions(options: WorkosMigrateFastifyOptions): void {
  validateAdminOptions(options.admin);
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
    const handler = createAdminHandler(migrate, { ...admin, token: admin.token });
    const answer = async (request: FastifyRequest, reply: FastifyReply) => {
      const answered = await handler.handle({
        method: request.method,
        url: request.url.slice(handler.prefix.length),
        headers: request.headers,
        body: request.body,
        secure: request.protocol === 'https',
      });
      return reply.code(answered.status).headers(answered.headers).send(answered.body);
    };
    await fastify.register(
      async (routes) => {
        routes.all('/', answer);
        routes.all('/*', answer);
      },
      { prefix: handler.prefix },
    );
  }
};

/** `app.register(workosMigrate, config)`: mirrors users into WorkOS, guards signups, moves logins. */
export const workosMigrate = fp(plugin, { name: 'workos-migrate', fastify: '5.x' });
export default workosMigrate;
