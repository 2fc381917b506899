import type { User } from '@workos-inc/node';
import { type DrizzleDatabase, type DrizzleTransaction, withDatabaseErrors } from './db.js';
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
  /** Syncs in flight at most; the worker claims again once half are done. Default 32: twice the documented rate times a 300 ms round trip, so latency never caps the rate. */
  concurrency?: number;
  /** The WorkOS write rate ceiling: the worker starts at 90% of it, probes up to it on clean answers and lowers itself on 429s; no 10 s window holds more than 10 s of it. Default 50: WorkOS's documented 500 per 10 s. */
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

export interface UnleashOptions {
  /** Unleash's client API URL, ending in `/api`. Default: env `UNLEASH_URL`. */
  url?: string;
  /** A client (backend) token, `<project>:<environment>.<secret>`. Default: env `UNLEASH_API_TOKEN`. */
  apiToken?: string;
  /** An admin token, needed only by the setters. Default: env `UNLEASH_ADMIN_TOKEN`. */
  adminToken?: string;
  /** Default `workos-migrate`. */
  appName?: string;
  /** The Unleash project and environment the setters change. Defaults `default` and `development`. */
  project?: string;
  environment?: string;
  /** How often the client polls Unleash. Default 1,000 ms. */
  refreshIntervalMs?: number;
  /** How long startup waits for the first synchronisation before it goes on without. Default 5,000 ms. */
  readyTimeoutMs?: number;
}

export interface FlagsOptions {
  /** Configure to make Unleash a flag source; without url and token the stored settings are used. */
  unleash?: UnleashOptions;
  /** Default `workos-migrate-freeze`. */
  freezeFlag?: string;
  /** Default `workos-migrate-cutover`; also the bucketing `groupId`, as in Unleash. */
  cutoverFlag?: string;
  /** What keeps a user in one bucket: the local user id (default; it never changes) or the normalised email. */
  stickiness?: 'userId' | 'email';
  /** Treat signups as frozen while the flags are not ready (Unleash not synchronised yet). Default false. */
  freezeFailClosed?: boolean;
  /** How often stored settings are re-read; every instance sees a change within this. Default 1,000 ms. */
  refreshMs?: number;
  /** The `Retry-After` a frozen route answers with, in seconds. Default 60. */
  retryAfterSeconds?: number;
}

export interface LoginOptions {
  /**
   * Legacy password checks allowed per email inside `login()`, answered `rate-limited` beyond it:
   * WorkOS's own authenticate limit (10 per 60 s per email), so moving users to legacy never weakens
   * brute-force protection. A sliding window counted in PostgreSQL, shared by every instance; `limit`
   * at most 1,000 (each email's row keeps one time per attempt). `false` turns it off. Default `{ limit: 10, windowMs: 60_000 }`.
   */
  legacyAttemptLimit?: { limit: number; windowMs: number } | false;
  /**
   * The stored hash `verifyLegacy` is given for an email no local user has, so an unknown email costs
   * what a real check costs and timing does not tell who has an account. Use a hash of your own
   * format and cost. Default: a bcrypt hash (cost 10) of a random string nobody knows.
   */
  unknownUserHash?: string;
}

/** Shadow checks: legacy decides, the same password is tried at WorkOS in the background. */
export interface ShadowOptions {
  /** Share (0..100) of eligible legacy sign-ins checked at WorkOS. Default 100. */
  percent?: number;
  /** Checks started per second at most, apart from the worker's budget. Default 2. */
  ratePerSecond?: number;
  /** Checks waiting at most; beyond it new ones are dropped, never queued. Default 100. */
  queueSize?: number;
}

/** The evidence a hash format needs before its users are routed to WorkOS. */
export interface ProvenFormatsOptions {
  /** Shadow matches a format needs. Default 20. */
  minMatches?: number;
  /** Largest share of mismatches (0..1) among a format's matches and mismatches. Default 0.01. */
  maxMismatchRate?: number;
}

export interface CutoverOptions {
  /**
   * Keep a user on legacy (`format-unproven`) while the source format of their imported hash has too
   * little shadow evidence, unless their own password was verified at WorkOS. Default on
   * (20 matches, at most 1% mismatched); `false` turns it off.
   */
  requireProvenFormats?: boolean | ProvenFormatsOptions;
}

/** What `authkit.onWorkosOnlyUser` is given: a WorkOS user no local user is linked to. */
export interface WorkosOnlyUser {
  /** The WorkOS user who signed in (signed up on AuthKit, or a social sign-in WorkOS created). */
  workosUser: User;
  /**
   * The transaction the library links the new row in: create the local row with it (your Drizzle
   * transaction; cast it to your database's type to use the query builder).
   */
  tx: DrizzleTransaction;
}

/** AuthKit sign-ins: `signIn()` / `completeSignIn()`. Needs `workos.clientId`. */
export interface AuthkitOptions {
  /** Where AuthKit sends the browser back (`?code=&state=`); `signIn({ redirectUri })` overrides it. */
  redirectUri?: string | undefined;
  /**
   * Seals the AuthKit session into a cookie value (`completeSignIn` answers `sealedSession`), with the
   * SDK's session helpers. At least 32 characters. Default: no sealed session.
   */
  cookiePassword?: string | undefined;
  /**
   * A WorkOS user linked to no local user and carrying no external id: create the local row with `tx`
   * (no password column: WorkOS holds the credentials) and answer its id, or null to refuse (the sign-in
   * answers `unknown-workos-user`). The library links the row in the same transaction. Default: refuse.
   */
  onWorkosOnlyUser?:
    | ((input: WorkosOnlyUser) => Promise<string | number | null> | string | number | null)
    | undefined;
}

export interface WorkosMigrateConfig {
  /** The app's Drizzle database (node-postgres, postgres.js or PGlite driver). */
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
  flags?: FlagsOptions;
  /**
   * Deletes beyond this many within `deleteWindowMs` (applied in WorkOS without confirmation, plus
   * pending) wait for `confirmDeletes()`. Default 100.
   */
  deleteThreshold?: number;
  /** The mass-delete guard's sliding window. Default 1 hour (3,600,000 ms). */
  deleteWindowMs?: number;
  /** `login()`: the legacy attempt limit and the unknown-email check. */
  login?: LoginOptions;
  /** Shadow checks of legacy sign-ins at WorkOS (default on, 2 per second); `false` turns them off. */
  shadow?: ShadowOptions | false;
  /** Cutover rule options: `requireProvenFormats`. */
  cutover?: CutoverOptions;
  /** AuthKit sign-ins (`signIn` / `completeSignIn`): redirect URI, cookie password, WorkOS-only users. */
  authkit?: AuthkitOptions;
  logger?: Logger;
}

export interface ResolvedFlags {
  unleash: {
    url: string;
    apiToken: string;
    adminToken: string | undefined;
    appName: string;
    project: string;
    environment: string;
    refreshIntervalMs: number;
    readyTimeoutMs: number;
  } | null;
  freezeFlag: string;
  cutoverFlag: string;
  stickiness: 'userId' | 'email';
  freezeFailClosed: boolean;
  refreshMs: number;
  retryAfterSeconds: number;
  /** `MIGRATION_IN_PROGRESS`: null when unset. */
  envFreeze: boolean | null;
  /** `WORKOS_ROLLOUT_PERCENT`: null when unset. */
  envRollout: number | null;
}

export interface ResolvedConfig
  extends Required<
    Omit<
      WorkosMigrateConfig,
      'workos' | 'worker' | 'onPasswordReset' | 'flags' | 'login' | 'shadow' | 'cutover' | 'authkit'
    >
  > {
  workos: { apiKey: string; clientId: string; apiUrl: string | undefined };
  shadow: Required<ShadowOptions> | false;
  cutover: { requireProvenFormats: Required<ProvenFormatsOptions> | false };
  login: { legacyAttemptLimit: { limit: number; windowMs: number } | false; unknownUserHash: string };
  flags: ResolvedFlags;
  worker: Required<WorkerOptions>;
  onPasswordReset: WorkosMigrateConfig['onPasswordReset'];
  authkit: {
    redirectUri: string | undefined;
    cookiePassword: string | undefined;
    onWorkosOnlyUser: AuthkitOptions['onWorkosOnlyUser'];
  };
}

/**
 * A config without `db`, as `workos-migrate.config.ts` may export it: the CLI then opens DATABASE_URL
 * (or the embedded database), and the app adds its own: `{ ...config, db }`.
 */
export type WorkosMigrateConfigWithoutDb = Omit<WorkosMigrateConfig, 'db'> & { db?: undefined };

/** Identity function that types a config (with or without `db`); validation happens in `resolveConfig`. */
export function defineConfig(config: WorkosMigrateConfig): WorkosMigrateConfig;
export function defineConfig(config: WorkosMigrateConfigWithoutDb): WorkosMigrateConfigWithoutDb;
export function defineConfig(
  config: WorkosMigrateConfig | WorkosMigrateConfigWithoutDb,
): WorkosMigrateConfig | WorkosMigrateConfigWithoutDb {
  return config;
}

/**
 * Every option name, per level. `satisfies` makes a new option in the interfaces above fail to compile
 * until it is listed here, so a misspelt option can always be refused by name.
 */
const OPTION_NAMES = {
  config: {
    db: true,
    users: true,
    workos: true,
    externalIdPrefix: true,
    adoptExisting: true,
    passwordFallback: true,
    onPasswordReset: true,
    worker: true,
    flags: true,
    deleteThreshold: true,
    deleteWindowMs: true,
    login: true,
    shadow: true,
    cutover: true,
    authkit: true,
    logger: true,
  } satisfies Record<keyof WorkosMigrateConfig, true>,
  authkit: { redirectUri: true, cookiePassword: true, onWorkosOnlyUser: true } satisfies Record<
    keyof AuthkitOptions,
    true
  >,
  workos: { apiKey: true, clientId: true, apiUrl: true } satisfies Record<
    keyof NonNullable<WorkosMigrateConfig['workos']>,
    true
  >,
  worker: {
    concurrency: true,
    ratePerSecond: true,
    leaseMs: true,
    pollMs: true,
    maxAttempts: true,
    leaderLeaseMs: true,
    retryBaseMs: true,
    retryMaxMs: true,
  } satisfies Record<keyof WorkerOptions, true>,
  flags: {
    unleash: true,
    freezeFlag: true,
    cutoverFlag: true,
    stickiness: true,
    freezeFailClosed: true,
    refreshMs: true,
    retryAfterSeconds: true,
  } satisfies Record<keyof FlagsOptions, true>,
  unleash: {
    url: true,
    apiToken: true,
    adminToken: true,
    appName: true,
    project: true,
    environment: true,
    refreshIntervalMs: true,
    readyTimeoutMs: true,
  } satisfies Record<keyof UnleashOptions, true>,
  login: { legacyAttemptLimit: true, unknownUserHash: true } satisfies Record<keyof LoginOptions, true>,
  shadow: { percent: true, ratePerSecond: true, queueSize: true } satisfies Record<keyof ShadowOptions, true>,
  cutover: { requireProvenFormats: true } satisfies Record<keyof CutoverOptions, true>,
  provenFormats: { minMatches: true, maxMismatchRate: true } satisfies Record<
    keyof ProvenFormatsOptions,
    true
  >,
};

/** Refuses a key that is not an option, naming it (`worker.leseMs`), so a typo never goes unnoticed. */
function rejectUnknownOptions(value: unknown, known: Record<string, true>, path: string): void {
  if (!value || typeof value !== 'object') return;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(known, key)) {
      throw new ConfigError(
        path ? `${path}.${key}` : key,
        `is not an option (known: ${Object.keys(known).join(', ')})`,
      );
    }
  }
}

function checkOptionNames(config: WorkosMigrateConfig): void {
  rejectUnknownOptions(config, OPTION_NAMES.config, '');
  rejectUnknownOptions(config.workos, OPTION_NAMES.workos, 'workos');
  rejectUnknownOptions(config.worker, OPTION_NAMES.worker, 'worker');
  rejectUnknownOptions(config.flags, OPTION_NAMES.flags, 'flags');
  rejectUnknownOptions(config.flags?.unleash, OPTION_NAMES.unleash, 'flags.unleash');
  rejectUnknownOptions(config.login, OPTION_NAMES.login, 'login');
  rejectUnknownOptions(config.shadow, OPTION_NAMES.shadow, 'shadow');
  rejectUnknownOptions(config.cutover, OPTION_NAMES.cutover, 'cutover');
  rejectUnknownOptions(config.authkit, OPTION_NAMES.authkit, 'authkit');
  rejectUnknownOptions(
    config.cutover?.requireProvenFormats,
    OPTION_NAMES.provenFormats,
    'cutover.requireProvenFormats',
  );
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
  checkOptionNames(config);
  if (!config.db || typeof config.db.execute !== 'function' || typeof config.db.transaction !== 'function') {
    throw new ConfigError(
      'db',
      'must be a Drizzle database (drizzle-orm/node-postgres, drizzle-orm/postgres-js or drizzle-orm/pglite)',
    );
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
    db: withDatabaseErrors(config.db),
    users: config.users,
    workos: { apiKey, clientId, apiUrl },
    externalIdPrefix: prefix,
    adoptExisting,
    passwordFallback,
    onPasswordReset: config.onPasswordReset,
    worker: {
      concurrency: positiveInteger(worker.concurrency, 32, 'worker.concurrency'),
      ratePerSecond: positiveInteger(worker.ratePerSecond, 50, 'worker.ratePerSecond'),
      leaseMs,
      pollMs: positiveInteger(worker.pollMs, 200, 'worker.pollMs'),
      maxAttempts: positiveInteger(worker.maxAttempts, 10, 'worker.maxAttempts'),
      leaderLeaseMs: positiveInteger(worker.leaderLeaseMs, 10_000, 'worker.leaderLeaseMs'),
      retryBaseMs: positiveInteger(worker.retryBaseMs, 1_000, 'worker.retryBaseMs'),
      retryMaxMs: positiveInteger(worker.retryMaxMs, 60_000, 'worker.retryMaxMs'),
    },
    flags: resolveFlags(config.flags ?? {}, env),
    deleteThreshold: positiveInteger(config.deleteThreshold, 100, 'deleteThreshold'),
    deleteWindowMs: positiveInteger(config.deleteWindowMs, 3_600_000, 'deleteWindowMs'),
    login: resolveLogin(config.login ?? {}),
    shadow: resolveShadow(config.shadow),
    cutover: { requireProvenFormats: resolveProvenFormats(config.cutover?.requireProvenFormats) },
    authkit: resolveAuthkit(config.authkit, clientId),
    logger: config.logger ?? silentLogger,
  };
  return resolved;
}

/** An absolute http(s) URL, else a ConfigError naming the option. */
export function checkRedirectUri(value: unknown, option: string): string {
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError(
      option,
      `must be an absolute http(s) URL registered as a redirect URI in WorkOS, such as https://app.example.com/auth/callback (got ${String(value)})`,
    );
  }
  return value as string;
}

function resolveAuthkit(authkit: AuthkitOptions | undefined, clientId: string): ResolvedConfig['authkit'] {
  if (authkit === undefined)
    return { redirectUri: undefined, cookiePassword: undefined, onWorkosOnlyUser: undefined };
  if (typeof authkit !== 'object' || authkit === null) {
    throw new ConfigError('authkit', 'must be an object { redirectUri, cookiePassword, onWorkosOnlyUser }');
  }
  if (!clientId) {
    throw new ConfigError(
      'workos.clientId',
      'is required by authkit: set it or the WORKOS_CLIENT_ID environment variable',
    );
  }
  const { redirectUri, cookiePassword, onWorkosOnlyUser } = authkit;
  if (redirectUri !== undefined) checkRedirectUri(redirectUri, 'authkit.redirectUri');
  // The SDK's sealing (iron-webcrypto) refuses shorter passwords at the first sign-in, not at boot.
  if (cookiePassword !== undefined && (typeof cookiePassword !== 'string' || cookiePassword.length < 32)) {
    throw new ConfigError(
      'authkit.cookiePassword',
      'must be a secret of at least 32 characters (e.g. openssl rand -base64 32)',
    );
  }
  if (onWorkosOnlyUser !== undefined && typeof onWorkosOnlyUser !== 'function') {
    throw new ConfigError(
      'authkit.onWorkosOnlyUser',
      'must be a function ({ workosUser, tx }) => local user id or null',
    );
  }
  return { redirectUri, cookiePassword, onWorkosOnlyUser };
}

/** A bcrypt hash (cost 10) of 24 random bytes that were thrown away: it matches no password. */
const UNKNOWN_USER_HASH = '$2b$10$fVRVHo.k490zuqfKNxyJ5.V8fJW8CpW5tXLZid1qDh0qGSh.x4HPy';

function resolveLogin(login: LoginOptions): ResolvedConfig['login'] {
  const limit = login.legacyAttemptLimit ?? { limit: 10, windowMs: 60_000 };
  const unknownUserHash = login.unknownUserHash ?? UNKNOWN_USER_HASH;
  if (typeof unknownUserHash !== 'string' || unknownUserHash === '') {
    throw new ConfigError('login.unknownUserHash', 'must be a non-empty stored-hash string of your format');
  }
  return {
    legacyAttemptLimit:
      limit === false
        ? false
        : {
            // An integer, and at most 1,000: each email's row keeps one time per attempt.
            limit: numberWithin(
              positiveInteger(limit.limit, 10, 'login.legacyAttemptLimit.limit'),
              10,
              1,
              1_000,
              'login.legacyAttemptLimit.limit',
            ),
            windowMs: positiveInteger(limit.windowMs, 60_000, 'login.legacyAttemptLimit.windowMs'),
          },
    unknownUserHash,
  };
}

/** A number within [min, max], else a ConfigError naming the option. */
function numberWithin(value: number | undefined, fallback: number, min: number, max: number, option: string) {
  const result = value ?? fallback;
  if (typeof result !== 'number' || !Number.isFinite(result) || result < min || result > max) {
    throw new ConfigError(option, `must be a number from ${min} to ${max} (got ${String(value)})`);
  }
  return result;
}

function resolveShadow(shadow: ShadowOptions | false | undefined): ResolvedConfig['shadow'] {
  if (shadow === false) return false;
  if (shadow !== undefined && (typeof shadow !== 'object' || shadow === null)) {
    throw new ConfigError('shadow', `must be an object { percent, ratePerSecond, queueSize } or false`);
  }
  const options = shadow ?? {};
  return {
    percent: numberWithin(options.percent, 100, 0, 100, 'shadow.percent'),
    ratePerSecond: numberWithin(options.ratePerSecond, 2, 0.001, 1_000, 'shadow.ratePerSecond'),
    queueSize: positiveInteger(options.queueSize, 100, 'shadow.queueSize'),
  };
}

function resolveProvenFormats(
  option: boolean | ProvenFormatsOptions | undefined,
): ResolvedConfig['cutover']['requireProvenFormats'] {
  if (option === false) return false;
  if (option !== undefined && option !== true && (typeof option !== 'object' || option === null)) {
    throw new ConfigError(
      'cutover.requireProvenFormats',
      'must be true, false or { minMatches, maxMismatchRate }',
    );
  }
  const options = typeof option === 'object' ? option : {};
  return {
    minMatches: positiveInteger(options.minMatches, 20, 'cutover.requireProvenFormats.minMatches'),
    maxMismatchRate: numberWithin(
      options.maxMismatchRate,
      0.01,
      0,
      1,
      'cutover.requireProvenFormats.maxMismatchRate',
    ),
  };
}

function flagName(value: string | undefined, fallback: string, option: string): string {
  const name = value ?? fallback;
  // Unleash's own rule for flag names: URL-friendly, at most 100 characters.
  if (typeof name !== 'string' || !/^[A-Za-z0-9._~-]{1,100}$/.test(name)) {
    throw new ConfigError(
      option,
      `must be a URL-friendly flag name (letters, digits, . _ ~ -), got ${String(value)}`,
    );
  }
  return name;
}

function resolveFlags(flags: FlagsOptions, env: NodeJS.ProcessEnv): ResolvedFlags {
  const unleash = flags.unleash ?? {};
  const url = unleash.url ?? env.UNLEASH_URL;
  const apiToken = unleash.apiToken ?? env.UNLEASH_API_TOKEN;
  if (url !== undefined && url !== '') {
    try {
      new URL(url);
    } catch {
      throw new ConfigError(
        'flags.unleash.url',
        `must be Unleash's API URL such as http://127.0.0.1:4242/api (got ${url})`,
      );
    }
    if (!apiToken)
      throw new ConfigError(
        'flags.unleash.apiToken',
        'is missing: set it or UNLEASH_API_TOKEN (a client token)',
      );
  }
  const stickiness = flags.stickiness ?? 'userId';
  if (stickiness !== 'userId' && stickiness !== 'email') {
    throw new ConfigError('flags.stickiness', `must be 'userId' or 'email' (got ${String(stickiness)})`);
  }
  const envFreeze = env.MIGRATION_IN_PROGRESS;
  if (envFreeze !== undefined && envFreeze !== '' && !['true', 'false', '1', '0'].includes(envFreeze)) {
    throw new ConfigError('MIGRATION_IN_PROGRESS', `must be true or false (got ${envFreeze})`);
  }
  const envRollout = env.WORKOS_ROLLOUT_PERCENT;
  let rollout: number | null = null;
  if (envRollout !== undefined && envRollout !== '') {
    // Digits only: Number() would read '0x10' as 16, '1e1' as 10 and a blank value as 0 (the kill switch).
    rollout = /^\d{1,3}$/.test(envRollout.trim()) ? Number(envRollout.trim()) : Number.NaN;
    if (!Number.isInteger(rollout) || rollout < 0 || rollout > 100) {
      throw new ConfigError(
        'WORKOS_ROLLOUT_PERCENT',
        `must be a whole percent from 0 to 100 (got ${envRollout})`,
      );
    }
  }
  return {
    unleash:
      url && apiToken
        ? {
            url: url.replace(/\/+$/, ''),
            apiToken,
            adminToken: unleash.adminToken ?? env.UNLEASH_ADMIN_TOKEN,
            appName: unleash.appName ?? 'workos-migrate',
            project: unleash.project ?? 'default',
            environment: unleash.environment ?? 'development',
            refreshIntervalMs: positiveInteger(
              unleash.refreshIntervalMs,
              1_000,
              'flags.unleash.refreshIntervalMs',
            ),
            readyTimeoutMs: positiveInteger(unleash.readyTimeoutMs, 5_000, 'flags.unleash.readyTimeoutMs'),
          }
        : null,
    freezeFlag: flagName(flags.freezeFlag, 'workos-migrate-freeze', 'flags.freezeFlag'),
    cutoverFlag: flagName(flags.cutoverFlag, 'workos-migrate-cutover', 'flags.cutoverFlag'),
    stickiness,
    freezeFailClosed: flags.freezeFailClosed ?? false,
    refreshMs: positiveInteger(flags.refreshMs, 1_000, 'flags.refreshMs'),
    retryAfterSeconds: positiveInteger(flags.retryAfterSeconds, 60, 'flags.retryAfterSeconds'),
    envFreeze: envFreeze === undefined || envFreeze === '' ? null : envFreeze === 'true' || envFreeze === '1',
    envRollout: rollout,
  };
}
