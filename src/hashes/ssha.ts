/** LDAP `{SSHA}`: base64(sha1(password + salt) + salt), salt of any non-empty length. */
import { decodeBase64 } from './base64.js';
import { emitSsha } from './emit.js';
import { HASH_LIMITS } from './limits.js';
import { converted, unsupported } from './result.js';
import type { Conversion } from './types.js';

const SHA1_BYTES = 20;

/** `text` starts with `{SSHA}` in any letter case (LDAP scheme names are case-insensitive). */
export function convertSsha(text: string): Conversion {
  const format = 'ssha';
  const raw = decodeBase64(text.slice('{SSHA}'.length));
  if (!raw) return unsupported(format, 'malformed', 'This {SSHA} hash is not valid base64 after the scheme.');
  if (raw.length <= SHA1_BYTES) {
    return unsupported(
      format,
      'malformed',
      'This {SSHA} hash is too short to hold a 20-byte SHA-1 digest followed by a salt, so it was probably truncated or is unsalted.',
    );
  }
  if (raw.length - SHA1_BYTES > HASH_LIMITS.maxSaltBytes) {
    return unsupported(
      format,
      'malformed',
      `This {SSHA} hash has a salt longer than ${HASH_LIMITS.maxSaltBytes} bytes.`,
    );
  }
  return converted(format, 'ssha', emitSsha(raw.subarray(0, SHA1_BYTES), raw.subarray(SHA1_BYTES)));
}
