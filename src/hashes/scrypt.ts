/**
 * Standard scrypt (not Firebase's variant), re-emitted as WorkOS's `$scrypt$v=1$n=..,r=..,p=..,kl=..$salt$hash`:
 * WorkOS's own form, PHC `$scrypt$ln=..,r=..,p=..$salt$hash` (passlib, @phc/scrypt),
 * Django's `scrypt$<N>$<salt>$<r>$<p>$<base64>` and Werkzeug's `scrypt:<N>:<r>:<p>$<salt>$<hex>`. Django
 * and Werkzeug use the salt string's UTF-8 bytes as the salt and a 64-byte key.
 */
import { Buffer } from 'node:buffer';
import { decodeBase64, decodeHex } from './base64.js';
import { emitScrypt } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { checkSaltAndDigest, converted, isFailure, readCount, readParams, unsupported } from './result.js';
import type { Conversion, HashFormat, UnsupportedHash } from './types.js';

type ScryptFormat = Extract<HashFormat, 'scrypt' | 'django-scrypt' | 'werkzeug-scrypt'>;

export function convertScryptPhc(text: string): Conversion {
  const format = 'scrypt';
  const parts = text.split('$');
  const shape =
    'This looks like a scrypt hash but does not have the form $scrypt$ln=..,r=..,p=..$<salt>$<hash> or $scrypt$v=1$n=..,r=..,p=..,kl=..$<salt>$<hash>, so it was probably truncated or altered.';
  if (parts[0] !== '' || parts[1] !== 'scrypt') return unsupported(format, 'malformed', shape);
  // WorkOS's form carries a version segment and N itself; passlib's carries log2(N).
  const workosForm = parts[2] === 'v=1';
  if (workosForm) parts.splice(2, 1);
  if (parts.length !== 5) return unsupported(format, 'malformed', shape);
  const params = readParams(parts[2] ?? '');
  const names = workosForm ? ['n', 'r', 'p', 'kl'] : ['ln', 'r', 'p'];
  if (params?.size !== names.length || names.some((name) => !params.has(name))) {
    return unsupported(format, 'malformed', shape);
  }
  const ln = workosForm
    ? readLog2N(format, params.get('n'))
    : readCount(format, params.get('ln'), 1, HASH_LIMITS.scryptMaxLn, 'scrypt log2(N) (ln)');
  if (isFailure(ln)) return ln;
  const salt = decodeBase64(parts[3] ?? '');
  const hash = decodeBase64(parts[4] ?? '');
  if (!salt || !hash)
    return unsupported(
      format,
      'malformed',
      'This scrypt hash has a salt or digest that is not valid base64.',
    );
  if (workosForm && params.get('kl') !== String(hash.length)) {
    return unsupported(
      format,
      'malformed',
      'This scrypt hash has a key length (kl) that does not match its digest, so it was probably truncated or altered.',
    );
  }
  return finish(format, ln, params.get('r'), params.get('p'), salt, hash);
}

/** `scrypt$<N>$<salt>$<r>$<p>$<base64 key>` (Django 4.0+). */
export function convertDjangoScrypt(text: string): Conversion {
  const format = 'django-scrypt';
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return unsupported(
      format,
      'malformed',
      'This looks like a Django scrypt hash but does not have the form scrypt$<N>$<salt>$<r>$<p>$<hash>, so it was probably truncated or altered.',
    );
  }
  const ln = readLog2N(format, parts[1]);
  if (isFailure(ln)) return ln;
  const hash = decodeBase64(parts[5] ?? '');
  if (!hash)
    return unsupported(format, 'malformed', 'This Django scrypt hash has a digest that is not valid base64.');
  return finish(format, ln, parts[3], parts[4], Buffer.from(parts[2] ?? '', 'utf8'), hash);
}

/** `scrypt:<N>:<r>:<p>$<salt>$<hex key>` (Werkzeug 3.0+). */
export function convertWerkzeugScrypt(text: string): Conversion {
  const format = 'werkzeug-scrypt';
  const parts = text.split('$');
  const method = (parts[0] ?? '').split(':');
  if (parts.length !== 3 || method[0] !== 'scrypt') {
    return unsupported(
      format,
      'malformed',
      'This looks like a Werkzeug scrypt hash but does not have the form scrypt:<N>:<r>:<p>$<salt>$<hex>, so it was probably truncated or altered.',
    );
  }
  if (method.length !== 4) {
    return unsupported(
      format,
      'malformed',
      'This Werkzeug scrypt hash does not record its N, r and p parameters (Werkzeug always writes them as scrypt:N:r:p), so they cannot be known for sure.',
    );
  }
  const ln = readLog2N(format, method[1]);
  if (isFailure(ln)) return ln;
  const hash = decodeHex(parts[2] ?? '');
  if (!hash)
    return unsupported(format, 'malformed', 'This Werkzeug scrypt hash has a digest that is not valid hex.');
  return finish(format, ln, method[2], method[3], Buffer.from(parts[1] ?? '', 'utf8'), hash);
}

/** N written out in decimal, which scrypt requires to be a power of two. */
function readLog2N(format: ScryptFormat, text: string | undefined): number | UnsupportedHash {
  const n = readCount(format, text, 2, 2 ** HASH_LIMITS.scryptMaxLn, 'scrypt N');
  if (isFailure(n)) return n;
  const ln = Math.log2(n);
  if (!Number.isInteger(ln)) {
    return unsupported(
      format,
      'malformed',
      'This scrypt hash has an N that is not a power of two, which scrypt forbids.',
    );
  }
  return ln;
}

function finish(
  format: ScryptFormat,
  ln: number,
  rText: string | undefined,
  pText: string | undefined,
  salt: Uint8Array,
  hash: Uint8Array,
): Conversion {
  const r = readCount(format, rText, 1, HASH_LIMITS.scryptMaxR, 'scrypt block size (r)');
  if (isFailure(r)) return r;
  const p = readCount(format, pText, 1, HASH_LIMITS.scryptMaxP, 'scrypt parallelism (p)');
  if (isFailure(p)) return p;
  const memory = 128 * r * 2 ** ln;
  if (memory > HASH_LIMITS.scryptMaxMemoryBytes || memory * p > HASH_LIMITS.scryptMaxWorkBytes) {
    return unsupported(
      format,
      'cost_out_of_range',
      `This scrypt hash needs more than ${HASH_LIMITS.scryptMaxMemoryBytes / 2 ** 30} GiB of memory or ${HASH_LIMITS.scryptMaxWorkBytes / 2 ** 30} GiB of work per login, more than this library passes on to WorkOS; it is refused rather than computed.`,
    );
  }
  const sizes = checkSaltAndDigest(format, 'scrypt', salt, hash);
  if (sizes) return sizes;
  return converted(format, 'scrypt', emitScrypt({ n: 2 ** ln, r, p, salt, hash }));
}
