/** How the emulator answers a create whose email is already taken (WorkOS does not document it). */
export type EmailTakenMode = 'user_creation_error' | 'email_not_available' | 'conflict';

/**
 * A sign-in step WorkOS can answer instead of a session (docs: "Authentication errors"), for
 * rehearsing the app's handling of each. `daily_quota_exceeded` is the 429 WorkOS answers once an
 * environment's daily authentication quota is spent.
 */
export type SignInStep =
  | 'mfa_enrollment'
  | 'mfa_challenge'
  | 'organization_selection_required'
  | 'authentication_method_not_allowed'
  | 'radar_challenge'
  | 'sso_required'
  | 'daily_quota_exceeded';

export const SIGN_IN_STEPS: readonly SignInStep[] = [
  'mfa_enrollment',
  'mfa_challenge',
  'organization_selection_required',
  'authentication_method_not_allowed',
  'radar_challenge',
  'sso_required',
  'daily_quota_exceeded',
];

/**
 * Which sign-ins answer a step, keyed by a WorkOS user id (`user_...`), an email address, or an
 * email domain (`example.com`); the most specific key wins (user id, then email, then domain).
 */
export type SignInSteps = Record<string, SignInStep>;

/** An imported hash type (`password_hash_type`) the emulator can be told to misread. */
export type MisreadHashType = 'bcrypt' | 'firebase-scrypt' | 'ssha' | 'scrypt' | 'pbkdf2' | 'argon2';

export const MISREAD_HASH_TYPES: readonly MisreadHashType[] = Object.freeze([
  'bcrypt',
  'firebase-scrypt',
  'ssha',
  'scrypt',
  'pbkdf2',
  'argon2',
]);

/** A token bucket: `limit` requests per `windowMs`, refilled continuously. */
export interface RateLimitRule {
  limit: number;
  windowMs: number;
}

export interface RateLimitOptions {
  /** User Management writes (create, update, delete, password reset). Default 500 per 10 s. `false` turns it off. */
  writes?: RateLimitRule | false;
  /** User Management reads (get, list, events). Default 1,000 per 10 s. */
  reads?: RateLimitRule | false;
  /** Authenticate, per email. Default 10 per 60 s. */
  authenticatePerEmail?: RateLimitRule | false;
  /** Password reset creation, per email. Default 3 per 60 s. */
  passwordResetPerEmail?: RateLimitRule | false;
}

/** Random faults, applied to API routes only (never to `/_emulator/`). Probabilities are 0..1. */
export interface FaultOptions {
  /** Probability of answering 500, 502 or 503 before the request is applied. */
  errorRate?: number;
  /** Probability of destroying the connection before the request is applied. */
  dropRate?: number;
  /** Probability of a 429 (with `Retry-After: 1`) regardless of the rate limits. */
  rateLimitRate?: number;
  /** Probability of applying the request, then destroying the connection before answering. */
  appliedUnansweredRate?: number;
  /** Added latency range in ms, uniformly drawn per request. */
  latencyMs?: { min: number; max: number };
}

/**
 * A one-shot scripted fault: consumed by the next `count` (default 1) API requests that match.
 * - `error`: answer `status` (500/502/503/...) without applying the request.
 * - `drop`: destroy the connection without applying the request.
 * - `applied_unanswered`: apply the request (the write is stored), then destroy the connection.
 * - `stall`: wait `delayMs`, then apply and answer (the client has usually timed out by then).
 * - `rate_limit`: answer 429 with `Retry-After: retryAfterSeconds` (default 1).
 * - `ignore_field`: apply the request without the body field `field` (e.g. `email`) and answer 200
 *   as if all went well: the answer then shows the old value, as a server that dropped the change
 *   would (seen from WorkOS's CLI emulator). For testing "written means confirmed".
 */
export interface ScriptedFault {
  kind: 'error' | 'drop' | 'applied_unanswered' | 'stall' | 'rate_limit' | 'ignore_field';
  /** The wire name of the body field to drop, for `ignore_field` (e.g. `email`, `email_verified`). */
  field?: string;
  /** HTTP method to match, e.g. 'POST'. Any when absent. */
  method?: string;
  /** Path prefix or RegExp source to match, e.g. '/user_management/users'. Any when absent. */
  path?: string;
  count?: number;
  status?: number;
  delayMs?: number;
  retryAfterSeconds?: number;
}

/** An inclusive range of a hash parameter. */
export interface HashParameterRangeOption {
  min: number;
  max: number;
}

/**
 * Widened import ranges, to rehearse an environment where WorkOS support lifted a documented range.
 * Each key given replaces that default; `pbkdf2Iterations` replaces per digest (adding `sha1` accepts it).
 */
export interface PasswordHashRangesOptions {
  pbkdf2Iterations?: Partial<Record<'sha1' | 'sha256' | 'sha512', HashParameterRangeOption>>;
  argon2Versions?: (16 | 19)[];
  argon2MemoryKiB?: HashParameterRangeOption;
  argon2Time?: HashParameterRangeOption;
  argon2iMinTime?: number;
  argon2Parallelism?: HashParameterRangeOption;
}

export interface PasswordPolicyOptions {
  /** Minimum length of a plaintext password. Default 8. */
  minLength?: number;
  /** Passwords refused as too common (compared case-insensitively). Default: a short built-in list. */
  commonPasswords?: string[];
}

/** What a response looked like, for observers such as the conformance tests. Never includes request bodies. */
export interface EmulatorResponseRecord {
  method: string;
  /** The path without the query string, e.g. `/user_management/users/user_01...`. */
  path: string;
  status: number;
  /** Parsed JSON body, or `undefined` when the response had no body. */
  body: unknown;
  /**
   * Set when the answer departs from WorkOS on purpose, e.g. `emailTaken=conflict` (WorkOS's CLI
   * emulator's 409); null for an answer given the way WorkOS gives it.
   */
  deviation: string | null;
}

export interface EmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port) for the API; the CLI defaults to 8484. */
  port?: number;
  /** Accepted API keys (Bearer). Default `['sk_test_emulator']`. */
  apiKeys?: string[];
  /** Client ids accepted by authenticate. Default `['client_emulator']`. */
  clientIds?: string[];
  /** Default `user_creation_error`. */
  emailTaken?: EmailTakenMode;
  rateLimits?: RateLimitOptions | false;
  faults?: FaultOptions;
  passwordPolicy?: PasswordPolicyOptions;
  /** Default: WorkOS's documented ranges (docs/hashes.md); outside them an import is 400 `invalid_password_hash`. */
  passwordHashRanges?: PasswordHashRangesOptions;
  /**
   * Authenticate answers 403 `email_verification_required` for an unverified user's correct
   * password, as WorkOS does by default. Default true; `false` for an environment that turned it off.
   */
  requireEmailVerification?: boolean;
  /** Sign-in steps to answer per user, email or email domain. Default none. */
  signInSteps?: SignInSteps;
  /**
   * Imported hash types to read differently at sign-in (the import is stored and answered as usual):
   * salted types read the salt as its base64 text instead of the decoded bytes, bcrypt reads the
   * cost one higher. A correct password then answers `invalid_credentials`, as it would at a WorkOS
   * that read the format differently. Passwords set as plaintext are never misread. Default none.
   */
  misreadHashTypes?: MisreadHashType[];
  /**
   * AuthKit: the redirect URIs `GET /user_management/authorize` accepts, compared exactly (WorkOS
   * keeps this list per environment). Default: any absolute http(s) URI, for rehearsals.
   */
  redirectUris?: string[];
  /** When false, no `user.*` events are recorded (for memory-bound benchmarks). Default true. */
  events?: boolean;
  /** Keep state in this file across restarts (written with mode 0600: it holds password hashes). */
  dataFile?: string;
  /** Called after every API or control response has been written. */
  onResponse?: (record: EmulatorResponseRecord) => void;
}

export const DEFAULT_API_KEY = 'sk_test_emulator';
export const DEFAULT_CLIENT_ID = 'client_emulator';
