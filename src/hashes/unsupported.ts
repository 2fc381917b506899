/** Formats recognised only to say why they cannot be imported, each with its code and explanation. */
import { unsupported } from './result.js';
import type { HashFormat, HashOptions, UnsupportedCode, UnsupportedHash } from './types.js';

const SIX_TYPES =
  'WorkOS imports only bcrypt, scrypt, Firebase scrypt, SSHA (salted SHA-1), PBKDF2 and Argon2 hashes';

type NativelyUnsupported = Exclude<
  HashFormat,
  | 'bcrypt'
  | 'django-bcrypt'
  | 'argon2'
  | 'django-argon2'
  | 'scrypt'
  | 'django-scrypt'
  | 'werkzeug-scrypt'
  | 'pbkdf2'
  | 'passlib-pbkdf2'
  | 'django-pbkdf2-sha256'
  | 'django-pbkdf2-sha1'
  | 'werkzeug-pbkdf2'
  | 'atlassian-pbkdf2'
  | 'aspnet-identity-v2'
  | 'aspnet-identity-v3'
  | 'ssha'
  | 'firebase-scrypt'
>;

const unsalted = (name: string) =>
  `This is an unsalted ${name} digest; ${SIX_TYPES}, and a fast unsalted digest cannot be expressed as any of them.`;
const salted = (name: string, where: string) =>
  `This is a salted ${name} digest (${where}), a single fast hash; ${SIX_TYPES}, and none of them can express it.`;

const TABLE: Record<NativelyUnsupported, { code: UnsupportedCode; what: string }> = {
  md5: { code: 'unsalted_digest', what: unsalted('MD5') },
  sha1: { code: 'unsalted_digest', what: unsalted('SHA-1') },
  sha256: { code: 'unsalted_digest', what: unsalted('SHA-256') },
  sha512: { code: 'unsalted_digest', what: unsalted('SHA-512') },
  'salted-md5': {
    code: 'salted_digest',
    what: salted('MD5', "Django's MD5PasswordHasher, Werkzeug's legacy salted methods, or LDAP {SMD5}"),
  },
  'salted-sha1': {
    code: 'salted_digest',
    what: salted('SHA-1', "Django's SHA1PasswordHasher or Werkzeug's legacy salted methods"),
  },
  'salted-sha256': { code: 'salted_digest', what: salted('SHA-256', "Werkzeug's legacy salted methods") },
  'salted-sha512': { code: 'salted_digest', what: salted('SHA-512', "Werkzeug's legacy salted methods") },
  'md5-crypt': {
    code: 'crypt_md5',
    what: `This is an MD5-crypt hash ($1$ or Apache's $apr1$); ${SIX_TYPES}.`,
  },
  'sha256-crypt': {
    code: 'crypt_sha',
    what: `This is a SHA-256-crypt hash ($5$, as in /etc/shadow); ${SIX_TYPES}.`,
  },
  'sha512-crypt': {
    code: 'crypt_sha',
    what: `This is a SHA-512-crypt hash ($6$, as in /etc/shadow); ${SIX_TYPES}.`,
  },
  phpass: {
    code: 'phpass',
    what: `This is a phpass portable hash ($P$ or $H$: WordPress before 6.8, phpBB and other PHP apps), an iterated MD5; ${SIX_TYPES}.`,
  },
  drupal7: {
    code: 'phpass',
    what: `This is a Drupal 7 password hash ($S$), phpass with iterated SHA-512; ${SIX_TYPES}.`,
  },
  'django-bcrypt-sha256': {
    code: 'bcrypt_sha256_prehash',
    what: "This is Django's BCryptSHA256PasswordHasher: bcrypt applied to a SHA-256 of the password, not to the password itself, so WorkOS's bcrypt check cannot verify it.",
  },
  'passlib-bcrypt-sha256': {
    code: 'bcrypt_sha256_prehash',
    what: "This is passlib's bcrypt_sha256: bcrypt applied to a SHA-256 (or HMAC-SHA256) of the password, not to the password itself, so WorkOS's bcrypt check cannot verify it.",
  },
  'wordpress-bcrypt': {
    code: 'bcrypt_sha384_prehash',
    what: "This is WordPress 6.8+'s $wp$ hash: bcrypt applied to an HMAC-SHA384 of the password, not to the password itself, so WorkOS's bcrypt check cannot verify it.",
  },
  ssha256: {
    code: 'ssha_variant',
    what: "This is an LDAP {SSHA256} hash (salted SHA-256); WorkOS's ssha type is salted SHA-1 only.",
  },
  ssha384: {
    code: 'ssha_variant',
    what: "This is an LDAP {SSHA384} hash (salted SHA-384); WorkOS's ssha type is salted SHA-1 only.",
  },
  ssha512: {
    code: 'ssha_variant',
    what: "This is an LDAP {SSHA512} hash (salted SHA-512); WorkOS's ssha type is salted SHA-1 only.",
  },
  unusable: {
    code: 'unusable_password',
    what: 'Django marks this user as having no usable password (set_unusable_password, typical of social-login accounts).',
  },
  empty: { code: 'empty', what: 'The stored password is empty.' },
  unknown: {
    code: 'unknown_format',
    what: 'The stored value matches no password hash format this library recognises (bcrypt, Argon2, scrypt and PBKDF2 in their PHC, Django, Werkzeug, passlib, ASP.NET Identity and Atlassian forms, {SSHA}, Firebase scrypt, and the unsupported digests and crypt formats).',
  },
};

const HEX_NAMES = { md5: 'MD5', sha1: 'SHA-1', sha256: 'SHA-256', sha512: 'SHA-512' } as const;

export function isNativelyUnsupported(format: HashFormat): format is NativelyUnsupported {
  return Object.hasOwn(TABLE, format);
}

/**
 * The result for a format WorkOS can never take. `bareHex` is set when the value was a bare hex column, so
 * the reason can say how it was read.
 */
export function explainUnsupported(
  format: NativelyUnsupported,
  context: { bareHex?: boolean; options?: HashOptions } = {},
): UnsupportedHash {
  const entry = TABLE[format];
  if (
    context.bareHex &&
    (format === 'md5' || format === 'sha1' || format === 'sha256' || format === 'sha512')
  ) {
    const configured = context.options?.bareHexFormat;
    const how =
      configured === format
        ? 'as configured by hashOptions.bareHexFormat'
        : configured === undefined
          ? 'read by its length; set hashOptions.bareHexFormat if the column holds another digest'
          : 'read by its length, which does not fit the digest hashOptions.bareHexFormat names';
    return unsupported(
      format,
      'unsalted_digest',
      `This is a bare hex ${HEX_NAMES[format]} digest (${how}); ${SIX_TYPES}, and a fast digest (salted elsewhere or not) cannot be expressed as any of them.`,
    );
  }
  return unsupported(format, entry.code, entry.what);
}
