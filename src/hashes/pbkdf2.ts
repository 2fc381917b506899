/**
 * PBKDF2 in its common envelopes, all re-emitted as WorkOS's `$pbkdf2$i=..,d=..$salt$hash`:
 * - WorkOS's own `$pbkdf2$i=<iterations>,d=<digest>$<salt>$<hash>` (standard base64);
 * - PHC `$pbkdf2-<digest>$i=<iterations>[,l=<key length>]$<salt>$<hash>` (standard base64);
 * - passlib `$pbkdf2-<digest>$<rounds>$<salt>$<hash>` and `$pbkdf2$...` (SHA-1), in passlib's "adapted
 *   base64" (`.` for `+`, no padding); the salt is the decoded bytes;
 * - Django `pbkdf2_sha256$<iterations>$<salt>$<base64>` and `pbkdf2_sha1$...` (salt = the string's UTF-8);
 * - Werkzeug `pbkdf2:<digest>:<iterations>$<salt>$<hex>` (salt = the string's UTF-8);
 * - Atlassian `{PKCS5S2}` + base64(16-byte salt + 32-byte key), PBKDF2-HMAC-SHA1 with 10,000 iterations.
 * ASP.NET Identity's blobs are in aspnet.ts.
 */
import { Buffer } from 'node:buffer';
import { decodeBase64, decodeHex } from './base64.js';
import { emitPbkdf2, type Pbkdf2Digest } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { checkPbkdf2Range, type ResolvedRanges } from './ranges.js';
import { checkSaltAndDigest, converted, isFailure, readCount, readParams, unsupported } from './result.js';
import type { Conversion, HashFormat, UnsupportedHash } from './types.js';

type Pbkdf2Format = Extract<
  HashFormat,
  | 'pbkdf2'
  | 'passlib-pbkdf2'
  | 'django-pbkdf2-sha256'
  | 'django-pbkdf2-sha1'
  | 'werkzeug-pbkdf2'
  | 'atlassian-pbkdf2'
  | 'aspnet-identity-v2'
  | 'aspnet-identity-v3'
>;

const DIGESTS: readonly string[] = ['sha1', 'sha256', 'sha512'];

function isDigest(name: string | undefined): name is Pbkdf2Digest {
  return name !== undefined && DIGESTS.includes(name);
}

function otherDigest(format: Pbkdf2Format): Conversion {
  return unsupported(
    format,
    'unsupported_variant',
    'This PBKDF2 hash uses an HMAC digest other than SHA-1, SHA-256 or SHA-512, which WorkOS cannot verify.',
  );
}

export function readIterations(format: Pbkdf2Format, text: string | undefined): number | UnsupportedHash {
  return readCount(format, text, 1, HASH_LIMITS.pbkdf2MaxIterations, 'PBKDF2 iteration count');
}

/** Checks sizes and WorkOS's ranges, then emits; every PBKDF2 envelope ends here. */
export function finishPbkdf2(
  format: Pbkdf2Format,
  digest: Pbkdf2Digest,
  iterations: number,
  salt: Uint8Array,
  hash: Uint8Array,
  ranges: ResolvedRanges,
): Conversion {
  const sizes = checkSaltAndDigest(format, 'PBKDF2', salt, hash);
  if (sizes) return sizes;
  const range = checkPbkdf2Range(format, digest, iterations, ranges);
  if (range) return range;
  return converted(format, 'pbkdf2', emitPbkdf2({ digest, iterations, salt, hash }));
}

/** `$pbkdf2-<digest>$i=..[,l=..]$salt$hash` (PHC), or WorkOS's `$pbkdf2$i=..,d=<digest>$salt$hash`. */
export function convertPbkdf2Phc(text: string, ranges: ResolvedRanges): Conversion {
  const format = 'pbkdf2';
  const parts = text.split('$');
  const shape =
    'This looks like a PBKDF2 hash but does not have the form $pbkdf2-<digest>$i=..,l=..$<salt>$<hash> or $pbkdf2$i=..,d=<digest>$<salt>$<hash>, so it was probably truncated or altered.';
  const id = parts[1] ?? '';
  const workosForm = id === 'pbkdf2';
  if (parts[0] !== '' || !(workosForm || id.startsWith('pbkdf2-')))
    return unsupported(format, 'malformed', shape);
  if (parts.length !== 5) return unsupported(format, 'malformed', shape);
  const params = readParams(parts[2] ?? '');
  const allowed = workosForm ? ['i', 'd'] : ['i', 'l'];
  if (
    !params?.has('i') ||
    (workosForm && !params.has('d')) ||
    [...params.keys()].some((k) => !allowed.includes(k))
  ) {
    return unsupported(format, 'malformed', shape);
  }
  const digest = workosForm ? params.get('d') : id.slice('pbkdf2-'.length);
  if (!isDigest(digest)) return otherDigest(format);
  const iterations = readIterations(format, params.get('i'));
  if (isFailure(iterations)) return iterations;
  const salt = decodeBase64(parts[3] ?? '');
  const hash = decodeBase64(parts[4] ?? '');
  if (!salt || !hash)
    return unsupported(
      format,
      'malformed',
      'This PBKDF2 hash has a salt or digest that is not valid base64.',
    );
  if (params.has('l') && params.get('l') !== String(hash.length)) {
    return unsupported(
      format,
      'malformed',
      'This PBKDF2 hash has a key length (l) that does not match its digest, so it was probably truncated or altered.',
    );
  }
  return finishPbkdf2(format, digest, iterations, salt, hash, ranges);
}

/** passlib: `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>`, `$pbkdf2-sha512$...`, `$pbkdf2$...` (SHA-1). */
export function convertPasslibPbkdf2(text: string, ranges: ResolvedRanges): Conversion {
  const format = 'passlib-pbkdf2';
  const parts = text.split('$');
  const id = parts[1] ?? '';
  if (parts.length !== 5 || parts[0] !== '' || (id !== 'pbkdf2' && !id.startsWith('pbkdf2-'))) {
    return unsupported(
      format,
      'malformed',
      'This looks like a passlib PBKDF2 hash but does not have the form $pbkdf2-<digest>$<rounds>$<salt>$<hash>, so it was probably truncated or altered.',
    );
  }
  const digest = id === 'pbkdf2' ? 'sha1' : id.slice('pbkdf2-'.length);
  if (!isDigest(digest)) return otherDigest(format);
  const iterations = readIterations(format, parts[2]);
  if (isFailure(iterations)) return iterations;
  const salt = decodeBase64(parts[3] ?? '', 'adapted');
  const hash = decodeBase64(parts[4] ?? '', 'adapted');
  if (!salt || !hash) {
    return unsupported(
      format,
      'malformed',
      "This passlib PBKDF2 hash has a salt or digest that is not in passlib's adapted base64.",
    );
  }
  return finishPbkdf2(format, digest, iterations, salt, hash, ranges);
}

/** Django: `pbkdf2_sha256$<iterations>$<salt>$<base64>` and `pbkdf2_sha1$...`. */
export function convertDjangoPbkdf2(text: string, ranges: ResolvedRanges): Conversion {
  const parts = text.split('$');
  const digest = parts[0] === 'pbkdf2_sha1' ? 'sha1' : 'sha256';
  const format = digest === 'sha1' ? 'django-pbkdf2-sha1' : 'django-pbkdf2-sha256';
  if (parts.length !== 4) {
    return unsupported(
      format,
      'malformed',
      'This looks like a Django PBKDF2 hash but does not have the form <algorithm>$<iterations>$<salt>$<hash>, so it was probably truncated or altered.',
    );
  }
  const iterations = readIterations(format, parts[1]);
  if (isFailure(iterations)) return iterations;
  const hash = decodeBase64(parts[3] ?? '');
  if (!hash)
    return unsupported(format, 'malformed', 'This Django PBKDF2 hash has a digest that is not valid base64.');
  return finishPbkdf2(format, digest, iterations, Buffer.from(parts[2] ?? '', 'utf8'), hash, ranges);
}

/** Werkzeug: `pbkdf2:<digest>:<iterations>$<salt>$<hex>`. */
export function convertWerkzeugPbkdf2(text: string, ranges: ResolvedRanges): Conversion {
  const format = 'werkzeug-pbkdf2';
  const parts = text.split('$');
  const method = (parts[0] ?? '').split(':');
  if (parts.length !== 3 || method[0] !== 'pbkdf2' || method.length < 2 || method.length > 3) {
    return unsupported(
      format,
      'malformed',
      'This looks like a Werkzeug PBKDF2 hash but does not have the form pbkdf2:<digest>:<iterations>$<salt>$<hex>, so it was probably truncated or altered.',
    );
  }
  const digest = method[1];
  if (!isDigest(digest)) return otherDigest(format);
  if (method.length === 2) {
    // Werkzeug always records the count it used; without it the count would be whatever default the
    // verifying Werkzeug version has (150,000 / 260,000 / 600,000 / 1,000,000 over the years).
    return unsupported(
      format,
      'malformed',
      'This Werkzeug PBKDF2 hash does not record its iteration count (Werkzeug writes pbkdf2:<digest>:<iterations>); the count depended on the Werkzeug version, so it cannot be known for sure.',
    );
  }
  const iterations = readIterations(format, method[2]);
  if (isFailure(iterations)) return iterations;
  const hash = decodeHex(parts[2] ?? '');
  if (!hash)
    return unsupported(format, 'malformed', 'This Werkzeug PBKDF2 hash has a digest that is not valid hex.');
  return finishPbkdf2(format, digest, iterations, Buffer.from(parts[1] ?? '', 'utf8'), hash, ranges);
}

/** Atlassian (Jira, Confluence, Crowd, Bitbucket): `{PKCS5S2}` + base64(salt[16] + key[32]). */
export function convertAtlassianPbkdf2(text: string, ranges: ResolvedRanges): Conversion {
  const format = 'atlassian-pbkdf2';
  const raw = decodeBase64(text.slice('{PKCS5S2}'.length));
  if (raw?.length !== 48) {
    return unsupported(
      format,
      'malformed',
      'This looks like an Atlassian {PKCS5S2} hash but is not base64 of a 16-byte salt and a 32-byte key, so it was probably truncated or altered.',
    );
  }
  return finishPbkdf2(format, 'sha1', 10_000, raw.subarray(0, 16), raw.subarray(16), ranges);
}
