/**
 * Recognising a stored value's format from its prefix and structure alone. Only fixed-position slicing,
 * prefix tests and single-class anchored patterns: linear time, and nothing beyond HASH_LIMITS.maxInputChars
 * is looked at.
 */
import { detectAspnetIdentity } from './aspnet.js';
import { HASH_LIMITS } from './limits.js';
import type { FirebaseStoredHash, HashFormat } from './types.js';

export type Identified =
  | { kind: 'text'; format: HashFormat; text: string; bareHex?: boolean }
  | { kind: 'firebase'; format: 'firebase-scrypt'; stored: FirebaseStoredHash }
  | { kind: 'empty'; format: 'empty' }
  | { kind: 'invalid'; format: 'unknown'; why: 'too_long' | 'not_a_hash' | 'firebase_shape' };

const MODULAR: Record<string, HashFormat> = {
  '2a': 'bcrypt',
  '2b': 'bcrypt',
  '2y': 'bcrypt',
  '2x': 'bcrypt',
  '2': 'bcrypt',
  argon2id: 'argon2',
  argon2i: 'argon2',
  argon2d: 'argon2',
  scrypt: 'scrypt',
  pbkdf2: 'passlib-pbkdf2',
  'firebase-scrypt': 'firebase-scrypt',
  '1': 'md5-crypt',
  apr1: 'md5-crypt',
  '5': 'sha256-crypt',
  '6': 'sha512-crypt',
  P: 'phpass',
  H: 'phpass',
  S: 'drupal7',
  'bcrypt-sha256': 'passlib-bcrypt-sha256',
  wp: 'wordpress-bcrypt',
};

/** LDAP-style `{SCHEME}` prefixes (case-insensitive). */
const SCHEMES: Record<string, HashFormat> = {
  SSHA: 'ssha',
  SSHA256: 'ssha256',
  SSHA384: 'ssha384',
  SSHA512: 'ssha512',
  SHA: 'sha1',
  SHA256: 'sha256',
  SHA512: 'sha512',
  MD5: 'md5',
  SMD5: 'salted-md5',
  PKCS5S2: 'atlassian-pbkdf2',
};

/** `<algorithm>$` or `<algorithm>:` envelopes (Django, Werkzeug). */
const ENVELOPES: Record<string, HashFormat> = {
  bcrypt$: 'django-bcrypt',
  bcrypt_sha256$: 'django-bcrypt-sha256',
  argon2$: 'django-argon2',
  scrypt$: 'django-scrypt',
  'scrypt:': 'werkzeug-scrypt',
  pbkdf2_sha256$: 'django-pbkdf2-sha256',
  pbkdf2_sha1$: 'django-pbkdf2-sha1',
  'pbkdf2:': 'werkzeug-pbkdf2',
  unsalted_md5$: 'md5',
  unsalted_sha1$: 'sha1',
};

/** Django's and Werkzeug's `<digest>$<salt>$<hex>`; an empty salt means unsalted. */
const DIGEST_ENVELOPES: Record<string, readonly [HashFormat, HashFormat]> = {
  md5: ['md5', 'salted-md5'],
  sha1: ['sha1', 'salted-sha1'],
  sha256: ['sha256', 'salted-sha256'],
  sha512: ['sha512', 'salted-sha512'],
};

const HEX_LENGTHS: Record<number, 'md5' | 'sha1' | 'sha256' | 'sha512'> = {
  32: 'md5',
  40: 'sha1',
  64: 'sha256',
  128: 'sha512',
};

export function identify(stored: unknown): Identified {
  if (stored === null || stored === undefined) return { kind: 'empty', format: 'empty' };
  if (typeof stored === 'string') {
    if (stored.length > HASH_LIMITS.maxInputChars)
      return { kind: 'invalid', format: 'unknown', why: 'too_long' };
    const text = stored.trim();
    if (text === '') return { kind: 'empty', format: 'empty' };
    return identifyText(text);
  }
  if (typeof stored === 'object') {
    const { hash, salt } = stored as Partial<Record<keyof FirebaseStoredHash, unknown>>;
    if (typeof hash !== 'string' || typeof salt !== 'string') {
      return { kind: 'invalid', format: 'unknown', why: 'firebase_shape' };
    }
    if (hash.length > HASH_LIMITS.maxInputChars || salt.length > HASH_LIMITS.maxInputChars) {
      return { kind: 'invalid', format: 'unknown', why: 'too_long' };
    }
    if (hash.trim() === '') return { kind: 'empty', format: 'empty' };
    return { kind: 'firebase', format: 'firebase-scrypt', stored: { hash, salt } };
  }
  return { kind: 'invalid', format: 'unknown', why: 'not_a_hash' };
}

function identifyText(text: string): Identified {
  const found = (format: HashFormat, bareHex?: boolean): Identified =>
    bareHex ? { kind: 'text', format, text, bareHex } : { kind: 'text', format, text };

  // Django's set_unusable_password(): "!" and 40 random letters and digits (a bare "!" before Django 1.6).
  if (text === '!' || (text.length === 41 && /^![A-Za-z0-9]{40}$/.test(text))) return found('unusable');

  if (text.startsWith('$')) {
    const end = text.indexOf('$', 1);
    const id = end === -1 ? text.slice(1) : text.slice(1, end);
    // `$pbkdf2$i=..,d=..` is WorkOS's own PBKDF2 form; `$pbkdf2$<rounds>$` is passlib's SHA-1 one.
    if (id === 'pbkdf2' && text.startsWith('$pbkdf2$i=')) return found('pbkdf2');
    const format = Object.hasOwn(MODULAR, id) ? MODULAR[id] : undefined;
    if (format) return found(format);
    if (id.startsWith('pbkdf2-')) {
      // passlib writes the rounds as a bare number; PHC writes i=<rounds>.
      const next = end === -1 ? -1 : text.indexOf('$', end + 1);
      const params = end === -1 ? '' : text.slice(end + 1, next === -1 ? undefined : next);
      return found(/^\d+$/.test(params) ? 'passlib-pbkdf2' : 'pbkdf2');
    }
    return found('unknown');
  }

  if (text.startsWith('{')) {
    const end = text.indexOf('}');
    const scheme = end > 1 && end <= 16 ? text.slice(1, end).toUpperCase() : '';
    const format = Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
    return found(format ?? 'unknown');
  }

  const sep = /^[a-z0-9_]{1,20}[$:]/.exec(text);
  if (sep) {
    const prefix = sep[0];
    const envelope = Object.hasOwn(ENVELOPES, prefix) ? ENVELOPES[prefix] : undefined;
    if (envelope) return found(envelope);
    const algorithm = prefix.slice(0, -1);
    const pair =
      prefix.endsWith('$') && Object.hasOwn(DIGEST_ENVELOPES, algorithm)
        ? DIGEST_ENVELOPES[algorithm]
        : undefined;
    if (pair) {
      const saltEnd = text.indexOf('$', prefix.length);
      const salt = saltEnd === -1 ? text.slice(prefix.length) : text.slice(prefix.length, saltEnd);
      return found(salt === '' ? pair[0] : pair[1]);
    }
  }

  const hexFormat = HEX_LENGTHS[text.length];
  if (hexFormat && /^[0-9A-Fa-f]+$/.test(text)) {
    // The length decides; hashOptions.bareHexFormat only makes the reason more precise (explainUnsupported).
    return found(hexFormat, true);
  }

  const aspnet = detectAspnetIdentity(text);
  if (aspnet) return found(aspnet);

  return found('unknown');
}
