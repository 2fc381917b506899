/** The six `password_hash_type` values WorkOS accepts on import (workos-api.md, "Password hash formats"). */
export type WorkosPasswordHashType = 'bcrypt' | 'firebase-scrypt' | 'ssha' | 'scrypt' | 'pbkdf2' | 'argon2';

export const WORKOS_PASSWORD_HASH_TYPES: readonly WorkosPasswordHashType[] = Object.freeze([
  'bcrypt',
  'firebase-scrypt',
  'ssha',
  'scrypt',
  'pbkdf2',
  'argon2',
]);

/**
 * Stable identifiers of the stored formats `detect` recognises. The first group converts to a WorkOS type;
 * the second is recognised only to say precisely why it cannot be imported.
 */
export const HASH_FORMATS = Object.freeze([
  // bcrypt
  'bcrypt', // $2a$ / $2b$ / $2y$ (also Laravel, Devise, node bcrypt, PHP password_hash)
  'django-bcrypt', // bcrypt$$2b$...
  // argon2
  'argon2', // PHC $argon2id$ / $argon2i$ / $argon2d$
  'django-argon2', // argon2$argon2id$...
  // scrypt
  'scrypt', // PHC $scrypt$ln=..,r=..,p=..$salt$hash, or WorkOS's $scrypt$v=1$n=..,r=..,p=..,kl=..$salt$hash
  'django-scrypt', // scrypt$<N>$<salt>$<r>$<p>$<base64>
  'werkzeug-scrypt', // scrypt:<N>:<r>:<p>$<salt>$<hex>
  // pbkdf2
  'pbkdf2', // PHC $pbkdf2-<digest>$i=..[,l=..]$salt$hash, or WorkOS's $pbkdf2$i=..,d=<digest>$salt$hash
  'passlib-pbkdf2', // $pbkdf2[-<digest>]$<rounds>$<ab64 salt>$<ab64 hash>
  'django-pbkdf2-sha256', // pbkdf2_sha256$<iterations>$<salt>$<base64>
  'django-pbkdf2-sha1', // pbkdf2_sha1$<iterations>$<salt>$<base64>
  'werkzeug-pbkdf2', // pbkdf2:<digest>:<iterations>$<salt>$<hex>
  'atlassian-pbkdf2', // {PKCS5S2}<base64 salt+key> (Jira, Confluence, Crowd)
  'aspnet-identity-v2', // base64(0x00 | salt | subkey)
  'aspnet-identity-v3', // base64(0x01 | prf | iterations | salt length | salt | subkey)
  // ssha, firebase
  'ssha', // {SSHA}<base64 sha1 digest + salt>
  'firebase-scrypt', // { hash, salt } from a Firebase export, or an already-formed $firebase-scrypt$ string
  // not importable
  'md5', // unsalted: 32 hex, {MD5}, Django unsalted_md5 / md5$$
  'sha1', // unsalted: 40 hex, {SHA}, Django unsalted_sha1 / sha1$$
  'sha256', // unsalted: 64 hex, {SHA256}
  'sha512', // unsalted: 128 hex, {SHA512}
  'salted-md5', // md5$<salt>$<hex> (Django MD5PasswordHasher, Werkzeug's legacy salted methods), {SMD5}
  'salted-sha1', // sha1$<salt>$<hex> (Django SHA1PasswordHasher, Werkzeug's legacy salted methods)
  'salted-sha256', // sha256$<salt>$<hex> (Werkzeug's legacy salted methods)
  'salted-sha512', // sha512$<salt>$<hex> (Werkzeug's legacy salted methods)
  'md5-crypt', // $1$, $apr1$
  'sha256-crypt', // $5$
  'sha512-crypt', // $6$
  'phpass', // $P$, $H$ (WordPress before 6.8, phpBB)
  'drupal7', // $S$ (Drupal 7's iterated SHA-512)
  'django-bcrypt-sha256', // bcrypt_sha256$$2b$...
  'passlib-bcrypt-sha256', // $bcrypt-sha256$...
  'wordpress-bcrypt', // $wp$2y$... (WordPress 6.8+)
  'ssha256', // {SSHA256}
  'ssha384', // {SSHA384}
  'ssha512', // {SSHA512}
  'unusable', // Django's "!<random>" marker: no usable password
  'empty', // empty or whitespace-only
  'unknown',
] as const);

export type HashFormat = (typeof HASH_FORMATS)[number];

/** Why a stored hash cannot be imported. Stable: callers may switch on these. */
export const UNSUPPORTED_CODES = Object.freeze([
  /** Nothing stored (empty or whitespace): the user has no local password. */
  'empty',
  /** Django's unusable-password marker (`!...`): the user has no local password. */
  'unusable_password',
  /** Looks like a known format but is truncated, mis-encoded or inconsistent. */
  'malformed',
  /** A work factor above the bound this library passes on (see HASH_LIMITS); refused, never computed. */
  'cost_out_of_range',
  /** Not a format this library recognises. */
  'unknown_format',
  /** A bare, unsalted digest (md5, sha1, sha256, sha512). */
  'unsalted_digest',
  /** A single salted digest (Django md5$/sha1$, Werkzeug's legacy salted methods, {SMD5}). */
  'salted_digest',
  /** MD5-crypt ($1$, $apr1$). */
  'crypt_md5',
  /** SHA-crypt ($5$, $6$). */
  'crypt_sha',
  /** phpass portable hashes ($P$, $H$) and Drupal 7's $S$. */
  'phpass',
  /** bcrypt over a SHA-256 of the password (Django bcrypt_sha256$, passlib $bcrypt-sha256$). */
  'bcrypt_sha256_prehash',
  /** bcrypt over an HMAC-SHA384 of the password (WordPress 6.8+ $wp$). */
  'bcrypt_sha384_prehash',
  /** {SSHA256} / {SSHA384} / {SSHA512}: WorkOS's ssha is SHA-1 only. */
  'ssha_variant',
  /** A known format with a variant or parameter WorkOS's form cannot express ($2x$, pbkdf2-md5, argon2 keyid). */
  'unsupported_variant',
  /** The app mixes a secret pepper into its hashes (HashOptions.pepper). */
  'peppered',
  /** PBKDF2 with a digest WorkOS does not import (SHA-1; WorkOS takes SHA-256 and SHA-512). */
  'pbkdf2_digest_not_supported',
  /** PBKDF2 with fewer iterations than WorkOS accepts for its digest (600,000 for SHA-256, 210,000 for SHA-512). */
  'pbkdf2_iterations_below_workos_minimum',
  /** PBKDF2 with more iterations than WorkOS accepts (1,000,000). */
  'pbkdf2_iterations_above_workos_maximum',
  /** Argon2 of a version WorkOS does not import (1.0, `v=16` or no version; WorkOS takes `v=19`). */
  'argon2_version_not_supported',
  /** Argon2 memory outside WorkOS's 4,096-262,144 KiB. */
  'argon2_memory_out_of_range',
  /** Argon2 passes outside WorkOS's 1-5 (argon2i: 3-5). */
  'argon2_time_out_of_range',
  /** Argon2 lanes outside WorkOS's 1-8. */
  'argon2_parallelism_out_of_range',
  /** A Firebase hash without HashOptions.firebase. */
  'firebase_parameters_missing',
  /** HashOptions.firebase is present but unusable (bad base64, wrong types, a signer key that cannot match). */
  'firebase_parameters_invalid',
] as const);

export type UnsupportedCode = (typeof UNSUPPORTED_CODES)[number];

/**
 * Codes of a stored value that cannot be a working hash (damaged, truncated, or a cost no login could
 * wait for): the legacy check cannot pass either, so a login-time migration would never happen. Such
 * users need a password reset; the import and the dry run both sort them by this one list.
 */
export const UNVERIFIABLE_CODES: ReadonlySet<UnsupportedCode> = new Set<UnsupportedCode>([
  'malformed',
  'cost_out_of_range',
]);

/** One user's entry in a Firebase Auth export: `passwordHash` and `salt`, both base64 (standard or URL-safe). */
export interface FirebaseStoredHash {
  hash: string;
  salt: string;
}

/** A Firebase project's password hash parameters, as the console (or `firebase auth:export`) shows them. */
// Defined in core because `defineUsersMapping({ hashOptions })` takes them; hashes may depend on core.
export type {
  FirebaseHashParameters,
  HashOptions,
  HashParameterRange,
  WorkosHashRanges,
} from '../core/mapping.js';

export interface ConvertedHash {
  ok: true;
  format: HashFormat;
  /** The string to send as WorkOS's `password_hash`. */
  passwordHash: string;
  /** The value to send as WorkOS's `password_hash_type`. */
  passwordHashType: WorkosPasswordHashType;
}

export interface UnsupportedHash {
  ok: false;
  unsupported: true;
  format: HashFormat;
  code: UnsupportedCode;
  /** A sentence a person can act on. Never quotes the hash or any part of it. */
  reason: string;
}

export type Conversion = ConvertedHash | UnsupportedHash;

/** Key of `HashAnalysis.reasons`: an unsupported code, or `no_password` for users with nothing to import. */
export type AnalysisReasonCode = Exclude<UnsupportedCode, 'empty' | 'unusable_password'> | 'no_password';

export interface HashAnalysis {
  /** Every value seen. `total = convertible + unsupported + noPassword`. */
  total: number;
  /** Values `toWorkOS` converts. */
  convertible: number;
  /** Values with a password that cannot be imported (those users migrate at login or get a reset). */
  unsupported: number;
  /** null, undefined, empty or whitespace-only values, and Django's unusable-password marker. */
  noPassword: number;
  /** Count per detected format (null and undefined count as `empty`). */
  formats: Partial<Record<HashFormat, number>>;
  /** Count of convertible values per WorkOS type. */
  types: Partial<Record<WorkosPasswordHashType, number>>;
  /** Count per reason, with the reason sentence of the first value seen (never a hash). */
  reasons: Partial<Record<AnalysisReasonCode, { count: number; example: string }>>;
}
