// Builds stored password hashes exactly the way each framework writes them, with the real algorithms
// (bcryptjs, node:crypto, hash-wasm) and small work factors, so tests can feed them to the converter in
// src/hashes/ and prove the result by logging in against the emulator.
//
// Deliberately independent of src/hashes/ and of the emulator's verifier: nothing here imports either.
// Every builder takes an optional salt (so published vectors can be reproduced byte for byte) and
// otherwise draws a random one of the size and alphabet the framework itself uses.
import { createCipheriv, createHash, pbkdf2Sync, randomBytes, randomInt, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { argon2d, argon2i, argon2id } from 'hash-wasm';

export type Digest = 'sha1' | 'sha256' | 'sha512';

/**
 * Small work factors for tests: fast, but the same code paths as production settings. Argon2's are the
 * least WorkOS imports (4,096 KiB, 1 pass); PBKDF2's 1,000 is below WorkOS's minimum, so a test at this
 * count checks the mapping with widened ranges (`workosRanges`), and a test inside the range names it.
 */
export const SMALL = {
  bcryptCost: 4,
  pbkdf2Iterations: 1000,
  scryptN: 1024,
  argon2: { m: 4096, t: 1, p: 1 },
  firebase: { rounds: 8, memCost: 10 },
} as const;

const ANY_COUNT = { min: 1, max: 10_000_000 };

/**
 * Every WorkOS range widened, as for an environment WorkOS support widened: for tests of how a format's
 * fields are mapped whatever WorkOS's documented ranges say. Fits both `hashOptions.workosRanges` and
 * the emulator's `passwordHashRanges`.
 */
export const WIDE_HASH_RANGES = {
  pbkdf2Iterations: { sha1: ANY_COUNT, sha256: ANY_COUNT, sha512: ANY_COUNT },
  argon2Versions: [16, 19] as (16 | 19)[],
  argon2MemoryKiB: { min: 8, max: 2 ** 20 },
  argon2Time: { min: 1, max: 64 },
  argon2iMinTime: 1,
  argon2Parallelism: { min: 1, max: 64 },
};

const DIGEST_BYTES: Record<Digest, number> = { sha1: 20, sha256: 32, sha512: 64 };

// ---------------------------------------------------------------------------------------------------
// Encodings

/** Standard base64 with `=` padding (Python's base64.b64encode, .NET's Convert.ToBase64String). */
export const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Standard base64 without padding (PHC strings, argon2-cffi, passlib's scrypt). */
export const b64NoPad = (bytes: Uint8Array): string => b64(bytes).replace(/=+$/, '');

/** passlib's "adapted base64" (ab64): standard alphabet with `.` instead of `+`, no padding. */
export const ab64 = (bytes: Uint8Array): string => b64NoPad(bytes).replace(/\+/g, '.');

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * Django's get_random_string / Werkzeug's gen_salt: ASCII letters and digits. Django's salts are 22
 * characters (128 bits of entropy), Werkzeug's 16.
 */
export function randomAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

const DJANGO_SALT_CHARS = 22;
const WERKZEUG_SALT_CHARS = 16;

// ---------------------------------------------------------------------------------------------------
// bcrypt family

export interface BcryptOptions {
  /** `2a` (Devise, Ruby bcrypt), `2b` (OpenBSD, Python bcrypt, Node bcrypt), `2y` (PHP, Laravel). */
  prefix?: '2a' | '2b' | '2y';
  cost?: number;
  /** The 22-character bcrypt-base64 salt; random when omitted. */
  salt?: string;
}

/**
 * bcrypt as every library computes it; the prefix letter only records which implementation wrote the
 * hash (2a/2b/2y give identical output for passwords under 255 bytes).
 */
export function bcryptHash(password: string, options: BcryptOptions = {}): string {
  const prefix = options.prefix ?? '2b';
  const cost = options.cost ?? SMALL.bcryptCost;
  const salt = options.salt ?? bcrypt.genSaltSync(cost).slice(7);
  return bcrypt.hashSync(password, `$${prefix}$${String(cost).padStart(2, '0')}$${salt}`);
}

/** Laravel's Hash::make (PHP password_hash with PASSWORD_BCRYPT): `$2y$`. */
export function laravelBcrypt(password: string, cost: number = SMALL.bcryptCost): string {
  return bcryptHash(password, { prefix: '2y', cost });
}

/**
 * Devise's database_authenticatable: `::BCrypt::Password.create("#{password}#{pepper}", cost: stretches)`
 * from the Ruby bcrypt gem, which writes `$2a$`. With a pepper the stored hash alone can't be verified.
 */
export function deviseBcrypt(password: string, options: { cost?: number; pepper?: string } = {}): string {
  return bcryptHash(`${password}${options.pepper ?? ''}`, { prefix: '2a', cost: options.cost });
}

/** Django's BCryptPasswordHasher: `bcrypt$` + bcrypt.hashpw(password) (Python bcrypt writes `$2b$`). */
export function djangoBcrypt(password: string, cost: number = SMALL.bcryptCost): string {
  return `bcrypt$${bcryptHash(password, { prefix: '2b', cost })}`;
}

/**
 * Django's BCryptSHA256PasswordHasher: bcrypt of the hex SHA-256 of the password. Not importable: WorkOS
 * would have to pre-hash the password at login.
 */
export function djangoBcryptSha256(password: string, cost: number = SMALL.bcryptCost): string {
  const prehash = createHash('sha256').update(password, 'utf8').digest('hex');
  return `bcrypt_sha256$${bcryptHash(prehash, { prefix: '2b', cost })}`;
}

// ---------------------------------------------------------------------------------------------------
// argon2

export type Argon2Variant = 'argon2id' | 'argon2i' | 'argon2d';

export interface Argon2Options {
  variant?: Argon2Variant;
  m?: number;
  t?: number;
  p?: number;
  salt?: Uint8Array;
  hashLength?: number;
}

async function argon2Raw(password: string, salt: Uint8Array, o: Required<Omit<Argon2Options, 'salt'>>) {
  const fn = o.variant === 'argon2id' ? argon2id : o.variant === 'argon2i' ? argon2i : argon2d;
  return fn({
    password: Buffer.from(password, 'utf8'),
    salt,
    iterations: o.t,
    parallelism: o.p,
    memorySize: o.m,
    hashLength: o.hashLength,
    outputType: 'binary',
  });
}

function argon2Settings(options: Argon2Options): Required<Omit<Argon2Options, 'salt'>> {
  return {
    variant: options.variant ?? 'argon2id',
    m: options.m ?? SMALL.argon2.m,
    t: options.t ?? SMALL.argon2.t,
    p: options.p ?? SMALL.argon2.p,
    hashLength: options.hashLength ?? 32,
  };
}

/**
 * The reference PHC encoding (argon2 CLI, argon2-cffi, node-argon2, PHP's password_hash with
 * PASSWORD_ARGON2ID): `$argon2id$v=19$m=..,t=..,p=..$<b64 salt>$<b64 hash>`, base64 unpadded.
 */
export async function argon2Phc(password: string, options: Argon2Options = {}): Promise<string> {
  const o = argon2Settings(options);
  const salt = options.salt ?? randomBytes(16);
  const tag = await argon2Raw(password, salt, o);
  return `$${o.variant}$v=19$m=${o.m},t=${o.t},p=${o.p}$${b64NoPad(salt)}$${b64NoPad(tag)}`;
}

/**
 * Django's Argon2PasswordHasher: argon2-cffi's hash_secret(password, salt.encode(), type=ID, hash_len=32)
 * with a 22-character alphanumeric salt string, prefixed with `argon2` (so `argon2$argon2id$v=19$...`).
 */
export async function djangoArgon2(
  password: string,
  options: Omit<Argon2Options, 'salt'> & { salt?: string } = {},
): Promise<string> {
  const salt = Buffer.from(options.salt ?? randomAlnum(DJANGO_SALT_CHARS), 'utf8');
  return `argon2${await argon2Phc(password, { ...options, salt })}`;
}

// ---------------------------------------------------------------------------------------------------
// scrypt

function scryptBytes(password: string, salt: Uint8Array, N: number, r: number, p: number, keylen: number) {
  return scryptSync(Buffer.from(password, 'utf8'), salt, keylen, { N, r, p, maxmem: 256 * N * r + 2 ** 20 });
}

/**
 * PHC scrypt as passlib and @phc/scrypt write it: `$scrypt$ln=<log2 N>,r=..,p=..$<b64 salt>$<b64 hash>`
 * (standard alphabet, unpadded).
 */
export function scryptPhc(
  password: string,
  options: { ln?: number; r?: number; p?: number; salt?: Uint8Array; keyLength?: 32 | 64 } = {},
): string {
  const ln = options.ln ?? Math.log2(SMALL.scryptN);
  const r = options.r ?? 8;
  const p = options.p ?? 1;
  const salt = options.salt ?? randomBytes(16);
  const key = scryptBytes(password, salt, 2 ** ln, r, p, options.keyLength ?? 32);
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64NoPad(salt)}$${b64NoPad(key)}`;
}

/**
 * Django's ScryptPasswordHasher: hashlib.scrypt(password.encode(), salt=salt.encode(), n, r, p, dklen=64),
 * stored as `scrypt$<N>$<salt>$<r>$<p>$<base64 with padding>`.
 */
export function djangoScrypt(
  password: string,
  options: { N?: number; r?: number; p?: number; salt?: string } = {},
): string {
  const N = options.N ?? SMALL.scryptN;
  const r = options.r ?? 8;
  const p = options.p ?? 1;
  const salt = options.salt ?? randomAlnum(DJANGO_SALT_CHARS);
  const key = scryptBytes(password, Buffer.from(salt, 'utf8'), N, r, p, 64);
  return `scrypt$${N}$${salt}$${r}$${p}$${b64(key)}`;
}

/**
 * werkzeug.security.generate_password_hash(method="scrypt:N:r:p"): hashlib.scrypt over the UTF-8 password
 * and the UTF-8 bytes of a 16-character alphanumeric salt, dklen 64, as `scrypt:N:r:p$<salt>$<hex>`.
 */
export function werkzeugScrypt(
  password: string,
  options: { N?: number; r?: number; p?: number; salt?: string } = {},
): string {
  const N = options.N ?? SMALL.scryptN;
  const r = options.r ?? 8;
  const p = options.p ?? 1;
  const salt = options.salt ?? randomAlnum(WERKZEUG_SALT_CHARS);
  const key = scryptBytes(password, Buffer.from(salt, 'utf8'), N, r, p, 64);
  return `scrypt:${N}:${r}:${p}$${salt}$${hex(key)}`;
}

// ---------------------------------------------------------------------------------------------------
// PBKDF2

function pbkdf2Bytes(password: string, salt: Uint8Array, iterations: number, keylen: number, digest: Digest) {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, keylen, digest);
}

/** The PHC form with the digest in the id (passlib-style PHC): `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<b64 salt>$<b64 hash>`. */
export function pbkdf2Phc(
  password: string,
  options: { digest?: Digest; iterations?: number; salt?: Uint8Array; keyLength?: number } = {},
): string {
  const digest = options.digest ?? 'sha256';
  const iterations = options.iterations ?? SMALL.pbkdf2Iterations;
  const keyLength = options.keyLength ?? DIGEST_BYTES[digest];
  const salt = options.salt ?? randomBytes(16);
  const key = pbkdf2Bytes(password, salt, iterations, keyLength, digest);
  return `$pbkdf2-${digest}$i=${iterations},l=${keyLength}$${b64NoPad(salt)}$${b64NoPad(key)}`;
}

/**
 * passlib.hash.pbkdf2_sha1 / pbkdf2_sha256 / pbkdf2_sha512: `$pbkdf2[-<digest>]$<rounds>$<ab64 salt>$<ab64
 * hash>`, 16-byte salt, key as long as the digest. (pbkdf2_sha1's identifier is plain `$pbkdf2$`.)
 */
export function passlibPbkdf2(
  password: string,
  options: { digest?: Digest; rounds?: number; salt?: Uint8Array } = {},
): string {
  const digest = options.digest ?? 'sha256';
  const rounds = options.rounds ?? SMALL.pbkdf2Iterations;
  const salt = options.salt ?? randomBytes(16);
  const key = pbkdf2Bytes(password, salt, rounds, DIGEST_BYTES[digest], digest);
  const ident = digest === 'sha1' ? 'pbkdf2' : `pbkdf2-${digest}`;
  return `$${ident}$${rounds}$${ab64(salt)}$${ab64(key)}`;
}

/**
 * Django's PBKDF2PasswordHasher (`pbkdf2_sha256`, dklen 32) and PBKDF2SHA1PasswordHasher (`pbkdf2_sha1`,
 * dklen 20): `<algorithm>$<iterations>$<salt string>$<base64 with padding>`; the salt is the UTF-8 bytes of
 * an alphanumeric string.
 */
export function djangoPbkdf2(
  password: string,
  options: { digest?: 'sha1' | 'sha256'; iterations?: number; salt?: string } = {},
): string {
  const digest = options.digest ?? 'sha256';
  const iterations = options.iterations ?? SMALL.pbkdf2Iterations;
  const salt = options.salt ?? randomAlnum(DJANGO_SALT_CHARS);
  const key = pbkdf2Bytes(password, Buffer.from(salt, 'utf8'), iterations, DIGEST_BYTES[digest], digest);
  return `pbkdf2_${digest}$${iterations}$${salt}$${b64(key)}`;
}

/**
 * werkzeug.security.generate_password_hash(method="pbkdf2:<digest>:<iterations>"):
 * hashlib.pbkdf2_hmac(digest, password, salt, iterations) (dklen = digest size) as
 * `pbkdf2:<digest>:<iterations>$<16-char salt>$<hex>`.
 */
export function werkzeugPbkdf2(
  password: string,
  options: { digest?: Digest; iterations?: number; salt?: string } = {},
): string {
  const digest = options.digest ?? 'sha256';
  const iterations = options.iterations ?? SMALL.pbkdf2Iterations;
  const salt = options.salt ?? randomAlnum(WERKZEUG_SALT_CHARS);
  const key = pbkdf2Bytes(password, Buffer.from(salt, 'utf8'), iterations, DIGEST_BYTES[digest], digest);
  return `pbkdf2:${digest}:${iterations}$${salt}$${hex(key)}`;
}

/**
 * ASP.NET Identity v2 (Microsoft.AspNet.Identity's Crypto.HashPassword, and ASP.NET Core Identity in
 * IdentityV2 compatibility mode): base64(0x00 | salt[16] | PBKDF2-HMAC-SHA1(password, salt, 1000, 32)).
 */
export function aspnetIdentityV2(password: string, options: { salt?: Uint8Array } = {}): string {
  const salt = options.salt ?? randomBytes(16);
  const subkey = pbkdf2Bytes(password, salt, 1000, 32, 'sha1');
  return b64(Buffer.concat([Buffer.from([0x00]), salt, subkey]));
}

/**
 * Atlassian's `{PKCS5S2}` (Jira, Confluence, Crowd; passlib's atlassian_pbkdf2_sha1): base64(salt[16] |
 * PBKDF2-HMAC-SHA1(password, salt, 10000, 32)).
 */
export function atlassianPbkdf2(password: string, options: { salt?: Uint8Array } = {}): string {
  const salt = options.salt ?? randomBytes(16);
  return `{PKCS5S2}${b64(Buffer.concat([salt, pbkdf2Bytes(password, salt, 10000, 32, 'sha1')]))}`;
}

const ASPNET_PRF: Record<Digest, number> = { sha1: 0, sha256: 1, sha512: 2 };

/**
 * ASP.NET Core Identity v3 (PasswordHasher<TUser> in IdentityV3 mode): base64(0x01 | uint32BE prf |
 * uint32BE iterations | uint32BE salt length | salt | subkey), prf 0 = HMACSHA1, 1 = HMACSHA256,
 * 2 = HMACSHA512. Defaults: HMACSHA256 with 10,000 iterations up to .NET 6, HMACSHA512 with 100,000 since
 * .NET 7; salt 16 bytes, subkey 32 bytes.
 */
export function aspnetIdentityV3(
  password: string,
  options: { prf?: Digest; iterations?: number; salt?: Uint8Array; subkeyLength?: number } = {},
): string {
  const prf = options.prf ?? 'sha256';
  const iterations = options.iterations ?? SMALL.pbkdf2Iterations;
  const salt = options.salt ?? randomBytes(16);
  const subkey = pbkdf2Bytes(password, salt, iterations, options.subkeyLength ?? 32, prf);
  const header = Buffer.alloc(13);
  header.writeUInt8(0x01, 0);
  header.writeUInt32BE(ASPNET_PRF[prf], 1);
  header.writeUInt32BE(iterations, 5);
  header.writeUInt32BE(salt.length, 9);
  return b64(Buffer.concat([header, salt, subkey]));
}

// ---------------------------------------------------------------------------------------------------
// Salted SHA (LDAP)

/** OpenLDAP slappasswd's `{SSHA}`: base64(sha1(password + salt) + salt). */
export function ssha(password: string, options: { salt?: Uint8Array } = {}): string {
  const salt = options.salt ?? randomBytes(8);
  const digest = createHash('sha1').update(password, 'utf8').update(salt).digest();
  return `{SSHA}${b64(Buffer.concat([digest, salt]))}`;
}

/** `{SSHA256}` / `{SSHA512}`: the same with SHA-2, which WorkOS does not import. */
export function sshaSha2(password: string, bits: 256 | 512, options: { salt?: Uint8Array } = {}): string {
  const salt = options.salt ?? randomBytes(8);
  const digest = createHash(`sha${bits}`).update(password, 'utf8').update(salt).digest();
  return `{SSHA${bits}}${b64(Buffer.concat([digest, salt]))}`;
}

// ---------------------------------------------------------------------------------------------------
// Firebase

/** A Firebase project's password hash parameters, as the console shows them (base64 strings). */
export interface FirebaseProject {
  signerKey: string;
  saltSeparator: string;
  rounds: number;
  memCost: number;
}

/** One user's row of a Firebase Auth export: base64 passwordHash and salt. */
export interface FirebaseUserHash {
  hash: string;
  salt: string;
}

export function randomFirebaseProject(options: { rounds?: number; memCost?: number } = {}): FirebaseProject {
  return {
    signerKey: b64(randomBytes(64)),
    saltSeparator: b64(randomBytes(1)),
    rounds: options.rounds ?? SMALL.firebase.rounds,
    memCost: options.memCost ?? SMALL.firebase.memCost,
  };
}

/**
 * Firebase's modified scrypt (github.com/firebase/scrypt): key = scrypt(password, salt || saltSeparator,
 * N = 2^memCost, r = rounds, p = 1, 32 bytes); hash = AES-256-CTR(key, iv = 16 zero bytes) of the signer key.
 */
export function firebaseScrypt(
  password: string,
  project: FirebaseProject,
  options: { salt?: Uint8Array } = {},
): FirebaseUserHash {
  const salt = options.salt ?? randomBytes(12);
  const separator = Buffer.from(project.saltSeparator, 'base64');
  const key = scryptBytes(
    password,
    Buffer.concat([salt, separator]),
    2 ** project.memCost,
    project.rounds,
    1,
    32,
  );
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const signerKey = Buffer.from(project.signerKey, 'base64');
  const hash = Buffer.concat([cipher.update(signerKey), cipher.final()]);
  return { hash: b64(hash), salt: b64(salt) };
}

// ---------------------------------------------------------------------------------------------------
// Formats WorkOS can't import (for the `unsupported` cases)

export function bareHex(password: string, digest: 'md5' | Digest): string {
  return createHash(digest).update(password, 'utf8').digest('hex');
}

/** Django's SHA1PasswordHasher (removed in Django 5.1): `sha1$<salt>$<hex sha1(salt + password)>`. */
export function djangoSaltedSha1(password: string, salt: string = randomAlnum(DJANGO_SALT_CHARS)): string {
  return `sha1$${salt}$${createHash('sha1')
    .update(salt + password, 'utf8')
    .digest('hex')}`;
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function phpassEncode64(input: Buffer, count: number): string {
  let out = '';
  let i = 0;
  do {
    let value = input[i++] as number;
    out += ITOA64[value & 0x3f];
    if (i < count) value |= (input[i] as number) << 8;
    out += ITOA64[(value >> 6) & 0x3f];
    if (i++ >= count) break;
    if (i < count) value |= (input[i] as number) << 16;
    out += ITOA64[(value >> 12) & 0x3f];
    if (i++ >= count) break;
    out += ITOA64[(value >> 18) & 0x3f];
  } while (i < count);
  return out;
}

/**
 * phpass portable hashes (WordPress, phpBB): `$P$` + log2 rounds char + 8-char salt + iterated MD5,
 * following Openwall's PasswordHash::crypt_private.
 */
export function phpass(password: string, options: { log2Rounds?: number; salt?: string } = {}): string {
  const log2 = options.log2Rounds ?? 8;
  const salt = options.salt ?? phpassEncode64(randomBytes(6), 6);
  const pw = Buffer.from(password, 'utf8');
  let hash = createHash('md5').update(salt).update(pw).digest();
  for (let n = 2 ** log2; n > 0; n--) hash = createHash('md5').update(hash).update(pw).digest();
  return `$P$${ITOA64[log2]}${salt}${phpassEncode64(hash, 16)}`;
}
