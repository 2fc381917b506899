/**
 * The parameter ranges WorkOS documents for imported hashes (migration guide, "Importing passwords"):
 * PBKDF2 only with SHA-256 (600,000 to 1,000,000 iterations) or SHA-512 (210,000 to 1,000,000);
 * Argon2 only version 19, 4,096 to 262,144 KiB, 1 to 5 passes (argon2i at least 3), 1 to 8 lanes.
 * Outside them WorkOS asks customers to contact support, so a hash outside is not imported: its user
 * migrates at login or gets a reset, with a code saying which parameter is out. `HashOptions.workosRanges`
 * replaces a range for an environment WorkOS widened.
 */
import type { Pbkdf2Digest } from './emit.js';
import { groupDigits, unsupported } from './result.js';
import type {
  HashFormat,
  HashOptions,
  HashParameterRange,
  UnsupportedHash,
  WorkosHashRanges,
} from './types.js';

export interface ResolvedRanges {
  pbkdf2Iterations: Partial<Record<Pbkdf2Digest, HashParameterRange>>;
  argon2Versions: readonly (16 | 19)[];
  argon2MemoryKiB: HashParameterRange;
  argon2Time: HashParameterRange;
  argon2iMinTime: number;
  argon2Parallelism: HashParameterRange;
}

export const WORKOS_HASH_RANGES: Readonly<ResolvedRanges> = Object.freeze({
  pbkdf2Iterations: Object.freeze({
    sha256: Object.freeze({ min: 600_000, max: 1_000_000 }),
    sha512: Object.freeze({ min: 210_000, max: 1_000_000 }),
  }),
  argon2Versions: Object.freeze([19] as const),
  argon2MemoryKiB: Object.freeze({ min: 4_096, max: 262_144 }),
  argon2Time: Object.freeze({ min: 1, max: 5 }),
  argon2iMinTime: 3,
  argon2Parallelism: Object.freeze({ min: 1, max: 8 }),
});

const isRange = (value: unknown): value is HashParameterRange =>
  typeof value === 'object' &&
  value !== null &&
  Number.isFinite((value as HashParameterRange).min) &&
  Number.isFinite((value as HashParameterRange).max);

/** The defaults with the customer's widened ranges laid over them; a malformed entry keeps the default. */
export function resolveRanges(options: HashOptions): ResolvedRanges {
  const given: WorkosHashRanges =
    typeof options.workosRanges === 'object' && options.workosRanges !== null ? options.workosRanges : {};
  const pbkdf2Iterations: ResolvedRanges['pbkdf2Iterations'] = { ...WORKOS_HASH_RANGES.pbkdf2Iterations };
  for (const digest of ['sha1', 'sha256', 'sha512'] as const) {
    const range = given.pbkdf2Iterations?.[digest];
    if (isRange(range)) pbkdf2Iterations[digest] = range;
  }
  const versions = Array.isArray(given.argon2Versions)
    ? given.argon2Versions.filter((v) => v === 16 || v === 19)
    : null;
  return {
    pbkdf2Iterations,
    argon2Versions: versions && versions.length > 0 ? versions : WORKOS_HASH_RANGES.argon2Versions,
    argon2MemoryKiB: isRange(given.argon2MemoryKiB)
      ? given.argon2MemoryKiB
      : WORKOS_HASH_RANGES.argon2MemoryKiB,
    argon2Time: isRange(given.argon2Time) ? given.argon2Time : WORKOS_HASH_RANGES.argon2Time,
    argon2iMinTime: Number.isFinite(given.argon2iMinTime)
      ? (given.argon2iMinTime as number)
      : WORKOS_HASH_RANGES.argon2iMinTime,
    argon2Parallelism: isRange(given.argon2Parallelism)
      ? given.argon2Parallelism
      : WORKOS_HASH_RANGES.argon2Parallelism,
  };
}

const WIDEN =
  'outside the range WorkOS documents; if WorkOS support widened it for your environment, set hashOptions.workosRanges.';

const span = (range: HashParameterRange) => `${groupDigits(range.min)} to ${groupDigits(range.max)}`;

export function checkPbkdf2Range(
  format: HashFormat,
  digest: Pbkdf2Digest,
  iterations: number,
  ranges: ResolvedRanges,
): UnsupportedHash | null {
  const range = ranges.pbkdf2Iterations[digest];
  const name = digest.toUpperCase().replace('SHA', 'SHA-');
  if (!range) {
    const accepted = Object.keys(ranges.pbkdf2Iterations).map((d) => d.toUpperCase().replace('SHA', 'SHA-'));
    return unsupported(
      format,
      'pbkdf2_digest_not_supported',
      `This PBKDF2 hash uses HMAC-${name}; WorkOS imports PBKDF2 with ${accepted.join(' or ')} only, so it is ${WIDEN}`,
    );
  }
  if (iterations < range.min || iterations > range.max) {
    return unsupported(
      format,
      iterations < range.min
        ? 'pbkdf2_iterations_below_workos_minimum'
        : 'pbkdf2_iterations_above_workos_maximum',
      `This PBKDF2-${name} hash's iteration count is ${iterations < range.min ? 'below' : 'above'} WorkOS's range for ${name} (${span(range)}), ${WIDEN}`,
    );
  }
  return null;
}

export function checkArgon2Range(
  format: HashFormat,
  fields: { variant: string; version: 16 | 19; m: number; t: number; p: number },
  ranges: ResolvedRanges,
): UnsupportedHash | null {
  const { variant, version, m, t, p } = fields;
  if (!ranges.argon2Versions.includes(version)) {
    return unsupported(
      format,
      'argon2_version_not_supported',
      `This Argon2 hash is version ${version === 16 ? '1.0 (v=16, or no version written)' : '1.3 (v=19)'}; WorkOS imports version ${ranges.argon2Versions.map((v) => (v === 19 ? '1.3 (v=19)' : '1.0 (v=16)')).join(' or ')} only, so it is ${WIDEN}`,
    );
  }
  const memory = ranges.argon2MemoryKiB;
  if (m < memory.min || m > memory.max) {
    return unsupported(
      format,
      'argon2_memory_out_of_range',
      `This Argon2 hash's memory cost (m) is ${m < memory.min ? 'below' : 'above'} WorkOS's ${span(memory)} KiB, ${WIDEN}`,
    );
  }
  const minTime =
    variant === 'argon2i' ? Math.max(ranges.argon2Time.min, ranges.argon2iMinTime) : ranges.argon2Time.min;
  if (t < minTime || t > ranges.argon2Time.max) {
    return unsupported(
      format,
      'argon2_time_out_of_range',
      `This ${variant} hash's time cost (t) is outside WorkOS's ${groupDigits(minTime)} to ${groupDigits(ranges.argon2Time.max)} passes${variant === 'argon2i' ? ' for argon2i' : ''}, ${WIDEN}`,
    );
  }
  const lanes = ranges.argon2Parallelism;
  if (p < lanes.min || p > lanes.max) {
    return unsupported(
      format,
      'argon2_parallelism_out_of_range',
      `This Argon2 hash's parallelism (p) is outside WorkOS's ${span(lanes)} lanes, ${WIDEN}`,
    );
  }
  return null;
}
