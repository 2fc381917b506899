import type { DrizzleDatabase } from './db.js';
import { ConfigError } from './errors.js';
import { type Logger, silentLogger } from './logger.js';
import type { UsersMapping } from './mapping.js';

export interface PasswordResetRequest {
  user: { id: string; email: string; workosUserId: string };
  /** The reset link WorkOS issued. A secret: whoever holds it can take the account over. */
  url: string;
  token: string;
}

export interface WorkerOptions {
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** WorkOS writes per second the worker starts at (it lowers itself on 429s). Default 45 (the documented budget is 50/s). */
  ratePerSecond?: number;
  /** How long a claimed row stays leased. Default 30 s; WorkOS calls time out at a third of it. */
  leaseMs?: number;
  /** How often an idle worker looks for work. Default 200 ms. */
  pollMs?: number;
  /**
   * Attempts before a row that keeps failing for its own reasons (a conflict that does not pass) is
   * dead-lettered as `too_many_attempts`. WorkOS being down, slow or rate limiting never dead-letters
   * anyone: those retry until WorkOS answers. Default 10.
   */
  maxAttempts?: number;
  /** How long the leader lease lasts without renewal. Default 10 s (renewed every third of it). */
  leaderLeaseMs?: number;
  /** First retry delay; doubles per attempt with jitter. Default 1 s. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 60 s. */
  retryMaxMs?: number;
}

export interface WorkosMigrateConfig {
  /** The app's Drizzle database (postgres.js or PGlite driver). */
  db: DrizzleDatabase;
  /** From `defineUsersMapping`. */
  users: UsersMapping;
  workos?: {
    /** Default: env `WORKOS_API_KEY`. */
    apiKey?: string;
    /** Default: env `WORKOS_CLIENT_ID`. */
    clientId?: string;
    /** Default: env `WORKOS_API_URL`, else the real API. */
    apiUrl?: string;
  };
  /** Prepended to the local id to make each WorkOS user's `external_id`. Default ''. */
  externalIdPrefix?: string;
  /**
   * When a WorkOS user with the same email already exists and is not ours:
   * `unused-verified` (default) adopts it only if its external_id is empty, the local email is
   * verified and it never signed in; `verified` drops the sign-in condition; `never` adopts nothing.
   */
  adoptExisting?: 'never' | 'unused-verified' | 'verified';
  /** What happens to users whose hash cannot be imported. Default `login` (migrate at next login). */
  passwordFallback?: 'login' | 'reset' | 'none';
  /** Called once per user when `passwordFallback` is `reset`. Never log or store the token. */
  onPasswordReset?: (request: PasswordResetRequest) => Promise<void> | void;
  worker?: WorkerOptions;
  /** Pending deletes beyond this many wait for `confirmDeletes()`. Default 100. */
  deleteThreshold?: number;
  logger?: Logger;
}

export interface ResolvedConfig
  extends Required<Omit<WorkosMigrateConfig, 'workos' | 'worker' | 'onPasswordReset'>> {
  workos: { apiKey: string; clientId: string; apiUrl: string | undefined };
  worker: Required<WorkerOptions>;
  onPasswordReset: WorkosMigrateConfig['onPasswordReset'];
}

/** Identity function that types a config; validation happens in `resolveConfig`. */
export function defineConfig(config: WorkosMigrateConfig): WorkosMigrateConfig {
  return config;
}

function positiveInteger(value: number | undefined, fallback: number, option: string): number {
  const result = value ?? fallback;
  if (!Number.isInteger(result) || result < 1) {
    throw new ConfigError(option, `must be a positive integer (got ${String(value)})`);
  }
  return result;
}

export function resolveConfig(
  config: WorkosMigrateConfig,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConfig {
  if (!config || typeof config !== 'object') throw new ConfigError('config', 'must be an object');
  if (!config.db || typeof config.db.execute !== 'function' || typeof config.db.transaction !== 'function') {
    throw new ConfigError('db', 'must be a Drizzle database (drizzle-orm/postgres-js or drizzle-orm/pglite)');
  }
  if (!config.users?.columns) throw new ConfigError('users', 'must come from defineUsersMapping()');
  const apiKey = config.workos?.apiKey ?? env.WORKOS_API_KEY;
  if (!apiKey)
    throw new ConfigError('workos.apiKey', 'is missing: set it or the WORKOS_API_KEY environment variable');
  const clientId = config.workos?.clientId ?? env.WORKOS_CLIENT_ID ?? '';
  const apiUrl = config.workos?.apiUrl ?? env.WORKOS_API_URL;
  if (apiUrl !== undefined) {
    try {
      new URL(apiUrl);
    } catch {
      throw new ConfigError('workos.apiUrl', `must be a URL such as http://127.0.0.1:8484 (got ${apiUrl})`);
    }
  }
  const adoptExisting = config.adoptExisting ?? 'unused-verified';
  if (!['never', 'unused-verified', 'verified'].includes(adoptExisting)) {
    throw new ConfigError(
      'adoptExisting',
      `must be 'never', 'unused-verified' or 'verified' (got ${adoptExisting})`,
    );
  }
  const passwordFallback = config.passwordFallback ?? 'login';
  if (!['login', 'reset', 'none'].includes(passwordFallback)) {
    throw new ConfigError('passwordFallback', `must be 'login', 'reset' or 'none' (got ${passwordFallback})`);
  }
  if (passwordFallback === 'reset' && typeof config.onPasswordReset !== 'function') {
    throw new ConfigError('onPasswordReset', "is required when passwordFallback is 'reset'");
  }
  const prefix = config.externalIdPrefix ?? '';
  if (typeof prefix !== 'string' || prefix.length > 32) {
    throw new ConfigError('externalIdPrefix', 'must be a string of at most 32 characters');
  }
  const worker = config.worker ?? {};
  const leaseMs = positiveInteger(worker.leaseMs, 30_000, 'worker.leaseMs');
  const resolved: ResolvedConfig = {
    db: config.db,
    users: config.users,
    workos: { apiKey, clientId, apiUrl },
    externalIdPrefix: prefix,
    adoptExisting,
    passwordFallback,
    onPasswordReset: config.onPasswordReset,
    worker: {
      concurrency: positiveInteger(worker.concurrency, 8, 'worker.concurrency'),
      ratePerSecond: positiveInteger(worker.ratePerSecond, 45, 'worker.ratePerSecond'),
      leaseMs,
      pollMs: positiveInteger(worker.pollMs, 200, 'worker.pollMs'),
      maxAttempts: positiveInteger(worker.maxAttempts, 10, 'worker.maxAttempts'),
      leaderLeaseMs: positiveInteger(worker.leaderLeaseMs, 10_000, 'worker.leaderLeaseMs'),
      retryBaseMs: positiveInteger(worker.retryBaseMs, 1_000, 'worker.retryBaseMs'),
      retryMaxMs: positiveInteger(worker.retryMaxMs, 60_000, 'worker.retryMaxMs'),
    },
    deleteThreshold: positiveInteger(config.deleteThreshold, 100, 'deleteThreshold'),
    logger: config.logger ?? silentLogger,
  };
  return resolved;
}
