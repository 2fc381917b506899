/**
 * The strings sent to WorkOS as `password_hash`, one emitter per WorkOS type, and nowhere else.
 * Each is the exact form WorkOS's migration guide documents ("Importing passwords"): scrypt, pbkdf2 and
 * argon2 are PHC strings with WorkOS's own parameter names (`n` is the cost itself, `kl` the key length,
 * `d` the digest), salt and hash in standard base64 with the `=` padding trimmed.
 */
import { Buffer } from 'node:buffer';
import { base64Padded, base64Unpadded } from './base64.js';

export type Pbkdf2Digest = 'sha1' | 'sha256' | 'sha512';
export type Argon2Variant = 'argon2id' | 'argon2i' | 'argon2d';

/** Documented: modular crypt `$2a$` / `$2b$` / `$2y$`, passed through unchanged. */
export function emitBcrypt(modularCrypt: string): string {
  return modularCrypt;
}

/** Documented: `{SSHA}` + base64(sha1 digest + salt). Re-encoded with standard padding. */
export function emitSsha(digest: Uint8Array, salt: Uint8Array): string {
  return `{SSHA}${base64Padded(Buffer.concat([digest, salt]))}`;
}

/**
 * Documented (and what WorkOS's own migration tool writes):
 * `$firebase-scrypt$hash=..$salt=..$sk=..$ss=..$r=..$m=..`, base64 without padding.
 */
export function emitFirebaseScrypt(fields: {
  hash: Uint8Array;
  salt: Uint8Array;
  signerKey: Uint8Array;
  saltSeparator: Uint8Array;
  rounds: number;
  memCost: number;
}): string {
  const { hash, salt, signerKey, saltSeparator, rounds, memCost } = fields;
  return (
    `$firebase-scrypt$hash=${base64Unpadded(hash)}$salt=${base64Unpadded(salt)}` +
    `$sk=${base64Unpadded(signerKey)}$ss=${base64Unpadded(saltSeparator)}$r=${rounds}$m=${memCost}`
  );
}

/** Documented: `$scrypt$v=1$n=<N>,r=<r>,p=<p>,kl=<key length>$<salt>$<hash>` (N itself, not log2). */
export function emitScrypt(fields: {
  n: number;
  r: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}): string {
  const { n, r, p, salt, hash } = fields;
  return `$scrypt$v=1$n=${n},r=${r},p=${p},kl=${hash.length}$${base64Unpadded(salt)}$${base64Unpadded(hash)}`;
}

/** Documented: `$pbkdf2$i=<iterations>,d=<sha256|sha512>$<salt>$<hash>`. */
export function emitPbkdf2(fields: {
  digest: Pbkdf2Digest;
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}): string {
  const { digest, iterations, salt, hash } = fields;
  return `$pbkdf2$i=${iterations},d=${digest}$${base64Unpadded(salt)}$${base64Unpadded(hash)}`;
}

/**
 * Documented: `$<argon2id|argon2i|argon2d>$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`. The version
 * is always written (a widened range may take 1.0, `v=16`, which PHC strings may leave implicit).
 */
export function emitArgon2(fields: {
  variant: Argon2Variant;
  version: 16 | 19;
  m: number;
  t: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}): string {
  const { variant, version, m, t, p, salt, hash } = fields;
  return `$${variant}$v=${version}$m=${m},t=${t},p=${p}$${base64Unpadded(salt)}$${base64Unpadded(hash)}`;
}
