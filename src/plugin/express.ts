import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { WorkosMigrateConfig } from '../core/config.js';
import { createWorkosMigrate, type WorkosMigrate } from '../sync/index.js';
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

/** `app.use(createWorkosMigrateMiddleware(config))`: the same engine and decisions as the Fastify plugin. */
export function createWorkosMigrateMiddleware(config: WorkosMigrateConfig): WorkosMigrateMiddleware {
  const migrate = createWorkosMigrate(config);
  const perRequest = requestHelpers(migrate);
  const middleware = ((req: Request, _res: Response, next: NextFunction) => {
    req.workosMigrate = perRequest;
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
