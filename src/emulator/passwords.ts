/**
 * The emulator's own password verifier. It reads only the six hash forms WorkOS documents for import
 * (migration guide "Importing passwords"; workos-api.md, "Password hash formats"), in exactly the
 * documented strings and parameter ranges, and deliberately shares no code with the library's hash
 * converter, so a converter bug cannot hide behind a matching verifier bug.
 */
import { createCipheriv, createHash, pbkdf2, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { type Algorithm, hashRaw, type Version } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

import { MISREAD_HASH_TYPES, type MisreadHashType } from './options.js';

/** The six `password_hash_type` values WorkOS imports (listed in options.ts, which loads no dependency). */
export type WorkosHashType = MisreadHashType;

export const WORKOS_HASH_TYPES: readonly WorkosHashType[] = MISREAD_HASH_TYPES;

/**
 * 'native' = a password set in plaintext through the API, stored by the emulator itself (a PHC scrypt
 * string with a random salt).
 */
export interface StoredPassword {
  type: WorkosHashType | 'native';
  hash: string;
}

// Limits keep a hostile or mistyped import from pinning the emulator for minutes or exhausting memory.
const MAX_HASH_CHARS = 4096;
const MAX_MEMORY_BYTES = 1024 * 1024 * 1024;
const MIN_DIGEST_BYTES = 16;
const MAX_DIGEST_BYTES = 1024;
const NATIVE_SCRYPT = { n: 16_384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

/** An inclusive range. */
export interface ParameterRange {
  min: number;
  max: number;
}

/**
 * What WorkOS accepts of imported hash parameters. Default: the documented ranges; an environment
 * whose ranges WorkOS support widened is rehearsed with `passwordHashRanges`.
 */
export interface HashRanges {
  /** Iterations per PBKDF2 digest; a digest absent is refused. */
  pbkdf2Iterations: Partial<Record<'sha1' | 'sha256' | 'sha512', ParameterRange>>;
  argon2Versions: readonly (16 | 19)[];
  argon2MemoryKiB: ParameterRange;
  argon2Time: ParameterRange;
  argon2iMinTime: number;
  argon2Parallelism: ParameterRange;
}

export const DOCUMENTED_HASH_RANGES: HashRanges = Object.freeze({
  pbkdf2Iterations: Object.freeze({
    sha256: Object.freeze({ min: 600_000, max: 1_000_000 }),
    sha512: Object.freeze({ min: 210_000, max: 1_000_000 }),
  }),
  argon2Versions: Object.freeze([19] as const),
  argon2MemoryKiB: Object.freeze({ min: 4_096, max: 262_144 }),
  argon2Time: Object.freeze({ min: 1, max: 5 }),
  argon2iMinTime: 3,
  argon2Parallelism: Object.freeze({ min: 1, max: 8 }),
});

type Pbkdf2Digest = 'sha1' | 'sha256' | 'sha512';
type Argon2Variant = 'argon2d' | 'argon2i' | 'argon2id';

type Parsed =
  | { kind: 'bcrypt'; hash: string }
  | { kind: 'ssha'; digest: Buffer; salt: Buffer }
  | {
      kind: 'firebase-scrypt';
      hash: Buffer;
      salt: Buffer;
      signerKey: Buffer;
      saltSeparator: Buffer;
      rounds: number;
      memCost: number;
    }
  | { kind: 'scrypt'; n: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { kind: 'pbkdf2'; digest: Pbkdf2Digest; iterations: number; salt: Buffer; hash: Buffer }
  | {
      kind: 'argon2';
      variant: Argon2Variant;
      version: 0x10 | 0x13;
      m: number;
      t: number;
      p: number;
      salt: Buffer;
      hash: Buffer;
    };

/** A string result is a rejection reason; reasons are fixed text and never echo the input. */
type ParseResult = Parsed | string;

/**
 * null when `hash` is a well-formed hash of `type`; otherwise a short reason that never quotes the hash or
 * any part of it. Unknown types get a reason too.
 */
export function validateImportedHash(
  type: string,
  hash: string,
  ranges: HashRanges = DOCUMENTED_HASH_RANGES,
): string | null {
  if (!isWorkosHashType(type)) {
    return `unsupported password hash type; expected one of ${WORKOS_HASH_TYPES.join(', ')}`;
  }
  const parsed = parse(type, hash);
  return typeof parsed === 'string' ? parsed : outsideRanges(parsed, ranges);
}

export async function hashNativePassword(password: string): Promise<StoredPassword> {
  const { n, r, p, saltBytes, keyBytes } = NATIVE_SCRYPT;
  const salt = randomBytes(saltBytes);
  const key = await scryptAsync(password, salt, keyBytes, n, r, p);
  return { type: 'native', hash: `$scrypt$v=1$n=${n},r=${r},p=${p},kl=${keyBytes}$${b64(salt)}$${b64(key)}` };
}

/**
 * Constant-time comparison of derived bytes; false (never throws) on any malformed stored value.
 * `misread` lists imported types to read as a different encoding (see `misreadHashTypes`).
 */
export async function verifyPassword(
  stored: StoredPassword,
  password: string,
  misread: readonly string[] = [],
): Promise<boolean> {
  try {
    if (typeof password !== 'string' || stored === null || typeof stored !== 'object') return false;
    // Native passwords are stored as PHC scrypt strings, so they reuse that reader.
    const type = stored.type === 'native' ? 'scrypt' : stored.type;
    if (!isWorkosHashType(type)) return false;
    const parsed = parse(type, stored.hash);
    if (typeof parsed === 'string') return false;
    return await verifyParsed(
      stored.type !== 'native' && misread.includes(type) ? misreadOf(parsed) : parsed,
      password,
    );
  } catch {
    return false;
  }
}

function isWorkosHashType(type: unknown): type is WorkosHashType {
  return typeof type === 'string' && (WORKOS_HASH_TYPES as readonly string[]).includes(type);
}

function parse(type: WorkosHashType, hash: string): ParseResult {
  if (typeof hash !== 'string' || hash.length === 0) return `${type} hash is empty`;
  if (hash.length > MAX_HASH_CHARS) return `${type} hash is too long`;
  switch (type) {
    case 'bcrypt':
      return parseBcrypt(hash);
    case 'ssha':
      return parseSsha(hash);
    case 'firebase-scrypt':
      return parseFirebaseScrypt(hash);
    case 'scrypt':
      return parseScrypt(hash);
    case 'pbkdf2':
      return parsePbkdf2(hash);
    case 'argon2':
      return parseArgon2(hash);
  }
}

// ---------------------------------------------------------------------------------------------------
// Parsers

function parseBcrypt(hash: string): ParseResult {
  const m = /^\$2([aby])\$([^$]*)\$(.*)$/s.exec(hash);
  if (!m) return 'bcrypt hash must start with $2a$, $2b$ or $2y$';
  const cost = /^\d\d$/.test(m[2] ?? '') ? Number(m[2]) : Number.NaN;
  if (!(cost >= 4 && cost <= 31)) return 'bcrypt hash has an invalid cost';
  const body = m[3] ?? '';
  if (body.length !== 53) return 'bcrypt hash must have 53 characters of salt and digest after the cost';
  if (!/^[./A-Za-z0-9]{53}$/.test(body)) return 'bcrypt hash contains characters outside the bcrypt alphabet';
  return { kind: 'bcrypt', hash };
}

function parseSsha(hash: string): ParseResult {
  if (!hash.startsWith('{SSHA}')) return 'ssha hash must start with {SSHA}';
  const raw = decodeB64(hash.slice(6));
  if (!raw) return 'ssha hash is not valid base64 after {SSHA}';
  if (raw.length <= 20) return 'ssha hash must hold a 20-byte SHA-1 digest followed by a non-empty salt';
  return { kind: 'ssha', digest: raw.subarray(0, 20), salt: raw.subarray(20) };
}

function parseFirebaseScrypt(hash: string): ParseResult {
  const prefix = '$firebase-scrypt$';
  if (!hash.startsWith(prefix)) return 'firebase-scrypt hash must start with $firebase-scrypt$';
  const fields = new Map<string, string>();
  for (const field of hash.slice(prefix.length).split('$')) {
    const eq = field.indexOf('=');
    if (eq <= 0) return 'firebase-scrypt hash has a field that is not name=value';
    const name = field.slice(0, eq);
    if (!['hash', 'salt', 'sk', 'ss', 'r', 'm'].includes(name)) {
      return 'firebase-scrypt hash has an unknown parameter';
    }
    if (fields.has(name)) return 'firebase-scrypt hash repeats a parameter';
    fields.set(name, field.slice(eq + 1));
  }
  const bytes: Record<'hash' | 'salt' | 'sk' | 'ss', Buffer> = {
    hash: Buffer.alloc(0),
    salt: Buffer.alloc(0),
    sk: Buffer.alloc(0),
    ss: Buffer.alloc(0),
  };
  for (const name of ['hash', 'salt', 'sk', 'ss'] as const) {
    const value = fields.get(name);
    if (value === undefined) return `firebase-scrypt hash is missing the ${name} parameter`;
    const decoded = decodeB64(value);
    if (!decoded) return `firebase-scrypt hash has an invalid base64 ${name} parameter`;
    bytes[name] = decoded;
  }
  const rounds = fields.get('r');
  const memCost = fields.get('m');
  if (rounds === undefined) return 'firebase-scrypt hash is missing the r parameter';
  if (memCost === undefined) return 'firebase-scrypt hash is missing the m parameter';
  const r = parseUint(rounds, 1, 64);
  if (r === null) return 'firebase-scrypt hash has an invalid r (rounds) parameter';
  const m = parseUint(memCost, 1, 20);
  if (m === null) return 'firebase-scrypt hash has an invalid m (memory cost) parameter';
  if (128 * r * 2 ** m > MAX_MEMORY_BYTES) return 'firebase-scrypt hash needs more than 1 GiB of memory';
  if (bytes.salt.length === 0) return 'firebase-scrypt hash has an empty salt';
  if (bytes.sk.length < MIN_DIGEST_BYTES)
    return 'firebase-scrypt hash has a signer key shorter than 16 bytes';
  if (bytes.hash.length < MIN_DIGEST_BYTES) return 'firebase-scrypt hash has a digest shorter than 16 bytes';
  // The digest is the signer key encrypted with a stream cipher, so it can never be longer than the key.
  if (bytes.hash.length > bytes.sk.length)
    return 'firebase-scrypt hash has a digest longer than its signer key';
  return {
    kind: 'firebase-scrypt',
    hash: bytes.hash,
    salt: bytes.salt,
    signerKey: bytes.sk,
    saltSeparator: bytes.ss,
    rounds: r,
    memCost: m,
  };
}

function parseScrypt(hash: string): ParseResult {
  const parts = hash.split('$');
  const form = 'scrypt hash must look like $scrypt$v=1$n=..,r=..,p=..,kl=..$salt$hash';
  if (parts[0] !== '' || parts[1] !== 'scrypt') return 'scrypt hash must start with $scrypt$';
  if (parts.length !== 6) return form;
  if (parts[2] !== 'v=1') return 'scrypt hash must have the version segment v=1';
  const params = parseParams(parts[3] ?? '', ['n', 'r', 'p', 'kl'], []);
  if (typeof params === 'string') return `scrypt hash ${params}`;
  const n = parseUint(params.get('n'), 2, 2 ** 20);
  if (n === null || (n & (n - 1)) !== 0)
    return 'scrypt hash has an invalid n (cost) parameter: a power of two up to 2^20';
  const r = parseUint(params.get('r'), 1, 255);
  if (r === null) return 'scrypt hash has an invalid r parameter';
  const p = parseUint(params.get('p'), 1, 255);
  if (p === null) return 'scrypt hash has an invalid p parameter';
  if (128 * r * n > MAX_MEMORY_BYTES || 128 * r * p > MAX_MEMORY_BYTES) {
    return 'scrypt hash needs more than 1 GiB of memory';
  }
  const fields = saltAndDigest('scrypt', parts[4] ?? '', parts[5] ?? '', 1);
  if (typeof fields === 'string') return fields;
  if (parseUint(params.get('kl'), 1, MAX_DIGEST_BYTES) !== fields.hash.length) {
    return 'scrypt hash has a kl (key length) parameter that does not match its digest';
  }
  return { kind: 'scrypt', n, r, p, ...fields };
}

function parsePbkdf2(hash: string): ParseResult {
  const parts = hash.split('$');
  if (parts[0] !== '' || parts[1] !== 'pbkdf2') return 'pbkdf2 hash must start with $pbkdf2$';
  if (parts.length !== 5) return 'pbkdf2 hash must look like $pbkdf2$i=..,d=..$salt$hash';
  const params = parseParams(parts[2] ?? '', ['i', 'd'], []);
  if (typeof params === 'string') return `pbkdf2 hash ${params}`;
  const digest = params.get('d');
  if (digest !== 'sha1' && digest !== 'sha256' && digest !== 'sha512') {
    return 'pbkdf2 hash has an unknown d (digest) parameter; WorkOS takes sha256 or sha512';
  }
  const iterations = parseUint(params.get('i'), 1, 100_000_000);
  if (iterations === null) return 'pbkdf2 hash has an invalid i (iterations) parameter';
  const fields = saltAndDigest('pbkdf2', parts[3] ?? '', parts[4] ?? '', 1);
  if (typeof fields === 'string') return fields;
  return { kind: 'pbkdf2', digest, iterations, ...fields };
}

function parseArgon2(hash: string): ParseResult {
  const parts = hash.split('$');
  const variant = parts[1];
  if (parts[0] !== '' || (variant !== 'argon2id' && variant !== 'argon2i' && variant !== 'argon2d')) {
    return 'argon2 hash must start with $argon2id$, $argon2i$ or $argon2d$';
  }
  // The version segment is optional in PHC strings; without it the hash is Argon2 1.0 (0x10).
  let version: 0x10 | 0x13 = 0x10;
  if (parts[2]?.startsWith('v=')) {
    const v = parts[2].slice(2);
    if (v === '19') version = 0x13;
    else if (v !== '16') return 'argon2 hash has an unsupported version (expected v=19 or v=16)';
    parts.splice(2, 1);
  }
  if (parts.length !== 5) return 'argon2 hash must look like $argon2id$v=19$m=..,t=..,p=..$salt$hash';
  const params = parseParams(parts[2] ?? '', ['m', 't', 'p'], []);
  if (typeof params === 'string') return `argon2 hash ${params}`;
  const p = parseUint(params.get('p'), 1, 255);
  if (p === null) return 'argon2 hash has an invalid p (parallelism) parameter';
  const t = parseUint(params.get('t'), 1, 1000);
  if (t === null) return 'argon2 hash has an invalid t (iterations) parameter';
  const m = parseUint(params.get('m'), 8, MAX_MEMORY_BYTES / 1024);
  if (m === null) return 'argon2 hash has an invalid m (memory) parameter (expected 8 KiB to 1 GiB)';
  if (m < 8 * p) return 'argon2 hash has less memory than 8 KiB per lane';
  // Argon2 itself requires at least 8 bytes of salt.
  const fields = saltAndDigest('argon2', parts[3] ?? '', parts[4] ?? '', 8);
  if (typeof fields === 'string') return fields;
  return { kind: 'argon2', variant, version, m, t, p, ...fields };
}

/** The reason an import is outside WorkOS's ranges, naming the parameter and the range; null inside. */
function outsideRanges(parsed: Parsed, ranges: HashRanges): string | null {
  const within = (value: number, range: ParameterRange) => value >= range.min && value <= range.max;
  const span = (range: ParameterRange) => `${range.min} to ${range.max}`;
  if (parsed.kind === 'pbkdf2') {
    const range = ranges.pbkdf2Iterations[parsed.digest];
    if (!range) {
      return `pbkdf2 digest ${parsed.digest} is not accepted; WorkOS takes ${Object.keys(ranges.pbkdf2Iterations).join(' or ')}`;
    }
    if (!within(parsed.iterations, range)) {
      return `pbkdf2 iterations (i) for ${parsed.digest} must be ${span(range)}`;
    }
  }
  if (parsed.kind === 'argon2') {
    const version = parsed.version === 0x13 ? 19 : 16;
    if (!ranges.argon2Versions.includes(version)) {
      return `argon2 version must be v=${ranges.argon2Versions.join(' or v=')} (this one is v=${version})`;
    }
    if (!within(parsed.m, ranges.argon2MemoryKiB)) {
      return `argon2 memory (m) must be ${span(ranges.argon2MemoryKiB)} KiB`;
    }
    const minTime =
      parsed.variant === 'argon2i'
        ? Math.max(ranges.argon2Time.min, ranges.argon2iMinTime)
        : ranges.argon2Time.min;
    if (!within(parsed.t, { min: minTime, max: ranges.argon2Time.max })) {
      return `argon2 iterations (t) must be ${minTime} to ${ranges.argon2Time.max} for ${parsed.variant}`;
    }
    if (!within(parsed.p, ranges.argon2Parallelism)) {
      return `argon2 parallelism (p) must be ${span(ranges.argon2Parallelism)}`;
    }
  }
  return null;
}

/** PHC `k=v,k=v` list with exactly the required names plus any of the optional ones. */
function parseParams(text: string, required: string[], optional: string[]): Map<string, string> | string {
  const out = new Map<string, string>();
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return 'has a malformed parameter list';
    const name = item.slice(0, eq);
    if (!required.includes(name) && !optional.includes(name)) return 'has an unknown parameter';
    if (out.has(name)) return 'repeats a parameter';
    out.set(name, item.slice(eq + 1));
  }
  for (const name of required) if (!out.has(name)) return `is missing the ${name} parameter`;
  return out;
}

function saltAndDigest(
  type: string,
  saltText: string,
  hashText: string,
  minSalt: number,
): { salt: Buffer; hash: Buffer } | string {
  const salt = decodeB64(saltText);
  if (!salt) return `${type} hash has a salt that is not valid base64`;
  if (salt.length === 0) return `${type} hash has an empty salt`;
  if (salt.length < minSalt) return `${type} hash has a salt shorter than ${minSalt} bytes`;
  const hash = decodeB64(hashText);
  if (!hash) return `${type} hash has a digest that is not valid base64`;
  if (hash.length < MIN_DIGEST_BYTES)
    return `${type} hash has a digest shorter than ${MIN_DIGEST_BYTES} bytes`;
  if (hash.length > MAX_DIGEST_BYTES)
    return `${type} hash has a digest longer than ${MAX_DIGEST_BYTES} bytes`;
  return { salt, hash };
}

/** Standard-alphabet base64, `=` padding optional (PHC omits it, most other tools emit it). */
function decodeB64(text: string): Buffer | null {
  const m = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(text);
  if (!m) return null;
  const body = m[1] ?? '';
  const pad = m[2] ?? '';
  if (body.length % 4 === 1) return null;
  if (pad.length > 0 && (body.length + pad.length) % 4 !== 0) return null;
  return Buffer.from(body, 'base64');
}

function parseUint(text: string | undefined, min: number, max: number): number | null {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '');
}

// ---------------------------------------------------------------------------------------------------
// Verifiers

/**
 * The same hash read as a different encoding: a salt taken as its base64 text rather than the decoded
 * bytes (a common importer mistake), bcrypt's cost read one higher.
 */
function misreadOf(parsed: Parsed): Parsed {
  if (parsed.kind === 'bcrypt') {
    return {
      kind: 'bcrypt',
      hash: parsed.hash.replace(
        /^(\$2[aby]\$)(\d\d)/,
        (_, prefix: string, cost: string) =>
          `${prefix}${String(Math.min(Number(cost) + 1, 31)).padStart(2, '0')}`,
      ),
    };
  }
  return { ...parsed, salt: Buffer.from(b64(parsed.salt), 'utf8') };
}

async function verifyParsed(parsed: Parsed, password: string): Promise<boolean> {
  switch (parsed.kind) {
    case 'bcrypt':
      // bcryptjs reads $2a$, $2b$ and $2y$ alike and compares in constant time.
      return bcrypt.compare(password, parsed.hash);
    case 'ssha': {
      const digest = createHash('sha1').update(password, 'utf8').update(parsed.salt).digest();
      return timingSafeEqual(digest, parsed.digest);
    }
    case 'firebase-scrypt': {
      // Firebase's modified scrypt: the scrypt output is an AES-256-CTR key that encrypts the signer key.
      const salt = Buffer.concat([parsed.salt, parsed.saltSeparator]);
      const key = await scryptAsync(password, salt, 32, 2 ** parsed.memCost, parsed.rounds, 1);
      const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
      const out = Buffer.concat([cipher.update(parsed.signerKey), cipher.final()]);
      return timingSafeEqual(out.subarray(0, parsed.hash.length), parsed.hash);
    }
    case 'scrypt': {
      const key = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.n, parsed.r, parsed.p);
      return timingSafeEqual(key, parsed.hash);
    }
    case 'pbkdf2': {
      const key = await new Promise<Buffer>((resolve, reject) =>
        pbkdf2(password, parsed.salt, parsed.iterations, parsed.hash.length, parsed.digest, (err, out) =>
          err ? reject(err) : resolve(out),
        ),
      );
      return timingSafeEqual(key, parsed.hash);
    }
    case 'argon2': {
      const tag = await argon2Tag(parsed, Buffer.from(password, 'utf8'));
      return timingSafeEqual(tag, parsed.hash);
    }
  }
}

function scryptAsync(password: string, salt: Buffer, keylen: number, N: number, r: number, p: number) {
  const maxmem = 128 * N * r + 128 * r * p + 16 * 1024 * 1024;
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, keylen, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

// @node-rs/argon2 numbering: Argon2d = 0, Argon2i = 1, Argon2id = 2; version 0x10 = 0, 0x13 = 1. It
// implements both versions (hash-wasm has only 0x13), and a raw hash lets us compare the tag ourselves.
const ARGON2_ALGORITHM: Record<Argon2Variant, number> = { argon2d: 0, argon2i: 1, argon2id: 2 };

async function argon2Tag(parsed: Extract<Parsed, { kind: 'argon2' }>, password: Buffer): Promise<Buffer> {
  const { variant, version, m, t, p, salt, hash } = parsed;
  return hashRaw(password, {
    salt,
    memoryCost: m,
    timeCost: t,
    parallelism: p,
    outputLen: hash.length,
    algorithm: ARGON2_ALGORITHM[variant] as Algorithm,
    version: (version === 0x13 ? 1 : 0) as Version,
  });
}
