import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type AdminOptions, createAdminHandler, validateAdminOptions } from '../admin/index.js';
import type { WorkosMigrateConfig } from '../core/config.js';
import { createWorkosMigrate, type WorkosMigrate } from '../signin/engine.js';
import { frozenAnswer, requestHelpers, type WorkosMigrateRequest } from './shared.js';

export type { WorkosMigrateRequest } from './shared.js';

declare global {
  namespace Express {
    interface Request {
      workosMigrate: WorkosMigrateRequest;
    }
  }
}

/** The middleware plus what Express has no hooks for: explicit start and stop. */
export interface WorkosMigrateMiddleware extends RequestHandler {
  /** The engine object (`createWorkosMigrate`). */
  migrate: WorkosMigrate;
  /** Answers 503 `signups_frozen` with `Retry-After` while signups are frozen. */
  freezeGuard(): RequestHandler;
  /** Starts the flags and (unless `worker: false`) the worker: await it before `listen`. */
  start(options?: { worker?: boolean }): Promise<void>;
  /** Stops the worker and the flags: call it when the server closes. */
  stop(): Promise<void>;
}

export interface WorkosMigrateExpressOptions extends WorkosMigrateConfig {
  /** Admin routes, dashboard and `/metrics` under `admin.prefix`; served only with a token. */
  admin?: AdminOptions;
}

/** The body as the app's parser left it, or read here (JSON) when no parser ran for this path. */
async function requestBody(req: Request): Promise<unknown> {
  if (req.body !== undefined || req.method === 'GET' || req.method === 'HEAD') return req.body;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new Error('admin request body over 64 KiB');
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks).toString('utf8');
  return raw === '' ? undefined : JSON.parse(raw);
}

/** `app.use(createWorkosMigrateMiddleware(config))`: the same engine and decisions as the Fastify plugin. */
export function createWorkosMigrateMiddleware(options: WorkosMigrateExpressOptions): WorkosMigrateMiddleware {
  const { admin, ...config } = options;
  validateAdminOptions(admin);
  const migrate = createWorkosMigrate(config);
  const perRequest = requestHelpers(migrate);
  const adminHandler = admin?.token ? createAdminHandler(migrate, { ...admin, token: admin.token }) : null;
  const adminPrefix = adminHandler?.prefix;
  const serveAdmin = async (req: Request, res: Response) => {
    let body: unknown;
    try {
      body = await requestBody(req);
    } catch {
      res.status(400).json({ error: 'invalid_request', message: 'Send a JSON body of at most 64 KiB.' });
      return;
    }
    const answered = await (adminHandler as NonNullable<typeof adminHandler>).handle({
      method: req.method,
      url: req.originalUrl.slice((adminPrefix as string).length),
      headers: req.headers,
      body,
      secure: req.secure,
    });
    res.status(answered.status).set(answered.headers).send(answered.body);
  };
  const middleware = ((req: Request, res: Response, next: NextFunction) => {
    req.workosMigrate = perRequest;
    const path = req.originalUrl.split('?')[0] ?? '';
    if (adminPrefix !== undefined && (path === adminPrefix || path.startsWith(`${adminPrefix}/`))) {
      serveAdmin(req, res).catch(next);
      return;
    }
    next();
  }) as WorkosMigrateMiddleware;
  middleware.migrate = migrate;
  middleware.freezeGuard = () => async (_req, res, next) => {
    // Without start() the stored settings were never read and a freeze let every signup through:
    // start the flags here (once; later calls share the first) rather than fail open.
    if (!migrate.flags.ready) await migrate.flags.start();
    const frozen = frozenAnswer(migrate);
    if (!frozen) return next();
    res.status(503).set('Retry-After', String(migrate.flags.retryAfterSeconds)).json(frozen);
  };
  middleware.start = (options) => migrate.start(options);
  middleware.stop = () => migrate.close();
  return middleware;
}
