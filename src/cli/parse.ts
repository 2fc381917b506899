import { resolve } from 'node:path';
import type {
  EmailTakenMode,
  EmulatorOptions,
  FaultOptions,
  RateLimitOptions,
  RateLimitRule,
  SignInSteps,
} from '../emulator/options.js';
import { MISREAD_HASH_TYPES, type MisreadHashType, SIGN_IN_STEPS } from '../emulator/options.js';
import { quote, UsageError } from './conventions.js';

// Pure parsers for flag values. Each takes the flag's name so its UsageError names it, and says
// what a good value looks like: the message is the whole line the user sees.

const DECIMAL = /^(?:\d+(?:\.\d+)?|\.\d+)$/;

export function parsePort(flag: string, value: string): number {
  const text = value.trim();
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(`${flag} must be an integer between 0 and 65535 (got ${quote(value)})`);
  }
  return port;
}

export function parseHost(flag: string, value: string): string {
  const host = value.trim();
  // A URL or a host:port pasted here would fail later with an obscure listen error.
  if (host === '' || /\s|\/|^[a-z][a-z0-9+.-]*:\/\//i.test(host) || /^[^:[\]]+:\d+$/.test(host)) {
    throw new UsageError(
      `${flag} must be a host name or IP address such as 127.0.0.1, without scheme or port (got ${quote(value)})`,
    );
  }
  return host;
}

/** Values of a repeatable flag that also takes comma-separated lists (`--api-key a,b --api-key c`). */
export function parseList(
  flag: string,
  values: string | readonly string[] | undefined,
): string[] | undefined {
  if (values === undefined) return undefined;
  const items = (typeof values === 'string' ? [values] : values).flatMap((v) => v.split(','));
  const out: string[] = [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '' || /\s/.test(item)) {
      throw new UsageError(`${flag} values must be non-empty and contain no spaces (got ${quote(raw)})`);
    }
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `1m`, `1h`, `1.5s`; a bare unit (`s`) means one of it. Returns milliseconds (>= 1). */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)?\s*(ms|s|m|h)$/.exec(value.trim());
  const ms = match
    ? Math.round(Number(match[1] ?? '1') * (UNIT_MS[match[2] ?? ''] ?? Number.NaN))
    : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1) {
    throw new UsageError(`${flag} must be a duration such as 500ms, 10s or 1m (got ${quote(value)})`);
  }
  return ms;
}

/** `N/<duration>` such as `500/10s`; `off` disables that one limit. */
export function parseRateLimit(flag: string, value: string): RateLimitRule | false {
  const text = value.trim();
  if (/^(off|none|false)$/i.test(text)) return false;
  const help = `${flag} must be N/<duration> such as 500/10s, 100/1m or 20/500ms, or off (got ${quote(value)})`;
  const match = /^(\d+)\s*\/\s*(.+)$/.exec(text);
  if (!match) throw new UsageError(help);
  const limit = Number(match[1]);
  if (limit < 1)
    throw new UsageError(
      `${flag} must allow at least 1 request; use off to disable it (got ${quote(value)})`,
    );
  let windowMs: number;
  try {
    windowMs = parseDuration(flag, match[2] ?? '');
  } catch {
    throw new UsageError(help);
  }
  return { limit, windowMs };
}

/** `MIN-MAX` or a single number, in milliseconds (an `ms` suffix is allowed). */
export function parseLatency(flag: string, value: string): { min: number; max: number } {
  const match = /^(\d+(?:\.\d+)?)(?:ms)?(?:\s*-\s*(\d+(?:\.\d+)?)(?:ms)?)?$/.exec(value.trim());
  if (!match) {
    throw new UsageError(
      `${flag} must be MIN-MAX in milliseconds such as 50-150, or one number such as 100 (got ${quote(value)})`,
    );
  }
  const min = Number(match[1]);
  const max = match[2] === undefined ? min : Number(match[2]);
  if (min > max) {
    throw new UsageError(`${flag} MIN must not exceed MAX (got ${quote(value)}); write it as ${max}-${min}`);
  }
  return { min, max };
}

/** A probability between 0 and 1 inclusive. */
export function parseProbability(flag: string, value: string): number {
  const text = value.trim();
  const p = Number(text);
  if (!DECIMAL.test(text) || p > 1) {
    throw new UsageError(`${flag} must be a number between 0 and 1 such as 0.05 (got ${quote(value)})`);
  }
  return p;
}

export const EMAIL_TAKEN_MODES: readonly EmailTakenMode[] = [
  'user_creation_error',
  'email_not_available',
  'conflict',
];

export function parseEmailTakenMode(flag: string, value: string): EmailTakenMode {
  const mode = EMAIL_TAKEN_MODES.find((m) => m === value.trim());
  if (!mode) {
    throw new UsageError(`${flag} must be one of ${EMAIL_TAKEN_MODES.join(', ')} (got ${quote(value)})`);
  }
  return mode;
}

/** `--sign-in-step example.com=sso_required` (repeatable): which sign-ins answer which step. */
export function parseSignInSteps(flag: string, values: string[]): SignInSteps {
  const steps: SignInSteps = {};
  for (const value of values) {
    const at = value.lastIndexOf('=');
    const key = value.slice(0, at).trim();
    const step = SIGN_IN_STEPS.find((name) => name === value.slice(at + 1).trim());
    if (at <= 0 || key === '' || !step) {
      throw new UsageError(
        `${flag} must be KEY=STEP, KEY a user id, email or domain, STEP one of ${SIGN_IN_STEPS.join(', ')} (got ${quote(value)})`,
      );
    }
    steps[key] = step;
  }
  return steps;
}

/** The `emulator` command's flags as commander hands them over (attribute names, raw strings). */
export interface EmulatorFlags {
  host?: string;
  port?: string;
  apiKey?: string[];
  clientId?: string[];
  rateLimitWrites?: string;
  rateLimitReads?: string;
  rateLimitAuth?: string;
  /** `false` with `--no-rate-limit`. */
  rateLimit?: boolean;
  latency?: string;
  faultRate?: string;
  dropRate?: string;
  emailTaken?: string;
  /** `false` with `--no-require-email-verification`. */
  requireEmailVerification?: boolean;
  /** `KEY=STEP` pairs from `--sign-in-step`. */
  signInStep?: string[];
  /** Hash types from `--misread-hash-type`. */
  misreadHashType?: string[];
  /** `false` with `--no-events`. */
  events?: boolean;
  data?: string;
}

export const DEFAULT_EMULATOR_HOST = '127.0.0.1';
export const DEFAULT_EMULATOR_PORT = 8484;

/** All of the `emulator` command's flags -> EmulatorOptions. Only what was given is set; the emulator owns the defaults. */
export function parseEmulatorFlags(flags: EmulatorFlags): EmulatorOptions {
  const options: EmulatorOptions = {
    host: flags.host === undefined ? DEFAULT_EMULATOR_HOST : parseHost('--host', flags.host),
    port: flags.port === undefined ? DEFAULT_EMULATOR_PORT : parsePort('--port', flags.port),
  };
  const apiKeys = parseList('--api-key', flags.apiKey);
  if (apiKeys) options.apiKeys = apiKeys;
  const clientIds = parseList('--client-id', flags.clientId);
  if (clientIds) options.clientIds = clientIds;

  const rateFlags = [
    ['--rate-limit-writes', 'writes', flags.rateLimitWrites],
    ['--rate-limit-reads', 'reads', flags.rateLimitReads],
    ['--rate-limit-auth', 'authenticatePerEmail', flags.rateLimitAuth],
  ] as const;
  if (flags.rateLimit === false) {
    const given = rateFlags.find(([, , v]) => v !== undefined);
    if (given) {
      throw new UsageError(`--no-rate-limit cannot be combined with ${given[0]}; drop one of them`);
    }
    options.rateLimits = false;
  } else {
    const rateLimits: RateLimitOptions = {};
    for (const [flag, key, value] of rateFlags) {
      if (value !== undefined) rateLimits[key] = parseRateLimit(flag, value);
    }
    if (Object.keys(rateLimits).length > 0) options.rateLimits = rateLimits;
  }

  const faults: FaultOptions = {};
  if (flags.latency !== undefined) faults.latencyMs = parseLatency('--latency', flags.latency);
  if (flags.faultRate !== undefined) faults.errorRate = parseProbability('--fault-rate', flags.faultRate);
  if (flags.dropRate !== undefined) faults.dropRate = parseProbability('--drop-rate', flags.dropRate);
  if (Object.keys(faults).length > 0) options.faults = faults;

  if (flags.emailTaken !== undefined)
    options.emailTaken = parseEmailTakenMode('--email-taken', flags.emailTaken);
  if (flags.requireEmailVerification !== undefined)
    options.requireEmailVerification = flags.requireEmailVerification;
  if (flags.signInStep !== undefined)
    options.signInSteps = parseSignInSteps('--sign-in-step', flags.signInStep);
  if (flags.misreadHashType !== undefined)
    options.misreadHashTypes = parseMisreadHashTypes('--misread-hash-type', flags.misreadHashType);
  if (flags.events === false) options.events = false;
  if (flags.data !== undefined) {
    if (flags.data.trim() === '') throw new UsageError('--data must be a file path (got "")');
    options.dataFile = resolve(flags.data);
  }
  return options;
}

/** Repeatable or comma-separated imported hash types, e.g. `--misread-hash-type pbkdf2`. */
function parseMisreadHashTypes(flag: string, values: string[]): MisreadHashType[] {
  const types = values.flatMap((value) => value.split(',')).map((value) => value.trim());
  for (const type of types) {
    if (!(MISREAD_HASH_TYPES as readonly string[]).includes(type)) {
      throw new UsageError(`${flag} must be one of ${MISREAD_HASH_TYPES.join(', ')} (got ${quote(type)})`);
    }
  }
  return types as MisreadHashType[];
}

/** A whole number of at least `min` (default 1), e.g. `--limit 1000`. */
export function parseCount(flag: string, value: string, min = 1): number {
  const text = value.trim().replaceAll('_', '');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be a whole number of at least ${min} (got ${quote(value)})`);
  }
  return n;
}
