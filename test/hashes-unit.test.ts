// Structural unit tests of workos-migrate/hashes: detection, exact conversion output, unsupported reasons,
// hostile inputs and analyze(). Logging in with converted hashes (real framework hashing -> toWorkOS ->
// emulator import -> authenticate) is covered by the end-to-end tests; here node:crypto recomputes a few
// published examples only to prove the fields were mapped to the right places.
import { createCipheriv, createHash, pbkdf2Sync, scryptSync } from 'node:crypto';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { defineUsersMapping } from 'workos-migrate';
import {
  analyze,
  type Conversion,
  detect,
  type FirebaseStoredHash,
  HASH_FORMATS,
  HASH_LIMITS,
  type HashFormat,
  type HashOptions,
  toWorkOS,
  UNSUPPORTED_CODES,
  type UnsupportedCode,
  WORKOS_PASSWORD_HASH_TYPES,
} from 'workos-migrate/hashes';
import { DOCUMENTED_HASH_RANGES, type HashRanges, validateImportedHash } from '../src/emulator/passwords.js';
import { WIDE_HASH_RANGES } from './helpers/framework-hashes.js';

// ---------------------------------------------------------------------------------------------------
// Helpers

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const b64NoPad = (bytes: Uint8Array) => b64(bytes).replace(/=+$/, '');
const ab64 = (bytes: Uint8Array) => b64NoPad(bytes).replace(/\+/g, '.');
const bytes = (length: number, start = 0) =>
  Buffer.from(Array.from({ length }, (_, i) => (start + i * 7) % 256));

/** For the tests that check how a format's fields are mapped whatever WorkOS's ranges say. */
const WIDE_EMULATOR: HashRanges = WIDE_HASH_RANGES;
const WIDE: HashOptions = { workosRanges: WIDE_HASH_RANGES };

function expectConverted(conversion: Conversion, emulatorRanges: HashRanges = DOCUMENTED_HASH_RANGES) {
  if (!conversion.ok) throw new Error(`expected a conversion, got ${conversion.code}: ${conversion.reason}`);
  expect('unsupported' in conversion).toBe(false);
  // The emulator's independent validator (WorkOS's documented strings and ranges) accepts every string we emit.
  expect(
    validateImportedHash(conversion.passwordHashType, conversion.passwordHash, emulatorRanges),
  ).toBeNull();
  return conversion;
}

/** Converted with every range widened, checked by the emulator widened alike. */
const expectConvertedWide = (stored: string) => expectConverted(toWorkOS(stored, WIDE), WIDE_EMULATOR);

/** Salt- and digest-like pieces of an input: long runs that are not plain lowercase identifiers. */
function secretPieces(input: string): string[] {
  return input
    .split(/[$:{},]/)
    .flatMap((part) => part.split('='))
    .filter((part) => part.length >= 8 && !/^[a-z0-9_-]+$/.test(part));
}

function expectUnsupported(
  conversion: Conversion,
  code: UnsupportedCode,
  input: string,
  secrets: string[] = [],
) {
  if (conversion.ok) throw new Error(`expected ${code}, got a conversion to ${conversion.passwordHashType}`);
  expect(conversion.unsupported).toBe(true);
  expect(conversion.code).toBe(code);
  expect(UNSUPPORTED_CODES).toContain(conversion.code);
  expect(conversion.reason.length).toBeGreaterThan(40);
  expect(conversion.reason).toMatch(/[.!]$/);
  if (input.trim() !== '') expect(conversion.reason).not.toContain(input.trim());
  for (const piece of [...secretPieces(input), ...secrets]) expect(conversion.reason).not.toContain(piece);
  return conversion;
}

/** Splits a PHC string into its id, parameters and decoded salt and hash. */
function phc(text: string) {
  const parts = text.split('$');
  const params = new Map<string, string>();
  const paramPart = parts.length === 6 ? parts[3] : parts[2];
  for (const item of (paramPart ?? '').split(',')) {
    const [k, v] = item.split('=');
    params.set(k ?? '', v ?? '');
  }
  return {
    id: parts[1],
    version: parts.length === 6 ? parts[2] : undefined,
    params,
    salt: Buffer.from(parts.at(-2) ?? '', 'base64'),
    hash: Buffer.from(parts.at(-1) ?? '', 'base64'),
    saltText: parts.at(-2) ?? '',
    hashText: parts.at(-1) ?? '',
  };
}

// Published and hand-built fixtures ------------------------------------------------------------------

/** jBCrypt / OpenBSD test vector: password "abc". */
const BCRYPT_2A = '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i';
const BCRYPT_BODY = BCRYPT_2A.slice('$2a$06$'.length);

/** Django's own test_hashers vector (Django 1.8): make_password('lètmein', 'seasalt', 'pbkdf2_sha256'). */
const DJANGO_PBKDF2 = 'pbkdf2_sha256$20000$seasalt$oBSd886ysm3AqYun62DOdin8YcfbU1z9cksZSuLP9r0=';

/** passlib's documentation example: pbkdf2_sha256.hash("toomanysecrets"). */
const PASSLIB_PBKDF2 =
  '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk';

/** passlib's documentation example for atlassian_pbkdf2_sha1: password "password". */
const ATLASSIAN = '{PKCS5S2}DQIXJU038u4P7FdsuFTY/+35bm41kfjZa57UrdxHp2Mu3qF2uy+ooD+jF5t1tb8J';

/** slappasswd sample from an OpenLDAP how-to: password "fargle". */
const SSHA = '{SSHA}FM6N1jTf/0PflNiYX1GDVd0V3b/acp0w';

/** github.com/firebase/scrypt README sample: password "user1password", rounds 8, mem_cost 14. */
const FIREBASE_PROJECT = {
  signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
  saltSeparator: 'Bw==',
  rounds: 8,
  memCost: 14,
};
const FIREBASE_USER: FirebaseStoredHash = {
  salt: '42xEC+ixf3L2lw==',
  hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
};

const SALT16 = bytes(16, 3);
const KEY32 = bytes(32, 101);
const KEY64 = bytes(64, 55);

function aspnetV3(prf: number, iterations: number, salt: Uint8Array, subkey: Uint8Array): string {
  const header = Buffer.alloc(13);
  header.writeUInt8(0x01, 0);
  header.writeUInt32BE(prf, 1);
  header.writeUInt32BE(iterations, 5);
  header.writeUInt32BE(salt.length, 9);
  return b64(Buffer.concat([header, salt, subkey]));
}
const ASPNET_V2 = b64(Buffer.concat([Buffer.from([0x00]), SALT16, KEY32]));
const ASPNET_V3 = aspnetV3(2, 100_000, SALT16, KEY32);

const ARGON2ID = `$argon2id$v=19$m=65536,t=3,p=4$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
const SCRYPT_PHC = `$scrypt$ln=15,r=8,p=1$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
const SCRYPT_WORKOS = `$scrypt$v=1$n=32768,r=8,p=1,kl=32$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
const PBKDF2_PHC = `$pbkdf2-sha512$i=210000,l=64$${b64NoPad(SALT16)}$${b64NoPad(KEY64)}`;
const PBKDF2_WORKOS = `$pbkdf2$i=210000,d=sha512$${b64NoPad(SALT16)}$${b64NoPad(KEY64)}`;
const DJANGO_SCRYPT = `scrypt$16384$Qv3wWbRmxz7sAc1OAZ2Tq4$8$1$${b64(KEY64)}`;
const WERKZEUG_SCRYPT = `scrypt:32768:8:1$hvpxtFQ2Vb0Zs1Hk$${KEY64.toString('hex')}`;
const WERKZEUG_PBKDF2 = `pbkdf2:sha256:600000$dhAuQeZ7LCMsIeao$${KEY32.toString('hex')}`;

// ---------------------------------------------------------------------------------------------------

describe('public constants', () => {
  it('lists the six WorkOS types, stable format ids and codes', () => {
    expect([...WORKOS_PASSWORD_HASH_TYPES].sort()).toEqual(
      ['argon2', 'bcrypt', 'firebase-scrypt', 'pbkdf2', 'scrypt', 'ssha'].sort(),
    );
    expect(new Set(HASH_FORMATS).size).toBe(HASH_FORMATS.length);
    expect(new Set(UNSUPPORTED_CODES).size).toBe(UNSUPPORTED_CODES.length);
    expect(HASH_LIMITS.maxInputChars).toBe(4096);
  });
});

describe('detect', () => {
  const cases: Array<[HashFormat, string | FirebaseStoredHash]> = [
    ['bcrypt', BCRYPT_2A],
    ['bcrypt', `$2b$06$${BCRYPT_BODY}`],
    ['bcrypt', `$2y$06$${BCRYPT_BODY}`],
    ['bcrypt', `$2x$06$${BCRYPT_BODY}`],
    ['django-bcrypt', `bcrypt$$2b$06$${BCRYPT_BODY}`],
    ['argon2', ARGON2ID],
    ['argon2', `$argon2i$m=4096,t=3,p=1$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`],
    ['argon2', `$argon2d$v=19$m=4096,t=3,p=1$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`],
    ['django-argon2', `argon2${ARGON2ID}`],
    ['scrypt', SCRYPT_PHC],
    ['django-scrypt', DJANGO_SCRYPT],
    ['werkzeug-scrypt', WERKZEUG_SCRYPT],
    ['pbkdf2', PBKDF2_PHC],
    ['passlib-pbkdf2', PASSLIB_PBKDF2],
    ['passlib-pbkdf2', `$pbkdf2$1212$${ab64(SALT16)}$${ab64(bytes(20))}`],
    ['django-pbkdf2-sha256', DJANGO_PBKDF2],
    ['django-pbkdf2-sha1', `pbkdf2_sha1$260000$seasalt$${b64(bytes(20))}`],
    ['werkzeug-pbkdf2', WERKZEUG_PBKDF2],
    ['atlassian-pbkdf2', ATLASSIAN],
    ['aspnet-identity-v2', ASPNET_V2],
    ['aspnet-identity-v3', ASPNET_V3],
    ['ssha', SSHA],
    ['ssha', `{ssha}${SSHA.slice(6)}`],
    ['firebase-scrypt', FIREBASE_USER],
    ['firebase-scrypt', '$firebase-scrypt$hash=aGFzaA$salt=c2FsdA$sk=c2s$ss=Bw$r=8$m=14'],
    ['md5', '5f4dcc3b5aa765d61d8327deb882cf99'],
    ['md5', '{MD5}X03MO1qnZdYdgyfeuILPmQ=='],
    ['md5', 'unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99'],
    ['md5', 'md5$$5f4dcc3b5aa765d61d8327deb882cf99'],
    ['sha1', '5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8'],
    ['sha1', '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='],
    ['sha1', 'sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'],
    ['sha1', 'unsalted_sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'],
    ['sha256', 'a'.repeat(64)],
    ['sha512', 'b'.repeat(128)],
    ['salted-md5', 'md5$seasalt$f5531bef9f3687d0ccf0f617f0e25573'],
    ['salted-md5', '{SMD5}aGFzaGhhc2hoYXNoaGFzaHNhbHQ='],
    ['salted-sha1', 'sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8'],
    ['salted-sha256', `sha256$Rh4Kq1Zt$${'c'.repeat(64)}`],
    ['salted-sha512', `sha512$Rh4Kq1Zt$${'d'.repeat(128)}`],
    ['md5-crypt', '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/'],
    ['md5-crypt', '$apr1$saltsalt$ipIb4bBRAWu7aXbI6Gy1m/'],
    ['sha256-crypt', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF4YkrOLk'],
    [
      'sha512-crypt',
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    ['phpass', '$P$984478476IagS59wHZvyQMArzfx58u.'],
    ['phpass', '$H$984478476IagS59wHZvyQMArzfx58u.'],
    ['drupal7', '$S$DQbkHVQTZ4TnHXB4mPykP6v0Wv0SKDg9ZPcUvGvYp9uhjQTeNQHQ'],
    ['django-bcrypt-sha256', `bcrypt_sha256$$2b$06$${BCRYPT_BODY}`],
    [
      'passlib-bcrypt-sha256',
      `$bcrypt-sha256$v=2,t=2b,r=12$n79VH.0Q2TMWmt3Oqt9uku$Kq4Noyk3094Y2QlB8NdRT8SvGiI4ft2`,
    ],
    ['wordpress-bcrypt', `$wp$2y$10$${BCRYPT_BODY}`],
    ['ssha256', `{SSHA256}${b64(bytes(40))}`],
    ['ssha384', `{SSHA384}${b64(bytes(56))}`],
    ['ssha512', `{SSHA512}${b64(bytes(72))}`],
    ['unusable', '!Kd7xMq3vR2LpWn8Zt5YbHc1Ja6Fs9Ge4Ur0Qo7Xi'],
    ['unusable', '!'],
    ['unknown', `!$6$saltstring$${'x'.repeat(86)}`],
    ['empty', ''],
    ['empty', '   '],
    ['empty', { hash: '', salt: 'c2FsdA==' }],
    ['unknown', 'hunter2'],
    ['unknown', '$9$whatever'],
    ['unknown', '{CRYPT}$6$abc'],
    ['unknown', 'x'.repeat(HASH_LIMITS.maxInputChars + 1)],
  ];

  it.each(cases)('recognises %s', (format, stored) => {
    expect(detect(stored)).toBe(format);
    expect(toWorkOS(stored).format).toBe(format);
  });

  it('has a case for every format id', () => {
    expect(new Set(cases.map(([format]) => format))).toEqual(new Set(HASH_FORMATS));
  });

  it('ignores surrounding whitespace (CSV exports)', () => {
    expect(detect(`  ${BCRYPT_2A}\n`)).toBe('bcrypt');
    expect(expectConverted(toWorkOS(`${BCRYPT_2A}\r\n`)).passwordHash).toBe(BCRYPT_2A);
  });
});

describe('bcrypt', () => {
  it('passes $2a$ (Devise), $2b$ and $2y$ (Laravel) through unchanged', () => {
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const stored = `${prefix}06$${BCRYPT_BODY}`;
      const c = expectConverted(toWorkOS(stored));
      expect(c).toEqual({ ok: true, format: 'bcrypt', passwordHash: stored, passwordHashType: 'bcrypt' });
    }
  });

  it("strips Django's bcrypt$ prefix", () => {
    const c = expectConverted(toWorkOS(`bcrypt$$2b$12$${BCRYPT_BODY}`));
    expect(c.format).toBe('django-bcrypt');
    expect(c.passwordHash).toBe(`$2b$12$${BCRYPT_BODY}`);
  });

  it('refuses Devise hashes made with a pepper', () => {
    const c = toWorkOS(BCRYPT_2A, { pepper: true });
    expectUnsupported(c, 'peppered', BCRYPT_2A, [BCRYPT_BODY]);
    expect(c.format).toBe('bcrypt');
    expect(c.ok ? '' : c.reason).toMatch(/pepper/);
  });

  it('refuses $2x$ and bad costs, lengths and alphabets', () => {
    expectUnsupported(toWorkOS(`$2x$06$${BCRYPT_BODY}`), 'unsupported_variant', '', [BCRYPT_BODY]);
    expectUnsupported(toWorkOS(`$2b$99$${BCRYPT_BODY}`), 'cost_out_of_range', '', [BCRYPT_BODY]);
    expectUnsupported(toWorkOS(`$2b$21$${BCRYPT_BODY}`), 'cost_out_of_range', '', [BCRYPT_BODY]);
    expectUnsupported(toWorkOS(`$2b$03$${BCRYPT_BODY}`), 'malformed', '', [BCRYPT_BODY]);
    expectUnsupported(toWorkOS(`$2b$6$${BCRYPT_BODY}`), 'malformed', '', [BCRYPT_BODY]);
    expectUnsupported(toWorkOS(BCRYPT_2A.slice(0, -1)), 'malformed', BCRYPT_2A.slice(0, -1));
    expectUnsupported(toWorkOS(`${BCRYPT_2A}x`), 'malformed', BCRYPT_2A);
    expectUnsupported(toWorkOS(`$2b$06$${BCRYPT_BODY.slice(0, -1)}+`), 'malformed', BCRYPT_BODY);
    expectUnsupported(toWorkOS('$2b$'), 'malformed', '');
  });
});

describe('argon2', () => {
  it('passes PHC argon2id through (base64 normalised to unpadded)', () => {
    const c = expectConverted(toWorkOS(ARGON2ID));
    expect(c.passwordHash).toBe(ARGON2ID);
    const padded = `$argon2id$v=19$m=65536,t=3,p=4$${b64(SALT16)}$${b64(KEY32)}`;
    expect(expectConverted(toWorkOS(padded)).passwordHash).toBe(ARGON2ID);
  });

  it("strips Django's argon2 prefix, also from the older form without a version (Argon2 1.0)", () => {
    const c = expectConverted(toWorkOS(`argon2${ARGON2ID}`));
    expect(c).toMatchObject({ format: 'django-argon2', passwordHash: ARGON2ID, passwordHashType: 'argon2' });
    const salt = Buffer.from('someSaltTextHere', 'utf8');
    const old = `argon2$argon2i$m=512,t=2,p=2$${b64NoPad(salt)}$${b64NoPad(KEY32)}`;
    // Argon2 1.0 is outside WorkOS's range (v=19 only) unless an environment was widened.
    expectUnsupported(toWorkOS(old), 'argon2_version_not_supported', old);
    expect(expectConvertedWide(old).passwordHash).toBe(
      `$argon2i$v=16$m=512,t=2,p=2$${b64NoPad(salt)}$${b64NoPad(KEY32)}`,
    );
  });

  it('keeps the variant and normalises parameter order', () => {
    const d = `$argon2d$v=19$p=1,t=2,m=4096$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
    expect(expectConverted(toWorkOS(d)).passwordHash).toBe(
      `$argon2d$v=19$m=4096,t=2,p=1$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`,
    );
  });

  it('refuses absurd costs and malformed strings', () => {
    const tail = `${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
    const secrets = [b64NoPad(SALT16), b64NoPad(KEY32)];
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=${2 ** 40},t=2,p=1$${tail}`),
      'cost_out_of_range',
      '',
      secrets,
    );
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=1048576,t=64,p=1$${tail}`),
      'cost_out_of_range',
      '',
      secrets,
    );
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=65536,t=1000,p=1$${tail}`),
      'cost_out_of_range',
      '',
      secrets,
    );
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1000$${tail}`),
      'cost_out_of_range',
      '',
      secrets,
    );
    expectUnsupported(toWorkOS(`$argon2id$v=19$m=16,t=2,p=4$${tail}`), 'malformed', '', secrets);
    expectUnsupported(toWorkOS(`$argon2id$v=18$m=65536,t=2,p=1$${tail}`), 'malformed', '', secrets);
    expectUnsupported(toWorkOS(`$argon2id$v=19$m=65536,t=2$${tail}`), 'malformed', '', secrets);
    expectUnsupported(toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1,x=1$${tail}`), 'malformed', '', secrets);
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1,keyid=abc$${tail}`),
      'unsupported_variant',
      '',
      secrets,
    );
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1$${b64NoPad(bytes(4))}$${b64NoPad(KEY32)}`),
      'malformed',
      '',
    );
    expectUnsupported(
      toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1$${b64NoPad(SALT16)}$${b64NoPad(bytes(8))}`),
      'malformed',
      '',
    );
    expectUnsupported(toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1$!!!!$${b64NoPad(KEY32)}`), 'malformed', '');
    expectUnsupported(toWorkOS(`$argon2id$v=19$m=65536,t=2,p=1$${b64NoPad(SALT16)}`), 'malformed', '');
  });
});

describe('scrypt', () => {
  it("rewrites passlib's PHC scrypt (ln) to WorkOS's form (n, kl), and passes WorkOS's form through", () => {
    expect(expectConverted(toWorkOS(SCRYPT_PHC))).toMatchObject({
      passwordHash: SCRYPT_WORKOS,
      passwordHashType: 'scrypt',
    });
    expect(expectConverted(toWorkOS(SCRYPT_WORKOS)).passwordHash).toBe(SCRYPT_WORKOS);
  });

  it("converts Django's scrypt$ (salt = the salt string's UTF-8 bytes, N -> ln)", () => {
    const c = expectConverted(toWorkOS(DJANGO_SCRYPT));
    const f = phc(c.passwordHash);
    expect(f.id).toBe('scrypt');
    expect(f.version).toBe('v=1');
    expect(Object.fromEntries(f.params)).toEqual({ n: '16384', r: '8', p: '1', kl: '64' });
    expect(f.salt.toString('utf8')).toBe('Qv3wWbRmxz7sAc1OAZ2Tq4');
    expect(f.hash).toEqual(KEY64);
    expect(c.passwordHash).toBe(
      `$scrypt$v=1$n=16384,r=8,p=1,kl=64$${b64NoPad(Buffer.from('Qv3wWbRmxz7sAc1OAZ2Tq4'))}$${b64NoPad(KEY64)}`,
    );
  });

  it("converts Werkzeug's scrypt:N:r:p (hex digest)", () => {
    const c = expectConverted(toWorkOS(WERKZEUG_SCRYPT));
    expect(c.passwordHash).toBe(
      `$scrypt$v=1$n=32768,r=8,p=1,kl=64$${b64NoPad(Buffer.from('hvpxtFQ2Vb0Zs1Hk'))}$${b64NoPad(KEY64)}`,
    );
  });

  it('maps the fields so that node:crypto recomputes the digest (Django form, small N)', () => {
    const salt = 'aSaltOfTwentyTwoChars0';
    const key = scryptSync('correct horse', salt, 64, { N: 1024, r: 8, p: 1 });
    const c = expectConverted(toWorkOS(`scrypt$1024$${salt}$8$1$${b64(key)}`));
    const f = phc(c.passwordHash);
    const again = scryptSync('correct horse', f.salt, Number(f.params.get('kl')), {
      N: Number(f.params.get('n')),
      r: Number(f.params.get('r')),
      p: Number(f.params.get('p')),
    });
    expect(again).toEqual(f.hash);
  });

  it('refuses N that is absurd or not a power of two, and missing parameters', () => {
    const s = b64NoPad(SALT16);
    const h = b64NoPad(KEY32);
    expectUnsupported(toWorkOS(`$scrypt$ln=40,r=8,p=1$${s}$${h}`), 'cost_out_of_range', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$ln=20,r=16,p=1$${s}$${h}`), 'cost_out_of_range', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$ln=14,r=8,p=9999$${s}$${h}`), 'cost_out_of_range', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$ln=14,r=8$${s}$${h}`), 'malformed', '', [s, h]);
    // WorkOS's form: n must be a power of two, kl must match the digest, all four parameters present.
    expectUnsupported(toWorkOS(`$scrypt$v=1$n=16000,r=8,p=1,kl=32$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$v=1$n=16384,r=8,p=1,kl=64$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$v=1$n=16384,r=8,p=1$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$scrypt$v=1$ln=14,r=8,p=1,kl=32$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`scrypt$${2 ** 40}$abc$8$1$${b64(KEY64)}`), 'cost_out_of_range', '', [
      b64(KEY64),
    ]);
    expectUnsupported(toWorkOS(`scrypt$${'9'.repeat(40)}$abc$8$1$${b64(KEY64)}`), 'cost_out_of_range', '');
    expectUnsupported(toWorkOS(`scrypt$16000$abcdefgh$8$1$${b64(KEY64)}`), 'malformed', '');
    expectUnsupported(toWorkOS(`scrypt$16384$abcdefgh$8$1$${b64(KEY64)}$extra`), 'malformed', '');
    expectUnsupported(toWorkOS(`scrypt$16384$$8$1$${b64(KEY64)}`), 'malformed', '');
    expectUnsupported(toWorkOS('scrypt:32768:8$abcdefgh$00ff'), 'malformed', '');
    expectUnsupported(toWorkOS(`scrypt$hvpxtFQ2Vb0Zs1Hk$${KEY64.toString('hex')}`), 'malformed', '');
    expectUnsupported(toWorkOS(`scrypt:32768:8:1$hvpxtFQ2Vb0Zs1Hk$${'z'.repeat(128)}`), 'malformed', '');
  });
});

describe('pbkdf2', () => {
  it("maps Django's documented pbkdf2_sha256 example (20,000 iterations: below WorkOS's minimum)", () => {
    expectUnsupported(toWorkOS(DJANGO_PBKDF2), 'pbkdf2_iterations_below_workos_minimum', DJANGO_PBKDF2);
    const c = expectConvertedWide(DJANGO_PBKDF2);
    expect(c).toEqual({
      ok: true,
      format: 'django-pbkdf2-sha256',
      passwordHash: '$pbkdf2$i=20000,d=sha256$c2Vhc2FsdA$oBSd886ysm3AqYun62DOdin8YcfbU1z9cksZSuLP9r0',
      passwordHashType: 'pbkdf2',
    });
    const f = phc(c.passwordHash);
    expect(pbkdf2Sync('lètmein', f.salt, 20000, 32, 'sha256')).toEqual(f.hash);
  });

  it("maps Django's pbkdf2_sha1 (SHA-1: a digest WorkOS does not import)", () => {
    const key = pbkdf2Sync('pw', 'Rh4Kq1Zt', 1000, 20, 'sha1');
    const stored = `pbkdf2_sha1$1000$Rh4Kq1Zt$${b64(key)}`;
    expectUnsupported(toWorkOS(stored), 'pbkdf2_digest_not_supported', stored);
    const c = expectConvertedWide(stored);
    expect(c.format).toBe('django-pbkdf2-sha1');
    expect(c.passwordHash).toBe(
      `$pbkdf2$i=1000,d=sha1$${b64NoPad(Buffer.from('Rh4Kq1Zt'))}$${b64NoPad(key)}`,
    );
  });

  it("maps passlib's documented example (adapted base64; 29,000 rounds, below WorkOS's minimum)", () => {
    expectUnsupported(toWorkOS(PASSLIB_PBKDF2), 'pbkdf2_iterations_below_workos_minimum', PASSLIB_PBKDF2);
    const c = expectConvertedWide(PASSLIB_PBKDF2);
    expect(c.passwordHash).toBe(
      '$pbkdf2$i=29000,d=sha256$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A+WF/Z5JZv+lfCIhXXN33N23OSgQYThBYRfk',
    );
    const f = phc(c.passwordHash);
    expect(f.salt.length).toBe(16);
    expect(pbkdf2Sync('toomanysecrets', f.salt, 29000, 32, 'sha256')).toEqual(f.hash);
  });

  it("maps passlib's $pbkdf2$ (SHA-1) and $pbkdf2-sha512$", () => {
    const sha1 = expectConvertedWide(`$pbkdf2$1212$${ab64(SALT16)}$${ab64(bytes(20, 9))}`);
    expect(sha1.passwordHash).toBe(`$pbkdf2$i=1212,d=sha1$${b64NoPad(SALT16)}$${b64NoPad(bytes(20, 9))}`);
    const sha512 = expectConvertedWide(`$pbkdf2-sha512$25000$${ab64(SALT16)}$${ab64(KEY64)}`);
    expect(sha512.passwordHash).toBe(`$pbkdf2$i=25000,d=sha512$${b64NoPad(SALT16)}$${b64NoPad(KEY64)}`);
    const inside = expectConverted(toWorkOS(`$pbkdf2-sha512$210000$${ab64(SALT16)}$${ab64(KEY64)}`));
    expect(inside.passwordHash).toBe(PBKDF2_WORKOS);
  });

  it("converts Werkzeug's pbkdf2:<digest>:<iterations> (hex digest)", () => {
    const c = expectConverted(toWorkOS(WERKZEUG_PBKDF2));
    expect(c.passwordHash).toBe(
      `$pbkdf2$i=600000,d=sha256$${b64NoPad(Buffer.from('dhAuQeZ7LCMsIeao'))}$${b64NoPad(KEY32)}`,
    );
    const key = pbkdf2Sync('pw', 'abcdEFGH12345678', 1000, 64, 'sha512');
    const sha512 = expectConvertedWide(`pbkdf2:sha512:1000$abcdEFGH12345678$${key.toString('hex')}`);
    const f = phc(sha512.passwordHash);
    expect(pbkdf2Sync('pw', f.salt, 1000, 64, 'sha512')).toEqual(f.hash);
  });

  it("rewrites PHC pbkdf2 to WorkOS's $pbkdf2$i=..,d=.. and passes WorkOS's form through", () => {
    expect(expectConverted(toWorkOS(PBKDF2_PHC)).passwordHash).toBe(PBKDF2_WORKOS);
    expect(detect(PBKDF2_WORKOS)).toBe('pbkdf2');
    expect(expectConverted(toWorkOS(PBKDF2_WORKOS)).passwordHash).toBe(PBKDF2_WORKOS);
    const noL = `$pbkdf2-sha256$i=1000$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`;
    expect(expectConvertedWide(noL).passwordHash).toBe(
      `$pbkdf2$i=1000,d=sha256$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`,
    );
  });

  it("maps passlib's documented Atlassian {PKCS5S2} example (SHA-1, 10,000: outside WorkOS's range)", () => {
    expectUnsupported(toWorkOS(ATLASSIAN), 'pbkdf2_digest_not_supported', ATLASSIAN);
    const c = expectConvertedWide(ATLASSIAN);
    const f = phc(c.passwordHash);
    expect(f.id).toBe('pbkdf2');
    expect(Object.fromEntries(f.params)).toEqual({ i: '10000', d: 'sha1' });
    expect(pbkdf2Sync('password', f.salt, 10000, 32, 'sha1')).toEqual(f.hash);
  });

  it('refuses absurd iteration counts, other digests, missing counts and broken encodings', () => {
    const s = b64NoPad(SALT16);
    const h = b64NoPad(KEY32);
    expectUnsupported(toWorkOS(`$pbkdf2-sha256$i=${10 ** 12},l=32$${s}$${h}`), 'cost_out_of_range', '', [
      s,
      h,
    ]);
    expectUnsupported(toWorkOS(`$pbkdf2-sha256$i=0,l=32$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$pbkdf2-sha256$i=1000,l=31$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$pbkdf2-md5$i=1000$${s}$${h}`), 'unsupported_variant', '', [s, h]);
    expectUnsupported(toWorkOS(`pbkdf2_sha256$${10 ** 12}$seasalt$${b64(KEY32)}`), 'cost_out_of_range', '');
    expectUnsupported(toWorkOS(`pbkdf2_sha256$abc$seasalt$${b64(KEY32)}`), 'malformed', '');
    expectUnsupported(toWorkOS(`pbkdf2_sha256$1000$seasalt$${b64(KEY32)}$`), 'malformed', '');
    expectUnsupported(toWorkOS('pbkdf2_sha256$1000$seasalt$not*base64'), 'malformed', '');
    expectUnsupported(toWorkOS(`pbkdf2_sha256$1000$seasalt$${b64(bytes(8))}`), 'malformed', '');
    expectUnsupported(toWorkOS(`pbkdf2_sha256$1000$$${b64(KEY32)}`), 'malformed', '');
    // passlib's ab64 never contains '+'.
    expectUnsupported(toWorkOS(`$pbkdf2-sha256$1000$${b64NoPad(SALT16)}+$${ab64(KEY32)}`), 'malformed', '');
    expectUnsupported(toWorkOS(`pbkdf2:sha256$abcdEFGH$${KEY32.toString('hex')}`), 'malformed', '');
    expectUnsupported(
      toWorkOS(`pbkdf2:md5:1000$abcdEFGH$${KEY32.toString('hex')}`),
      'unsupported_variant',
      '',
    );
    expectUnsupported(toWorkOS(`pbkdf2:sha256:1000$abcdEFGH$${KEY32.toString('hex')}0`), 'malformed', '');
    expectUnsupported(toWorkOS(`{PKCS5S2}${b64(bytes(40))}`), 'malformed', '');
    // WorkOS's own form needs both i and d, and takes no l.
    expectUnsupported(toWorkOS(`$pbkdf2$i=600000$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$pbkdf2$i=600000,d=sha256,l=32$${s}$${h}`), 'malformed', '', [s, h]);
    expectUnsupported(toWorkOS(`$pbkdf2$i=600000,d=md5$${s}$${h}`), 'unsupported_variant', '', [s, h]);
  });
});

// WorkOS's own example strings, from its migration guide ("Importing passwords"; the same text ships in
// @workos/mcp-docs-server, .docs/organized/docs/migrate/other-services.mdx).
const WORKOS_DOC_SCRYPT =
  '$scrypt$v=1$n=16384,r=8,p=1,kl=64$Swhqd4iUYTtWfbCYIPeuMw$q7pfdBQMJujd5FX/qX+ozM2O6aNqP+mo1ZnHGH15XM2vlhroQfPA037UpbdfpH4H66OrSPjsUhfkAMuNoBiQvw';
const WORKOS_DOC_PBKDF2 =
  '$pbkdf2$i=600000,d=sha256$T2ptRFh6MXhDQVh2SWZuUGdpQXBUTg$xXiyTisD7390NijyCv5ICMhFW4eDuMlzypRoLGLyIvA';
const WORKOS_DOC_ARGON2 = '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG';

describe('WorkOS ranges', () => {
  const s = b64NoPad(SALT16);
  const h32 = b64NoPad(KEY32);
  const pbkdf2 = (digest: string, i: number) => `$pbkdf2-${digest}$i=${i}$${s}$${b64NoPad(KEY64)}`;
  const argon2 = (variant: string, m: number, t: number, p: number, v = 'v=19$') =>
    `$${variant}$${v}m=${m},t=${t},p=${p}$${s}$${h32}`;

  it("passes WorkOS's documented example strings through unchanged", () => {
    for (const [stored, type] of [
      [WORKOS_DOC_SCRYPT, 'scrypt'],
      [WORKOS_DOC_PBKDF2, 'pbkdf2'],
      [WORKOS_DOC_ARGON2, 'argon2'],
    ] as const) {
      expect(expectConverted(toWorkOS(stored))).toMatchObject({
        passwordHash: stored,
        passwordHashType: type,
      });
    }
  });

  it('PBKDF2: SHA-256 600,000-1,000,000 and SHA-512 210,000-1,000,000 only, each code precise', () => {
    for (const inside of [
      pbkdf2('sha256', 600_000),
      pbkdf2('sha256', 1_000_000),
      pbkdf2('sha512', 210_000),
    ]) {
      expect(expectConverted(toWorkOS(inside)).passwordHashType).toBe('pbkdf2');
    }
    const cases: [string, UnsupportedCode, RegExp][] = [
      [pbkdf2('sha256', 599_999), 'pbkdf2_iterations_below_workos_minimum', /600,000 to 1,000,000/],
      [pbkdf2('sha512', 209_999), 'pbkdf2_iterations_below_workos_minimum', /210,000 to 1,000,000/],
      [pbkdf2('sha256', 1_000_001), 'pbkdf2_iterations_above_workos_maximum', /1,000,000/],
      [pbkdf2('sha1', 600_000), 'pbkdf2_digest_not_supported', /SHA-256 or SHA-512/],
    ];
    for (const [stored, code, says] of cases) {
      const c = expectUnsupported(toWorkOS(stored), code, stored, [s]);
      expect(c.reason).toMatch(says);
      expect(c.reason).toMatch(/hashOptions\.workosRanges/);
      // The emulator refuses the same hash, written in WorkOS's form, for the same reason.
      const asWorkos = expectConvertedWide(stored).passwordHash;
      expect(validateImportedHash('pbkdf2', asWorkos)).toMatch(/pbkdf2 (iterations|digest)/);
    }
  });

  it('Argon2: v=19, 4,096-262,144 KiB, 1-5 passes (argon2i 3-5), 1-8 lanes, each code precise', () => {
    for (const inside of [
      argon2('argon2id', 4096, 1, 1),
      argon2('argon2id', 262_144, 5, 8),
      argon2('argon2i', 65_536, 3, 4),
      argon2('argon2d', 19_456, 2, 1),
    ]) {
      expect(expectConverted(toWorkOS(inside)).passwordHashType).toBe('argon2');
    }
    const cases: [string, UnsupportedCode][] = [
      [argon2('argon2id', 65_536, 3, 4, 'v=16$'), 'argon2_version_not_supported'],
      [argon2('argon2id', 65_536, 3, 4, ''), 'argon2_version_not_supported'],
      [argon2('argon2id', 4095, 3, 4), 'argon2_memory_out_of_range'],
      [argon2('argon2id', 262_145, 3, 4), 'argon2_memory_out_of_range'],
      [argon2('argon2id', 65_536, 6, 4), 'argon2_time_out_of_range'],
      [argon2('argon2i', 65_536, 2, 4), 'argon2_time_out_of_range'],
      [argon2('argon2id', 65_536, 3, 9), 'argon2_parallelism_out_of_range'],
    ];
    for (const [stored, code] of cases) {
      expectUnsupported(toWorkOS(stored), code, stored, [s, h32]);
      const asWorkos = expectConvertedWide(stored).passwordHash;
      expect(validateImportedHash('argon2', asWorkos), code).toMatch(/^argon2 /);
    }
  });

  it('a workosRanges that cannot be read is refused by defineUsersMapping, naming the option', () => {
    const table = pgTable('people', { id: serial('id').primaryKey(), email: text('email') });
    const mappingWith = (workosRanges: unknown) => () =>
      defineUsersMapping({
        table,
        id: table.id,
        email: table.email,
        hashOptions: { workosRanges } as HashOptions,
      });
    expect(mappingWith({ pbkdf2Iterations: { sha256: { min: 260_000, max: 1_000_000 } } })).not.toThrow();
    expect(mappingWith({ pbkdf2Iterations: { sha256: { min: 900_000, max: 600_000 } } })).toThrow(
      /users\.hashOptions\.workosRanges\.pbkdf2Iterations\.sha256 must be \{ min, max \}/,
    );
    expect(mappingWith({ pbkdf2Iterations: { md5: { min: 1, max: 2 } } })).toThrow(/unknown digest md5/);
    expect(mappingWith({ argon2Versions: [18] })).toThrow(/argon2Versions/);
    expect(mappingWith({ argon2MemoryKiB: 1024 })).toThrow(/argon2MemoryKiB/);
  });

  it('hashOptions.workosRanges lifts only the range it names (an environment WorkOS support widened)', () => {
    // Django 3.2's 260,000 iterations.
    const django32 = `pbkdf2_sha256$260000$seasalt$${b64(KEY32)}`;
    expectUnsupported(toWorkOS(django32), 'pbkdf2_iterations_below_workos_minimum', django32);
    const widened: HashOptions = {
      workosRanges: { pbkdf2Iterations: { sha256: { min: 260_000, max: 1_000_000 } } },
    };
    const emulator: HashRanges = {
      ...DOCUMENTED_HASH_RANGES,
      pbkdf2Iterations: {
        ...DOCUMENTED_HASH_RANGES.pbkdf2Iterations,
        sha256: { min: 260_000, max: 1_000_000 },
      },
    };
    expect(expectConverted(toWorkOS(django32, widened), emulator).passwordHash).toBe(
      `$pbkdf2$i=260000,d=sha256$${b64NoPad(Buffer.from('seasalt'))}$${h32}`,
    );
    // Other ranges keep their defaults.
    expectUnsupported(
      toWorkOS(pbkdf2('sha512', 100_000), widened),
      'pbkdf2_iterations_below_workos_minimum',
      '',
    );
    expectUnsupported(toWorkOS(pbkdf2('sha1', 600_000), widened), 'pbkdf2_digest_not_supported', '');
    expectUnsupported(toWorkOS(argon2('argon2id', 1024, 3, 4), widened), 'argon2_memory_out_of_range', '');
    const lowMemory = { workosRanges: { argon2MemoryKiB: { min: 1024, max: 262_144 } } };
    expect(toWorkOS(argon2('argon2id', 1024, 3, 4), lowMemory).ok).toBe(true);
    expect(
      toWorkOS(argon2('argon2id', 65_536, 3, 4, 'v=16$'), { workosRanges: { argon2Versions: [16, 19] } }).ok,
    ).toBe(true);
  });
});

describe('ASP.NET Identity', () => {
  it('converts a hand-built v2 blob: PBKDF2-HMAC-SHA1, 1000 iterations, 16-byte salt, 32-byte subkey', () => {
    expectUnsupported(toWorkOS(ASPNET_V2), 'pbkdf2_digest_not_supported', ASPNET_V2);
    const c = expectConvertedWide(ASPNET_V2);
    expect(c.format).toBe('aspnet-identity-v2');
    expect(c.passwordHash).toBe(`$pbkdf2$i=1000,d=sha1$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`);
  });

  it('converts a hand-built v3 blob and decodes every header field', () => {
    // .NET 7+'s default (HMAC-SHA512, 100,000) is below WorkOS's 210,000 for SHA-512.
    expectUnsupported(toWorkOS(ASPNET_V3), 'pbkdf2_iterations_below_workos_minimum', ASPNET_V3);
    const c = expectConvertedWide(ASPNET_V3);
    expect(c.format).toBe('aspnet-identity-v3');
    const f = phc(c.passwordHash);
    expect(f.id).toBe('pbkdf2');
    expect(Object.fromEntries(f.params)).toEqual({ i: '100000', d: 'sha512' });
    expect(f.salt).toEqual(SALT16);
    expect(f.hash).toEqual(KEY32);

    const sha1 = phc(expectConvertedWide(aspnetV3(0, 10_000, bytes(24), KEY64)).passwordHash);
    expect([sha1.id, sha1.params.get('i'), sha1.params.get('d'), sha1.salt.length, sha1.hash.length]).toEqual(
      ['pbkdf2', '10000', 'sha1', 24, 64],
    );
    const sha256 = phc(expectConvertedWide(aspnetV3(1, 10_000, SALT16, KEY32)).passwordHash);
    expect(sha256.params.get('d')).toBe('sha256');
    // Configured inside WorkOS's range, it converts as it is.
    const inside = expectConverted(toWorkOS(aspnetV3(2, 210_000, SALT16, KEY32)));
    expect(inside.passwordHash).toBe(`$pbkdf2$i=210000,d=sha512$${b64NoPad(SALT16)}$${b64NoPad(KEY32)}`);
  });

  it('maps a real v3 hash so that node:crypto recomputes it', () => {
    const salt = bytes(16, 77);
    const subkey = pbkdf2Sync('Passw0rd!', salt, 1000, 32, 'sha256');
    const f = phc(expectConvertedWide(aspnetV3(1, 1000, salt, subkey)).passwordHash);
    expect(pbkdf2Sync('Passw0rd!', f.salt, 1000, 32, 'sha256')).toEqual(f.hash);
  });

  it('reads the real-world header AQAAAAEAACcQAAAAE... as HMACSHA256, 10000 iterations, 16-byte salt', () => {
    const stored = 'AQAAAAEAACcQAAAAEFViYAG3NfZJLagzkgZwli4R6ec1ZjcFZ+aW2Nw5PmftqYGms0N+asV5SZVpeqWLug==';
    expectUnsupported(toWorkOS(stored), 'pbkdf2_iterations_below_workos_minimum', stored);
    const f = phc(expectConvertedWide(stored).passwordHash);
    expect([f.params.get('d'), f.params.get('i'), f.hash.length, f.salt.length]).toEqual([
      'sha256',
      '10000',
      32,
      16,
    ]);
  });

  it('refuses truncated blobs, absurd iteration counts and unknown PRFs', () => {
    // A v3 header and a salt cut short (seen in a real seed file).
    const truncated = 'AQAAAAEAACcQAAAAEGY8QmQyNJ5X7R+0zQzL5Q==';
    expect(detect(truncated)).toBe('aspnet-identity-v3');
    expectUnsupported(toWorkOS(truncated), 'malformed', truncated);
    expectUnsupported(toWorkOS(aspnetV3(2, 2 ** 32 - 1, SALT16, KEY32)), 'cost_out_of_range', '');
    expectUnsupported(toWorkOS(aspnetV3(2, 0, SALT16, KEY32)), 'malformed', '');
    expect(detect(aspnetV3(7, 1000, SALT16, KEY32))).toBe('unknown');
  });
});

describe('ssha', () => {
  it('passes the slappasswd sample through, and sha1(password + salt) matches', () => {
    const c = expectConverted(toWorkOS(SSHA));
    expect(c).toEqual({ ok: true, format: 'ssha', passwordHash: SSHA, passwordHashType: 'ssha' });
    const raw = Buffer.from(SSHA.slice(6), 'base64');
    expect(createHash('sha1').update('fargle').update(raw.subarray(20)).digest()).toEqual(
      raw.subarray(0, 20),
    );
  });

  it('normalises the scheme case and the padding', () => {
    const raw = Buffer.concat([bytes(20), bytes(8, 5)]);
    expect(expectConverted(toWorkOS(`{ssha}${b64NoPad(raw)}`)).passwordHash).toBe(`{SSHA}${b64(raw)}`);
  });

  it('refuses an unsalted or broken {SSHA}', () => {
    expectUnsupported(toWorkOS(`{SSHA}${b64(bytes(20))}`), 'malformed', '');
    expectUnsupported(toWorkOS('{SSHA}not base64!'), 'malformed', '');
    expectUnsupported(toWorkOS('{SSHA}'), 'malformed', '');
  });
});

describe('firebase-scrypt', () => {
  it('combines an export entry with the project parameters (Firebase README sample)', () => {
    const c = expectConverted(toWorkOS(FIREBASE_USER, { firebase: FIREBASE_PROJECT }));
    const strip = (s: string) => s.replace(/=+$/, '');
    expect(c).toEqual({
      ok: true,
      format: 'firebase-scrypt',
      passwordHashType: 'firebase-scrypt',
      passwordHash:
        `$firebase-scrypt$hash=${strip(FIREBASE_USER.hash)}$salt=${strip(FIREBASE_USER.salt)}` +
        `$sk=${strip(FIREBASE_PROJECT.signerKey)}$ss=Bw$r=8$m=14`,
    });
  });

  it("maps rounds to scrypt's r and memCost to log2 N: node:crypto recomputes the README hash", () => {
    const c = expectConverted(toWorkOS(FIREBASE_USER, { firebase: FIREBASE_PROJECT }));
    const field = (name: string) => {
      const value = c.passwordHash
        .split('$')
        .find((f) => f.startsWith(`${name}=`))
        ?.slice(name.length + 1);
      return value ?? '';
    };
    const salt = Buffer.concat([Buffer.from(field('salt'), 'base64'), Buffer.from(field('ss'), 'base64')]);
    const key = scryptSync('user1password', salt, 32, {
      N: 2 ** Number(field('m')),
      r: Number(field('r')),
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const out = Buffer.concat([cipher.update(Buffer.from(field('sk'), 'base64')), cipher.final()]);
    expect(b64NoPad(out)).toBe(field('hash'));
  });

  it('accepts URL-safe base64 from an export and emits standard base64', () => {
    const urlSafe = {
      hash: FIREBASE_USER.hash.replaceAll('+', '-').replaceAll('/', '_'),
      salt: FIREBASE_USER.salt.replaceAll('+', '-').replaceAll('/', '_'),
    };
    expect(urlSafe.hash).not.toBe(FIREBASE_USER.hash);
    expect(expectConverted(toWorkOS(urlSafe, { firebase: FIREBASE_PROJECT })).passwordHash).toBe(
      expectConverted(toWorkOS(FIREBASE_USER, { firebase: FIREBASE_PROJECT })).passwordHash,
    );
  });

  it('passes an already-formed $firebase-scrypt$ string through, normalised', () => {
    const formed = expectConverted(toWorkOS(FIREBASE_USER, { firebase: FIREBASE_PROJECT })).passwordHash;
    expect(expectConverted(toWorkOS(formed)).passwordHash).toBe(formed);
    const reordered = formed.split('$').slice(2).reverse().join('$');
    expect(expectConverted(toWorkOS(`$firebase-scrypt$${reordered}`)).passwordHash).toBe(formed);
  });

  it('says what is missing without the project parameters, or when they are wrong', () => {
    const secrets = [FIREBASE_USER.hash, FIREBASE_USER.salt, FIREBASE_PROJECT.signerKey];
    expectUnsupported(toWorkOS(FIREBASE_USER), 'firebase_parameters_missing', '', secrets);
    const bad = (firebase: unknown) => toWorkOS(FIREBASE_USER, { firebase } as HashOptions);
    expectUnsupported(
      bad({ ...FIREBASE_PROJECT, signerKey: 'not base64!' }),
      'firebase_parameters_invalid',
      '',
      secrets,
    );
    expectUnsupported(
      bad({ ...FIREBASE_PROJECT, signerKey: 42 }),
      'firebase_parameters_invalid',
      '',
      secrets,
    );
    expectUnsupported(bad({ ...FIREBASE_PROJECT, rounds: '8' }), 'firebase_parameters_invalid', '', secrets);
    expectUnsupported(bad({ ...FIREBASE_PROJECT, memCost: 0 }), 'firebase_parameters_invalid', '', secrets);
    expectUnsupported(bad({ ...FIREBASE_PROJECT, memCost: 40 }), 'cost_out_of_range', '', secrets);
    expectUnsupported(
      bad({ ...FIREBASE_PROJECT, signerKey: b64(bytes(32)) }),
      'firebase_parameters_invalid',
      '',
      secrets,
    );
    expectUnsupported(bad('yes'), 'firebase_parameters_invalid', '', secrets);
    const f = { firebase: FIREBASE_PROJECT };
    expectUnsupported(
      toWorkOS({ hash: 'not*base64', salt: FIREBASE_USER.salt }, f),
      'malformed',
      '',
      secrets,
    );
    expectUnsupported(toWorkOS({ hash: FIREBASE_USER.hash, salt: '' }, f), 'malformed', '', secrets);
    expectUnsupported(
      toWorkOS({ hash: b64(bytes(8)), salt: FIREBASE_USER.salt }, f),
      'malformed',
      '',
      secrets,
    );
    expectUnsupported(toWorkOS('$firebase-scrypt$hash=aGFzaA$salt=c2FsdA'), 'malformed', '');
    expectUnsupported(toWorkOS('$firebase-scrypt$hash=aGFzaA$hash=aGFzaA'), 'malformed', '');
  });
});

describe('unsupported formats', () => {
  const cases: Array<[UnsupportedCode, string, HashOptions?]> = [
    ['unsalted_digest', '5f4dcc3b5aa765d61d8327deb882cf99'],
    ['unsalted_digest', '5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'],
    ['unsalted_digest', '5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8'],
    ['unsalted_digest', createHash('sha512').update('password').digest('hex')],
    ['unsalted_digest', '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='],
    ['unsalted_digest', 'unsalted_md5$$5f4dcc3b5aa765d61d8327deb882cf99'],
    ['unsalted_digest', 'sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8'],
    ['salted_digest', 'sha1$Xk2Lp9Qr$cff36ea83f5706ce9aa7454e63e431fc726b2dc8'],
    ['salted_digest', 'md5$Xk2Lp9Qr$f5531bef9f3687d0ccf0f617f0e25573'],
    ['salted_digest', `sha256$Xk2Lp9Qr$${createHash('sha256').update('x').digest('hex')}`],
    ['salted_digest', '{SMD5}aGFzaGhhc2hoYXNoaGFzaHNhbHQ='],
    ['crypt_md5', '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/'],
    ['crypt_md5', '$apr1$saltsalt$ipIb4bBRAWu7aXbI6Gy1m/'],
    ['crypt_sha', '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZF4YkrOLk'],
    [
      'crypt_sha',
      '$6$rounds=5000$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    ['phpass', '$P$984478476IagS59wHZvyQMArzfx58u.'],
    ['phpass', '$H$984478476IagS59wHZvyQMArzfx58u.'],
    ['phpass', '$S$DQbkHVQTZ4TnHXB4mPykP6v0Wv0SKDg9ZPcUvGvYp9uhjQTeNQHQ'],
    ['bcrypt_sha256_prehash', `bcrypt_sha256$$2b$12$${BCRYPT_BODY}`],
    [
      'bcrypt_sha256_prehash',
      '$bcrypt-sha256$v=2,t=2b,r=12$n79VH.0Q2TMWmt3Oqt9uku$Kq4Noyk3094Y2QlB8NdRT8SvGiI4ft2',
    ],
    ['bcrypt_sha384_prehash', `$wp$2y$10$${BCRYPT_BODY}`],
    ['ssha_variant', `{SSHA256}${b64(bytes(40))}`],
    ['ssha_variant', `{SSHA512}${b64(bytes(72))}`],
    ['peppered', DJANGO_PBKDF2, { pepper: true }],
    ['peppered', '5f4dcc3b5aa765d61d8327deb882cf99', { pepper: true }],
    ['unusable_password', '!Kd7xMq3vR2LpWn8Zt5YbHc1Ja6Fs9Ge4Ur0Qo7Xi'],
    ['empty', ''],
    ['empty', ' \t\n'],
    ['unknown_format', 'hunter2'],
    ['unknown_format', 'Zm9vYmFyYmF6cXV4cXV1eA=='],
  ];

  it.each(cases)('%s: %s', (code, stored, options) => {
    expectUnsupported(toWorkOS(stored, options), code, stored);
  });

  it('covers every code', () => {
    const covered = new Set<UnsupportedCode>([
      ...cases.map(([code]) => code),
      // exercised in the per-format blocks above
      'malformed',
      'cost_out_of_range',
      'unsupported_variant',
      'firebase_parameters_missing',
      'firebase_parameters_invalid',
      // exercised in "WorkOS ranges"
      'pbkdf2_digest_not_supported',
      'pbkdf2_iterations_below_workos_minimum',
      'pbkdf2_iterations_above_workos_maximum',
      'argon2_version_not_supported',
      'argon2_memory_out_of_range',
      'argon2_time_out_of_range',
      'argon2_parallelism_out_of_range',
    ]);
    expect(covered).toEqual(new Set(UNSUPPORTED_CODES));
  });

  it('makes a bare hex reason more precise with bareHexFormat', () => {
    const hex = '5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8';
    const guessed = expectUnsupported(toWorkOS(hex), 'unsalted_digest', hex);
    const configured = expectUnsupported(toWorkOS(hex, { bareHexFormat: 'sha256' }), 'unsalted_digest', hex);
    const mismatched = expectUnsupported(toWorkOS(hex, { bareHexFormat: 'md5' }), 'unsalted_digest', hex);
    expect(configured.format).toBe('sha256');
    expect(guessed.reason).toMatch(/by its length/);
    expect(configured.reason).toMatch(/as configured by hashOptions\.bareHexFormat/);
    expect(mismatched.reason).toMatch(/does not fit/);
  });

  it('says what happens to the user', () => {
    expect(expectUnsupported(toWorkOS('hunter2'), 'unknown_format', 'hunter2').reason).toMatch(
      /next successful login|password reset/,
    );
    expect(expectUnsupported(toWorkOS(''), 'empty', '').reason).toMatch(/nothing to import/i);
  });
});

describe('hostile input', () => {
  const MB = 1024 * 1024;
  const hostile: unknown[] = [
    '',
    '$',
    '$$$$$$',
    '{',
    '{}',
    '{SSHA',
    '!',
    ':',
    '$2b$',
    '$2b$10$',
    '$2b$10$short',
    `$2b$99$${BCRYPT_BODY}`,
    '$argon2id$',
    '$argon2id$v=19$m=,t=,p=$$',
    `$argon2id$v=19$m=${'9'.repeat(400)},t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA`,
    '$scrypt$ln=40,r=8,p=1$c2FsdA$aGFzaA',
    '$scrypt$ln=1e3,r=8,p=1$c2FsdA$aGFzaA',
    '$scrypt$ln=-1,r=8,p=1$c2FsdA$aGFzaA',
    '$pbkdf2-sha256$i=1000000000000,l=32$c2FsdA$aGFzaA',
    '$pbkdf2-sha256$1000000000000$c2FsdA$aGFzaA',
    '$pbkdf2-sha256$i=NaN$c2FsdA$aGFzaA',
    '$pbkdf2-sha256$i=1.5$c2FsdA$aGFzaA',
    'pbkdf2_sha256$Infinity$salt$aGFzaA==',
    'pbkdf2:sha256:99999999999999999999999$salt$00',
    'scrypt:0:0:0$salt$00',
    'scrypt$0$salt$0$0$',
    '$firebase-scrypt$',
    '$firebase-scrypt$hash=$salt=$sk=$ss=$r=$m=',
    '$firebase-scrypt$hash=aGFzaA$salt=c2FsdA$sk=c2s$ss=Bw$r=99999$m=99999',
    '{SSHA}====',
    '{SSHA}A',
    '{PKCS5S2}',
    'AQAAAA==',
    'AQAAAAIAAAAAAAAAAA==',
    '\u0000\u0001\u0002',
    '\uD800',
    '💥'.repeat(100),
    `$2b$10$${'a'.repeat(MB)}`,
    'a'.repeat(MB),
    '$'.repeat(MB),
    `{SSHA}${'A'.repeat(MB)}`,
    `pbkdf2_sha256$${'1'.repeat(MB)}`,
    ','.repeat(MB),
    `${'$pbkdf2-sha256$'.repeat(250)}`,
    `$argon2id$v=19$${'m=1,'.repeat(900)}p=1$c2FsdA$aGFzaA`,
    { hash: 'a'.repeat(MB), salt: 'b' },
    { hash: 1, salt: 2 },
    { hash: 'aGFzaA==' },
    {},
    [],
    null,
    undefined,
    42,
    Symbol('x'),
    () => 'x',
  ];

  it('never throws, and always explains, for strings, objects and non-strings alike', () => {
    const options: HashOptions[] = [
      {},
      { pepper: true },
      { firebase: FIREBASE_PROJECT },
      { firebase: { signerKey: '', saltSeparator: '', rounds: Number.NaN, memCost: -1 } },
      { bareHexFormat: 'sha1' },
    ];
    const started = performance.now();
    for (const input of hostile) {
      for (const opts of options) {
        const stored = input as string;
        expect(() => detect(stored, opts)).not.toThrow();
        const c = toWorkOS(stored, opts);
        expect(c.ok).toBe(false);
        if (c.ok) continue;
        expect(c.unsupported).toBe(true);
        expect(UNSUPPORTED_CODES).toContain(c.code);
        expect(HASH_FORMATS).toContain(c.format);
        expect(c.reason.length).toBeLessThan(1000);
        if (typeof input === 'string' && input.length > 20) expect(c.reason).not.toContain(input);
      }
    }
    // Generous bound (5x what it takes here): no input is parsed beyond the first few KiB.
    expect(performance.now() - started).toBeLessThan(2500);
  });

  it('refuses 1 MB strings quickly as malformed, without looking inside', () => {
    for (const input of [`$2b$10$${'a'.repeat(MB)}`, 'a'.repeat(MB), `{SSHA}${'A'.repeat(MB)}`]) {
      const started = performance.now();
      const c = toWorkOS(input);
      expect(performance.now() - started).toBeLessThan(250);
      expectUnsupported(c, 'malformed', '');
      expect(c.format).toBe('unknown');
    }
  });

  it('never throws on random mutations of valid hashes', () => {
    // Deterministic LCG so a failure reproduces.
    let seed = 0x2545f491;
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const alphabet = '$:{}=,.+/-_!0123456789abcdefABCDEF=\u00e9 ';
    const seeds = [
      BCRYPT_2A,
      ARGON2ID,
      `argon2${ARGON2ID}`,
      SCRYPT_PHC,
      DJANGO_SCRYPT,
      WERKZEUG_SCRYPT,
      PBKDF2_PHC,
      PASSLIB_PBKDF2,
      DJANGO_PBKDF2,
      WERKZEUG_PBKDF2,
      ATLASSIAN,
      ASPNET_V2,
      ASPNET_V3,
      SSHA,
      '$firebase-scrypt$hash=aGFzaA$salt=c2FsdA$sk=c2s$ss=Bw$r=8$m=14',
    ];
    for (let round = 0; round < 3000; round++) {
      const base = seeds[next() % seeds.length] ?? '';
      const chars = [...base];
      const edits = 1 + (next() % 4);
      for (let e = 0; e < edits; e++) {
        const at = next() % (chars.length + 1);
        const op = next() % 3;
        const ch = alphabet[next() % alphabet.length] ?? 'x';
        if (op === 0) chars.splice(at, 1);
        else if (op === 1) chars.splice(at, 0, ch);
        else chars[at] = ch;
      }
      const mutated = chars.join('');
      for (const [options, emulatorRanges] of [
        [{ firebase: FIREBASE_PROJECT }, DOCUMENTED_HASH_RANGES],
        [{ ...WIDE, firebase: FIREBASE_PROJECT }, WIDE_EMULATOR],
      ] as const) {
        const c = toWorkOS(mutated, options);
        expect(HASH_FORMATS).toContain(c.format);
        if (c.ok) expect(validateImportedHash(c.passwordHashType, c.passwordHash, emulatorRanges)).toBeNull();
        else expect(UNSUPPORTED_CODES).toContain(c.code);
      }
    }
  });
});

describe('analyze', () => {
  it('counts formats, WorkOS types and reasons; null and empty are no_password', () => {
    const column = [
      BCRYPT_2A,
      `$2y$06$${BCRYPT_BODY}`,
      DJANGO_PBKDF2,
      PASSLIB_PBKDF2,
      SSHA,
      '5f4dcc3b5aa765d61d8327deb882cf99',
      'e99a18c428cb38d5f260853678922e03',
      '$P$984478476IagS59wHZvyQMArzfx58u.',
      `$2b$99$${BCRYPT_BODY}`,
      FIREBASE_USER,
      '!Kd7xMq3vR2LpWn8Zt5YbHc1Ja6Fs9Ge4Ur0Qo7Xi',
      '',
      null,
      undefined,
    ];
    const result = analyze(column);
    expect(result).toMatchObject({ total: 14, convertible: 3, unsupported: 7, noPassword: 4 });
    expect(result.formats).toEqual({
      bcrypt: 3,
      'django-pbkdf2-sha256': 1,
      'passlib-pbkdf2': 1,
      ssha: 1,
      md5: 2,
      phpass: 1,
      'firebase-scrypt': 1,
      unusable: 1,
      empty: 3,
    });
    expect(result.types).toEqual({ bcrypt: 2, ssha: 1 });
    // Counted by reason, the dry run's "by reason" table: Django's 20,000 and passlib's 29,000 rounds
    // are below WorkOS's 600,000 for SHA-256.
    expect(Object.fromEntries(Object.entries(result.reasons).map(([code, r]) => [code, r?.count]))).toEqual({
      pbkdf2_iterations_below_workos_minimum: 2,
      unsalted_digest: 2,
      phpass: 1,
      cost_out_of_range: 1,
      firebase_parameters_missing: 1,
      no_password: 4,
    });
    for (const entry of Object.values(result.reasons)) {
      expect(entry?.example.length).toBeGreaterThan(20);
      expect(entry?.example).not.toMatch(/5f4dcc3b|e99a18c4|IagS59wH|If6bvum7/);
    }
  });

  it('uses the options: Firebase parameters make Firebase entries convertible; a pepper makes nothing convertible', () => {
    const column = [FIREBASE_USER, BCRYPT_2A, null];
    expect(analyze(column, { firebase: FIREBASE_PROJECT })).toMatchObject({
      convertible: 2,
      types: { 'firebase-scrypt': 1, bcrypt: 1 },
    });
    expect(analyze(column, { pepper: true, firebase: FIREBASE_PROJECT })).toMatchObject({
      convertible: 0,
      unsupported: 2,
      noPassword: 1,
      reasons: { peppered: { count: 2 } },
    });
  });

  it('takes any iterable, lazily', () => {
    function* rows() {
      for (let i = 0; i < 1000; i++) yield i % 2 ? BCRYPT_2A : null;
    }
    expect(analyze(rows())).toMatchObject({ total: 1000, convertible: 500, noPassword: 500 });
    expect(analyze([])).toEqual({
      total: 0,
      convertible: 0,
      unsupported: 0,
      noPassword: 0,
      formats: {},
      types: {},
      reasons: {},
    });
  });
});
