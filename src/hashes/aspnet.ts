/**
 * ASP.NET Identity's password blobs (base64, standard alphabet with padding):
 * - v2 (Microsoft.AspNet.Identity, and ASP.NET Core Identity in V2 compatibility mode):
 *   0x00 | salt[16] | subkey[32], PBKDF2-HMAC-SHA1 with 1,000 iterations;
 * - v3 (ASP.NET Core Identity): 0x01 | prf (uint32 BE: 0 = HMACSHA1, 1 = HMACSHA256, 2 = HMACSHA512) |
 *   iteration count (uint32 BE) | salt length (uint32 BE) | salt | subkey. Identity itself rejects salts and
 *   subkeys shorter than 16 bytes.
 */
import type { Buffer } from 'node:buffer';
import { decodeBase64 } from './base64.js';
import type { Pbkdf2Digest } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { finishPbkdf2, readIterations } from './pbkdf2.js';
import type { ResolvedRanges } from './ranges.js';
import { isFailure, unsupported } from './result.js';
import type { Conversion } from './types.js';

const V2_LENGTH = 1 + 16 + 32;
const V3_HEADER = 13;
const MIN_PART = 16;
const PRF: readonly Pbkdf2Digest[] = ['sha1', 'sha256', 'sha512'];

/** Canonical padded base64 of a plausible length; anything else is not an Identity blob. */
function decodeBlob(text: string): Buffer | null {
  if (text.length % 4 !== 0 || text.length < 20) return null;
  return decodeBase64(text);
}

interface V3Fields {
  prf: number;
  iterations: number;
  saltLength: number;
}

function v3Fields(raw: Buffer): V3Fields | null {
  if (raw.length < V3_HEADER || raw[0] !== 0x01) return null;
  return { prf: raw.readUInt32BE(1), iterations: raw.readUInt32BE(5), saltLength: raw.readUInt32BE(9) };
}

/** Which Identity version `text` is, judged by its structure; null when it is not one. */
export function detectAspnetIdentity(text: string): 'aspnet-identity-v2' | 'aspnet-identity-v3' | null {
  const raw = decodeBlob(text);
  if (!raw) return null;
  if (raw.length === V2_LENGTH && raw[0] === 0x00) return 'aspnet-identity-v2';
  const v3 = v3Fields(raw);
  // The 13-byte header alone is distinctive enough; a blob cut short after it is a truncated v3 hash
  // (convertAspnetIdentity says so) rather than an unknown format.
  if (v3 && v3.prf < PRF.length && v3.saltLength >= MIN_PART && v3.saltLength <= HASH_LIMITS.maxSaltBytes) {
    return 'aspnet-identity-v3';
  }
  return null;
}

export function convertAspnetIdentity(text: string, ranges: ResolvedRanges): Conversion {
  const raw = decodeBlob(text);
  if (raw && raw.length === V2_LENGTH && raw[0] === 0x00) {
    return finishPbkdf2('aspnet-identity-v2', 'sha1', 1000, raw.subarray(1, 17), raw.subarray(17), ranges);
  }
  const format = 'aspnet-identity-v3';
  const v3 = raw ? v3Fields(raw) : null;
  if (!raw || !v3) {
    return unsupported(format, 'malformed', 'This is not a well-formed ASP.NET Identity password hash.');
  }
  const digest = PRF[v3.prf];
  if (!digest) {
    return unsupported(
      format,
      'malformed',
      'This ASP.NET Identity v3 hash names an unknown PRF (expected HMACSHA1, HMACSHA256 or HMACSHA512).',
    );
  }
  const iterations = readIterations(format, String(v3.iterations));
  if (isFailure(iterations)) return iterations;
  const subkeyLength = raw.length - V3_HEADER - v3.saltLength;
  if (v3.saltLength < MIN_PART || v3.saltLength > HASH_LIMITS.maxSaltBytes || subkeyLength < MIN_PART) {
    return unsupported(
      format,
      'malformed',
      'This ASP.NET Identity v3 hash is shorter than its header says (salt and subkey of at least 16 bytes each), so it was probably truncated (check the column length).',
    );
  }
  const salt = raw.subarray(V3_HEADER, V3_HEADER + v3.saltLength);
  return finishPbkdf2(format, digest, iterations, salt, raw.subarray(V3_HEADER + v3.saltLength), ranges);
}
