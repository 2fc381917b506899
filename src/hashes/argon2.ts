/**
 * Argon2 PHC strings (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`, also argon2i and argon2d; the version may be
 * absent, meaning Argon2 1.0) and Django's `argon2$` envelope around the same string.
 */
import { decodeBase64 } from './base64.js';
import { type Argon2Variant, emitArgon2 } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { checkArgon2Range, type ResolvedRanges } from './ranges.js';
import { checkSaltAndDigest, converted, isFailure, readCount, readParams, unsupported } from './result.js';
import type { Conversion } from './types.js';

const SHAPE =
  'This looks like an Argon2 hash but does not have the form $argon2id$v=19$m=..,t=..,p=..$<salt>$<hash>, so it was probably truncated or altered.';

/** `text` is the PHC string, with any Django prefix already removed. */
export function convertArgon2(
  text: string,
  format: 'argon2' | 'django-argon2',
  ranges: ResolvedRanges,
): Conversion {
  const parts = text.split('$');
  const variant = parts[1];
  if (parts[0] !== '' || (variant !== 'argon2id' && variant !== 'argon2i' && variant !== 'argon2d')) {
    return unsupported(format, 'malformed', SHAPE);
  }
  let version: 16 | 19 = 16;
  if (parts[2]?.startsWith('v=')) {
    const v = parts[2].slice(2);
    if (v === '19') version = 19;
    else if (v !== '16') {
      return unsupported(
        format,
        'malformed',
        'This Argon2 hash names a version other than 1.3 (v=19) or 1.0 (v=16), which no implementation writes.',
      );
    }
    parts.splice(2, 1);
  }
  if (parts.length !== 5) return unsupported(format, 'malformed', SHAPE);
  const params = readParams(parts[2] ?? '');
  if (!params) return unsupported(format, 'malformed', SHAPE);
  if (params.has('keyid') || params.has('data')) {
    return unsupported(
      format,
      'unsupported_variant',
      'This Argon2 hash was made with a secret key or associated data (keyid / data parameters), which WorkOS cannot supply when it verifies a password.',
    );
  }
  for (const name of params.keys()) {
    if (name !== 'm' && name !== 't' && name !== 'p') return unsupported(format, 'malformed', SHAPE);
  }
  const p = readCount(format, params.get('p'), 1, HASH_LIMITS.argon2MaxParallelism, 'Argon2 parallelism (p)');
  if (isFailure(p)) return p;
  const t = readCount(format, params.get('t'), 1, HASH_LIMITS.argon2MaxTime, 'Argon2 time cost (t)');
  if (isFailure(t)) return t;
  const m = readCount(
    format,
    params.get('m'),
    8,
    HASH_LIMITS.argon2MaxMemoryKiB,
    'Argon2 memory cost (m, KiB)',
  );
  if (isFailure(m)) return m;
  if (m < 8 * p) {
    return unsupported(
      format,
      'malformed',
      'This Argon2 hash has less than 8 KiB of memory per lane, which Argon2 forbids.',
    );
  }
  if (m * t > HASH_LIMITS.argon2MaxWorkKiB) {
    return unsupported(
      format,
      'cost_out_of_range',
      `This Argon2 hash's memory times passes is above ${HASH_LIMITS.argon2MaxWorkKiB / 2 ** 20} GiB, more than this library passes on to WorkOS (every login would take too long); it is refused rather than computed.`,
    );
  }
  const salt = decodeBase64(parts[3] ?? '');
  const hash = decodeBase64(parts[4] ?? '');
  if (!salt || !hash) {
    return unsupported(
      format,
      'malformed',
      'This Argon2 hash has a salt or digest that is not valid base64.',
    );
  }
  const sizes = checkSaltAndDigest(format, 'Argon2', salt, hash, HASH_LIMITS.argon2MinSaltBytes);
  if (sizes) return sizes;
  const range = checkArgon2Range(format, { variant, version, m, t, p }, ranges);
  if (range) return range;
  return converted(
    format,
    'argon2',
    emitArgon2({ variant: variant as Argon2Variant, version, m, t, p, salt, hash }),
  );
}
