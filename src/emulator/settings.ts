import type {
  EmailTakenMode,
  EmulatorOptions,
  FaultOptions,
  MisreadHashType,
  PasswordHashRangesOptions,
  RateLimitOptions,
  RateLimitRule,
  ScriptedFault,
  SignInSteps,
} from './options.js';
import { MISREAD_HASH_TYPES, SIGN_IN_STEPS } from './options.js';
import { type PasswordPolicy, resolvePasswordPolicy } from './password-policy.js';
import { DOCUMENTED_HASH_RANGES, type HashRanges } from './passwords.js';
import type { EmulatorRuntimeSettings } from './types.js';

const EMAIL_TAKEN_MODES: readonly EmailTakenMode[] = [
  'user_creation_error',
  'email_not_available',
  'conflict',
];
const FAULT_KINDS: readonly ScriptedFault['kind'][] = [
  'error',
  'drop',
  'applied_unanswered',
  'stall',
  'rate_limit',
  'ignore_field',
];

/** Checks each key and step, and lower-cases email and domain keys (emails match case-insensitively). */
export function checkSignInSteps(steps: SignInSteps | undefined): SignInSteps {
  if (steps === undefined) return {};
  if (typeof steps !== 'object' || steps === null || Array.isArray(steps)) {
    throw new EmulatorOptionError(
      'signInSteps',
      'must be an object of { "<user id | email | domain>": step }',
    );
  }
  const checked: SignInSteps = {};
  for (const [key, step] of Object.entries(steps)) {
    if (!SIGN_IN_STEPS.includes(step)) {
      throw new EmulatorOptionError(
        `signInSteps["${key}"]`,
        `must be one of ${SIGN_IN_STEPS.join(', ')} (got ${String(step)})`,
      );
    }
    const trimmed = key.trim();
    if (trimmed === '' || /\s/.test(trimmed)) {
      throw new EmulatorOptionError(
        'signInSteps',
        `keys must be a user id, an email or a domain (got "${key}")`,
      );
    }
    checked[trimmed.startsWith('user_') ? trimmed : trimmed.replace(/^@/, '').toLowerCase()] = step;
  }
  return checked;
}

/** Checks each type against WorkOS's imported hash types. */
export function checkMisreadHashTypes(types: MisreadHashType[] | undefined): MisreadHashType[] {
  if (types === undefined) return [];
  if (!Array.isArray(types)) {
    throw new EmulatorOptionError('misreadHashTypes', `must be a list of ${MISREAD_HASH_TYPES.join(', ')}`);
  }
  for (const type of types) {
    if (!MISREAD_HASH_TYPES.includes(type)) {
      throw new EmulatorOptionError(
        'misreadHashTypes',
        `must list only ${MISREAD_HASH_TYPES.join(', ')} (got ${String(type)})`,
      );
    }
  }
  return [...new Set(types)];
}

function checkRange(value: unknown, name: string): { min: number; max: number } {
  const range = value as { min?: unknown; max?: unknown } | null;
  if (
    typeof range !== 'object' ||
    range === null ||
    !Number.isInteger(range.min) ||
    !Number.isInteger(range.max) ||
    (range.min as number) < 1 ||
    (range.min as number) > (range.max as number)
  ) {
    throw new EmulatorOptionError(name, 'must be { min, max } with whole numbers 1 <= min <= max');
  }
  return { min: range.min as number, max: range.max as number };
}

/** The documented ranges with the given ones laid over them; a bad value names its option. */
export function resolveHashRanges(options: PasswordHashRangesOptions | undefined): HashRanges {
  const given = options ?? {};
  const pbkdf2Iterations = { ...DOCUMENTED_HASH_RANGES.pbkdf2Iterations };
  for (const [digest, range] of Object.entries(given.pbkdf2Iterations ?? {})) {
    if (digest !== 'sha1' && digest !== 'sha256' && digest !== 'sha512') {
      throw new EmulatorOptionError('passwordHashRanges.pbkdf2Iterations', `has an unknown digest ${digest}`);
    }
    pbkdf2Iterations[digest] = checkRange(range, `passwordHashRanges.pbkdf2Iterations.${digest}`);
  }
  const versions = given.argon2Versions;
  if (
    versions !== undefined &&
    (!Array.isArray(versions) || versions.length === 0 || versions.some((v) => v !== 16 && v !== 19))
  ) {
    throw new EmulatorOptionError(
      'passwordHashRanges.argon2Versions',
      'must be a non-empty list of 16 and/or 19',
    );
  }
  const optionalRange = (key: 'argon2MemoryKiB' | 'argon2Time' | 'argon2Parallelism') =>
    given[key] === undefined
      ? DOCUMENTED_HASH_RANGES[key]
      : checkRange(given[key], `passwordHashRanges.${key}`);
  const minTime = given.argon2iMinTime;
  if (minTime !== undefined && (!Number.isInteger(minTime) || minTime < 1)) {
    throw new EmulatorOptionError(
      'passwordHashRanges.argon2iMinTime',
      'must be a whole number of at least 1',
    );
  }
  return {
    pbkdf2Iterations,
    argon2Versions: versions ?? DOCUMENTED_HASH_RANGES.argon2Versions,
    argon2MemoryKiB: optionalRange('argon2MemoryKiB'),
    argon2Time: optionalRange('argon2Time'),
    argon2iMinTime: minTime ?? DOCUMENTED_HASH_RANGES.argon2iMinTime,
    argon2Parallelism: optionalRange('argon2Parallelism'),
  };
}

// The documented WorkOS limits (docs/reference/rate-limits).
export const DEFAULT_RATE_LIMITS: Required<{ [K in keyof RateLimitOptions]: RateLimitRule }> = {
  writes: { limit: 500, windowMs: 10_000 },
  reads: { limit: 1_000, windowMs: 10_000 },
  authenticatePerEmail: { limit: 10, windowMs: 60_000 },
  passwordResetPerEmail: { limit: 3, windowMs: 60_000 },
};

export type ResolvedRateLimits = { [K in keyof RateLimitOptions]-?: RateLimitRule | null };

export interface ResolvedFaults {
  errorRate: number;
  dropRate: number;
  rateLimitRate: number;
  appliedUnansweredRate: number;
  latencyMs: { min: number; max: number } | null;
}

/** An option that cannot be used, named as the caller wrote it. */
export class EmulatorOptionError extends TypeError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(`emulator option ${option} ${message}`);
    this.name = 'EmulatorOptionError';
  }
}

function checkRule(rule: RateLimitRule, name: string): RateLimitRule {
  if (!Number.isInteger(rule.limit) || rule.limit < 1) {
    throw new EmulatorOptionError(`${name}.limit`, `must be a positive integer (got ${String(rule.limit)})`);
  }
  if (!Number.isFinite(rule.windowMs) || rule.windowMs <= 0) {
    throw new EmulatorOptionError(
      `${name}.windowMs`,
      `must be a positive number (got ${String(rule.windowMs)})`,
    );
  }
  return { limit: rule.limit, windowMs: rule.windowMs };
}

export function resolveRateLimits(options: RateLimitOptions | false | undefined): ResolvedRateLimits {
  const resolved = {} as ResolvedRateLimits;
  for (const key of Object.keys(DEFAULT_RATE_LIMITS) as (keyof RateLimitOptions)[]) {
    const given = options === false ? false : options?.[key];
    resolved[key] =
      given === false ? null : checkRule(given ?? DEFAULT_RATE_LIMITS[key], `rateLimits.${key}`);
  }
  return resolved;
}

function checkProbability(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new EmulatorOptionError(name, `must be a probability between 0 and 1 (got ${String(value)})`);
  }
  return value;
}

export function resolveFaults(options: FaultOptions | undefined): ResolvedFaults {
  const latency = options?.latencyMs;
  if (latency && (!(latency.min >= 0) || !(latency.max >= latency.min))) {
    throw new EmulatorOptionError(
      'faults.latencyMs',
      `must satisfy 0 <= min <= max (got ${String(latency.min)}-${String(latency.max)})`,
    );
  }
  return {
    errorRate: checkProbability(options?.errorRate, 'faults.errorRate'),
    dropRate: checkProbability(options?.dropRate, 'faults.dropRate'),
    rateLimitRate: checkProbability(options?.rateLimitRate, 'faults.rateLimitRate'),
    appliedUnansweredRate: checkProbability(options?.appliedUnansweredRate, 'faults.appliedUnansweredRate'),
    latencyMs: latency && latency.max > 0 ? { min: latency.min, max: latency.max } : null,
  };
}

export function checkEmailTaken(mode: EmailTakenMode | undefined): EmailTakenMode {
  const value = mode ?? 'user_creation_error';
  if (!EMAIL_TAKEN_MODES.includes(value)) {
    throw new EmulatorOptionError(
      'emailTaken',
      `must be one of ${EMAIL_TAKEN_MODES.join(', ')} (got ${value})`,
    );
  }
  return value;
}

export type CheckedScriptedFault = Required<Omit<ScriptedFault, 'method' | 'path'>> & {
  method: string | null;
  path: string | null;
  /** `path` read as a regular expression, when it is one. */
  pattern: RegExp | null;
};

export function checkScriptedFault(fault: ScriptedFault): CheckedScriptedFault {
  if (!FAULT_KINDS.includes(fault.kind)) {
    throw new EmulatorOptionError(
      'fault.kind',
      `must be one of ${FAULT_KINDS.join(', ')} (got ${fault.kind})`,
    );
  }
  if (fault.kind === 'ignore_field' && (typeof fault.field !== 'string' || fault.field.trim() === '')) {
    throw new EmulatorOptionError('fault.field', 'must name the body field to ignore, e.g. "email"');
  }
  const count = fault.count ?? 1;
  if (!Number.isInteger(count) || count < 1) {
    throw new EmulatorOptionError('fault.count', `must be a positive integer (got ${String(count)})`);
  }
  let pattern: RegExp | null = null;
  if (fault.path) {
    try {
      pattern = new RegExp(fault.path);
    } catch {
      // Not a regular expression: matched as a path prefix only.
    }
  }
  return {
    kind: fault.kind,
    method: fault.method ? fault.method.toUpperCase() : null,
    path: fault.path ?? null,
    pattern,
    count,
    status: fault.status ?? 500,
    delayMs: fault.delayMs ?? 5_000,
    retryAfterSeconds: fault.retryAfterSeconds ?? 1,
    field: fault.field ?? '',
  };
}

/** Each redirect URI must be an absolute http(s) URL; undefined or null accepts any. */
export function checkRedirectUris(uris: string[] | null | undefined): string[] | null {
  if (uris === undefined || uris === null) return null;
  if (!Array.isArray(uris))
    throw new EmulatorOptionError('redirectUris', 'must be a list of absolute http(s) URLs');
  for (const uri of uris) {
    let protocol = '';
    try {
      protocol = new URL(uri).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new EmulatorOptionError('redirectUris', `must list absolute http(s) URLs (got ${String(uri)})`);
    }
  }
  return [...uris];
}

function checkStrings(values: string[] | undefined, fallback: string, name: string): string[] {
  const list = values ?? [fallback];
  if (list.length === 0 || list.some((value) => typeof value !== 'string' || value.length === 0)) {
    throw new EmulatorOptionError(name, 'must be a non-empty list of non-empty strings');
  }
  return list;
}

export interface ResolvedSettings {
  host: string;
  port: number;
  apiKeys: string[];
  clientIds: string[];
  emailTaken: EmailTakenMode;
  rateLimits: ResolvedRateLimits;
  faults: ResolvedFaults;
  passwordPolicy: PasswordPolicy;
  passwordHashRanges: HashRanges;
  requireEmailVerification: boolean;
  signInSteps: SignInSteps;
  misreadHashTypes: MisreadHashType[];
  redirectUris: string[] | null;
  events: boolean;
}

export function resolveOptions(options: EmulatorOptions, defaults: { apiKey: string; clientId: string }) {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new EmulatorOptionError('port', `must be an integer between 0 and 65535 (got ${String(port)})`);
  }
  let passwordPolicy: PasswordPolicy;
  try {
    passwordPolicy = resolvePasswordPolicy(options.passwordPolicy);
  } catch (error) {
    throw new EmulatorOptionError('passwordPolicy', (error as Error).message);
  }
  const settings: ResolvedSettings = {
    host: options.host ?? '127.0.0.1',
    port,
    apiKeys: checkStrings(options.apiKeys, defaults.apiKey, 'apiKeys'),
    clientIds: checkStrings(options.clientIds, defaults.clientId, 'clientIds'),
    emailTaken: checkEmailTaken(options.emailTaken),
    rateLimits: resolveRateLimits(options.rateLimits),
    faults: resolveFaults(options.faults),
    passwordPolicy,
    passwordHashRanges: resolveHashRanges(options.passwordHashRanges),
    // WorkOS environments require verified emails unless turned off.
    requireEmailVerification: options.requireEmailVerification ?? true,
    signInSteps: checkSignInSteps(options.signInSteps),
    misreadHashTypes: checkMisreadHashTypes(options.misreadHashTypes),
    redirectUris: checkRedirectUris(options.redirectUris),
    events: options.events ?? true,
  };
  return settings;
}

/** Applies run-time changes; only the keys present change. */
export function applyRuntimeSettings(settings: ResolvedSettings, change: EmulatorRuntimeSettings): void {
  // Resolve everything first, so a bad value changes nothing.
  const next = {
    emailTaken: change.emailTaken === undefined ? settings.emailTaken : checkEmailTaken(change.emailTaken),
    rateLimits: change.rateLimits === undefined ? settings.rateLimits : resolveRateLimits(change.rateLimits),
    faults: change.faults === undefined ? settings.faults : resolveFaults(change.faults),
    passwordPolicy:
      change.passwordPolicy === undefined
        ? settings.passwordPolicy
        : resolvePasswordPolicy(change.passwordPolicy),
    passwordHashRanges:
      change.passwordHashRanges === undefined
        ? settings.passwordHashRanges
        : resolveHashRanges(change.passwordHashRanges),
    requireEmailVerification: change.requireEmailVerification ?? settings.requireEmailVerification,
    signInSteps:
      change.signInSteps === undefined ? settings.signInSteps : checkSignInSteps(change.signInSteps),
    misreadHashTypes:
      change.misreadHashTypes === undefined
        ? settings.misreadHashTypes
        : checkMisreadHashTypes(change.misreadHashTypes),
    redirectUris:
      change.redirectUris === undefined ? settings.redirectUris : checkRedirectUris(change.redirectUris),
  };
  Object.assign(settings, next);
}
