/**
 * Strict decoders for the encodings stored hashes use. Node's Buffer.from(text, 'base64') silently skips
 * characters it does not know, so every decoder checks the alphabet first and returns null on anything
 * else. All patterns are single character classes: linear time on any input.
 */
import { Buffer } from 'node:buffer';

export type Base64Alphabet =
  /** RFC 4648 `+/`, `=` padding optional (PHC omits it, most tools write it). */
  | 'standard'
  /** RFC 4648 URL-safe `-_`, padding optional. */
  | 'url'
  /** Either of the above, but not both in one string (Firebase exports use both). */
  | 'standard-or-url'
  /** passlib's "adapted base64" (ab64): `.` instead of `+`, no padding. */
  | 'adapted';

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;
const ADAPTED = /^[A-Za-z0-9./]*$/;

export function decodeBase64(text: string, alphabet: Base64Alphabet = 'standard'): Buffer | null {
  let standard: string;
  switch (alphabet) {
    case 'standard':
      if (!STANDARD.test(text)) return null;
      standard = text;
      break;
    case 'url':
      if (!URL_SAFE.test(text)) return null;
      standard = text.replaceAll('-', '+').replaceAll('_', '/');
      break;
    case 'standard-or-url':
      return decodeBase64(text, 'standard') ?? decodeBase64(text, 'url');
    case 'adapted':
      if (!ADAPTED.test(text)) return null;
      standard = text.replaceAll('.', '+');
      break;
  }
  const body = standard.replace(/=+$/, '');
  const padding = standard.length - body.length;
  // A lone trailing character carries only 6 bits: no encoder writes that.
  if (body.length % 4 === 1) return null;
  if (padding > 0 && standard.length % 4 !== 0) return null;
  return Buffer.from(body, 'base64');
}

/** Lower- or upper-case hex, even length. */
export function decodeHex(text: string): Buffer | null {
  if (text.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) return null;
  return Buffer.from(text, 'hex');
}

/** Standard alphabet, no padding: the encoding of PHC strings and of WorkOS's firebase-scrypt fields. */
export function base64Unpadded(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

/** Standard alphabet with padding. */
export function base64Padded(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
