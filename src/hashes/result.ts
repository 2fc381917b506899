/**
 * Building results, and the small checks every parser shares. Reasons are assembled only from fixed text
 * and from this library's own bounds: nothing from the input (no salt, digest or parameter) ever reaches one.
 */
import { HASH_LIMITS } from './limits.js';
import type {
  ConvertedHash,
  HashFormat,
  UnsupportedCode,
  UnsupportedHash,
  WorkosPasswordHashType,
} from './types.js';

/** What happens to a user whose password cannot be imported (the library's default routing). */
export const MIGRATES_AT_LOGIN =
  'Their password stays with the app: the user is moved to WorkOS at their next successful login, or is sent a password reset.';

const NO_PASSWORD =
  'There is nothing to import: the user signs in another way (e.g. a social login) or sets a password through a reset.';

export function converted(
  format: HashFormat,
  passwordHashType: WorkosPasswordHashType,
  passwordHash: string,
): ConvertedHash {
  return { ok: true, format, passwordHash, passwordHashType };
}

/** `what` says what the value is and why WorkOS can't take it; the outcome sentence is appended. */
export function unsupported(format: HashFormat, code: UnsupportedCode, what: string): UnsupportedHash {
  const outcome = code === 'empty' || code === 'unusable_password' ? NO_PASSWORD : MIGRATES_AT_LOGIN;
  return { ok: false, unsupported: true, format, code, reason: `${what} ${outcome}` };
}

export function isFailure(value: unknown): value is UnsupportedHash {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false;
}

/**
 * A decimal count between `min` and `max`. Below `min` (or not a number) is malformed; above `max` is a
 * cost out of range. `label` names the field in the reason, e.g. "bcrypt cost".
 */
export function readCount(
  format: HashFormat,
  text: string | undefined,
  min: number,
  max: number,
  label: string,
): number | UnsupportedHash {
  if (text === undefined || !/^\d+$/.test(text)) {
    return unsupported(
      format,
      'malformed',
      `The ${label} is missing or not a whole number, so the value is damaged.`,
    );
  }
  const digits = text.replace(/^0+(?=\d)/, '');
  const value = digits.length > 15 ? Number.POSITIVE_INFINITY : Number(digits);
  if (value > max) {
    return unsupported(
      format,
      'cost_out_of_range',
      `The ${label} is above ${groupDigits(max)}, the most this library passes on to WorkOS (every login would take too long); it is refused rather than computed.`,
    );
  }
  if (value < min) {
    return unsupported(format, 'malformed', `The ${label} is below ${min}, which no implementation writes.`);
  }
  return value;
}

/** 1048576 -> "1,048,576" (no Intl: its first use costs tens of milliseconds). */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}

/** A PHC-style `k=v,k=v` list. null when an item is empty, lacks a name or repeats one. */
export function readParams(text: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return null;
    const name = item.slice(0, eq);
    if (out.has(name)) return null;
    out.set(name, item.slice(eq + 1));
  }
  return out;
}

/** Salt and digest sizes every emitted hash must respect. */
export function checkSaltAndDigest(
  format: HashFormat,
  name: string,
  salt: Uint8Array,
  digest: Uint8Array,
  minSalt = 1,
): UnsupportedHash | null {
  if (salt.length === 0) return unsupported(format, 'malformed', `This ${name} hash has an empty salt.`);
  if (salt.length < minSalt) {
    return unsupported(format, 'malformed', `This ${name} hash has a salt shorter than ${minSalt} bytes.`);
  }
  if (salt.length > HASH_LIMITS.maxSaltBytes) {
    return unsupported(
      format,
      'malformed',
      `This ${name} hash has a salt longer than ${HASH_LIMITS.maxSaltBytes} bytes.`,
    );
  }
  if (digest.length < HASH_LIMITS.minDigestBytes) {
    return unsupported(
      format,
      'malformed',
      `This ${name} hash has a digest shorter than ${HASH_LIMITS.minDigestBytes} bytes, so it was probably truncated (check the column's length).`,
    );
  }
  if (digest.length > HASH_LIMITS.maxDigestBytes) {
    return unsupported(
      format,
      'malformed',
      `This ${name} hash has a digest longer than ${HASH_LIMITS.maxDigestBytes} bytes.`,
    );
  }
  return null;
}
