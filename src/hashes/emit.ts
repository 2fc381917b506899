/**
 * The strings sent to WorkOS as `password_hash`, one emitter per WorkOS type, and nowhere else.
 *
 * ASSUMPTION (workos-api.md, "Password hash formats"): WorkOS documents the `scrypt`, `pbkdf2` and `argon2`
 * types but not their exact string. These emit the PHC string format (standard base64 without padding),
 * which is what the emulator accepts. If WorkOS turns out to expect something else, change
 * `emitScryptPhc`, `emitPbkdf2Phc` and `emitArgon2Phc` here; nothing else builds these strings.
 * The `bcrypt`, `ssha` and `firebase-scrypt` forms are documented.
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

/** ASSUMED (PHC): `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>`. */
export function emitScryptPhc(fields: {
  ln: number;
  r: number;
  p: number;
  salt: Uint8Array;
  hash: Uint8Array;
}): string {
  const { ln, r, p, salt, hash } = fields;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${base64Unpadded(salt)}$${base64Unpadded(hash)}`;
}

/** ASSUMED (PHC): `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>`. */
export function emitPbkdf2Phc(fields: {
  digest: Pbkdf2Digest;
  iterations: number;
  salt: Uint8Array;
  hash: Uint8Array;
}): string {
  const { digest, iterations, salt, hash } = fields;
  return `$pbkdf2-${digest}$i=${iterations},l=${hash.length}$${base64Unpadded(salt)}$${base64Unpadded(hash)}`;
}

/**
 * ASSUMED (PHC, as libargon2 writes it): `$<variant>$v=<version>$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`.
 * The version is always written, also for Argon2 1.0 (`v=16`), which PHC strings may leave implicit.
 */
export function emitArgon2Phc(fields: {
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
