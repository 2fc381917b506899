import { createCipheriv, createHash, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { argon2d, argon2i, argon2id } from 'hash-wasm';
import { describe, expect, it } from 'vitest';
import {
  DOCUMENTED_HASH_RANGES,
  type HashRanges,
  hashNativePassword,
  type StoredPassword,
  validateImportedHash,
  verifyPassword,
  WORKOS_HASH_TYPES,
  type WorkosHashType,
} from '../src/emulator/passwords.js';
import { WIDE_HASH_RANGES } from './helpers/framework-hashes.js';

/** PHC base64: standard alphabet, no padding. */
const phc64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');
const hex64 = (hex: string) => phc64(Buffer.from(hex, 'hex'));

/**
 * Every range widened: published vectors (RFC 6070's 2 iterations, argon2's test.c at 256 KiB) are far
 * outside WorkOS's import ranges, but they prove the verifier computes the right thing.
 */
const WIDE: HashRanges = {
  ...WIDE_HASH_RANGES,
  argon2Time: { min: 1, max: 1000 },
  argon2Parallelism: { min: 1, max: 255 },
};

async function expectVerifies(
  type: WorkosHashType,
  hash: string,
  password: string,
  ranges: HashRanges = DOCUMENTED_HASH_RANGES,
) {
  expect(validateImportedHash(type, hash, ranges)).toBeNull();
  expect(await verifyPassword({ type, hash }, password)).toBe(true);
  expect(await verifyPassword({ type, hash }, `${password}x`)).toBe(false);
  expect(await verifyPassword({ type, hash }, 'wrong password')).toBe(false);
}

describe('WORKOS_HASH_TYPES', () => {
  it('lists the six import types', () => {
    expect([...WORKOS_HASH_TYPES].sort()).toEqual(
      ['argon2', 'bcrypt', 'firebase-scrypt', 'pbkdf2', 'scrypt', 'ssha'].sort(),
    );
  });
});

describe('bcrypt', () => {
  it('verifies hashes made by bcryptjs, under every accepted prefix', async () => {
    const hash = await bcrypt.hash('correct horse', 4);
    const body = hash.slice(3);
    for (const prefix of ['$2a', '$2b', '$2y'])
      await expectVerifies('bcrypt', prefix + body, 'correct horse');
  });

  it('verifies published jBCrypt / OpenBSD test vectors', async () => {
    await expectVerifies('bcrypt', '$2a$06$If6bvum7DFjUnE9p2uDeDu0YHzrHM6tf.iqN8.yx.jNN1ILEf7h0i', 'abc');
    await expectVerifies('bcrypt', '$2a$06$m0CrhHm10qJ3lXRY.5zDGO3rS2KdeeWLuGmsfGlMfOxih58VYVfxe', 'a');
    await expectVerifies(
      'bcrypt',
      '$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC',
      'abcdefghijklmnopqrstuvwxyz',
    );
    await expectVerifies('bcrypt', '$2y$06$LUdD6/aD0e/UbnxVAVbvGuUmIoJ3l/OK94ThhadpMWwKC34LrGEey', 'a');
    const empty = '$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s.';
    expect(await verifyPassword({ type: 'bcrypt', hash: empty }, '')).toBe(true);
    expect(await verifyPassword({ type: 'bcrypt', hash: empty }, 'a')).toBe(false);
  });
});

describe('ssha', () => {
  const ssha = (password: string, salt: Buffer) =>
    `{SSHA}${Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64')}`;

  it('verifies hashes built with node:crypto, any salt length, padding optional', async () => {
    for (const saltLength of [1, 4, 8, 16]) {
      const hash = ssha('pässword', randomBytes(saltLength));
      await expectVerifies('ssha', hash, 'pässword');
      await expectVerifies('ssha', hash.replace(/=+$/, ''), 'pässword');
    }
  });

  it('verifies the slappasswd sample from an OpenLDAP how-to', async () => {
    await expectVerifies('ssha', '{SSHA}FM6N1jTf/0PflNiYX1GDVd0V3b/acp0w', 'fargle');
  });
});

describe('firebase-scrypt', () => {
  // Sample from github.com/firebase/scrypt's README.
  const vector = {
    signerKey: 'jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==',
    saltSeparator: 'Bw==',
    salt: '42xEC+ixf3L2lw==',
    hash: 'lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==',
  };
  const strip = (s: string) => s.replace(/=+$/, '');
  const fields = {
    hash: strip(vector.hash),
    salt: strip(vector.salt),
    sk: strip(vector.signerKey),
    ss: strip(vector.saltSeparator),
    r: '8',
    m: '14',
  };
  const encode = (f: Record<string, string>, order = ['hash', 'salt', 'sk', 'ss', 'r', 'm']) =>
    `$firebase-scrypt$${order.map((k) => `${k}=${f[k]}`).join('$')}`;

  it("verifies Firebase's published sample, unpadded as WorkOS documents it", async () => {
    await expectVerifies('firebase-scrypt', encode(fields), 'user1password');
  });

  it('tolerates padded base64 and a different field order', async () => {
    const padded = {
      ...fields,
      hash: vector.hash,
      salt: vector.salt,
      sk: vector.signerKey,
      ss: vector.saltSeparator,
    };
    await expectVerifies('firebase-scrypt', encode(padded), 'user1password');
    await expectVerifies(
      'firebase-scrypt',
      encode(fields, ['m', 'r', 'ss', 'sk', 'salt', 'hash']),
      'user1password',
    );
  });

  it('verifies a hash built with node:crypto', async () => {
    const signerKey = randomBytes(64);
    const saltSeparator = randomBytes(1);
    const salt = randomBytes(16);
    const key = scryptSync('hunter2', Buffer.concat([salt, saltSeparator]), 32, { N: 2 ** 10, r: 8, p: 1 });
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const hash = Buffer.concat([cipher.update(signerKey), cipher.final()]);
    const stored = encode({
      hash: phc64(hash),
      salt: phc64(salt),
      sk: phc64(signerKey),
      ss: phc64(saltSeparator),
      r: '8',
      m: '10',
    });
    await expectVerifies('firebase-scrypt', stored, 'hunter2');
  });
});

describe("scrypt (WorkOS's $scrypt$v=1$n=..,r=..,p=..,kl=..)", () => {
  it('verifies hashes built with node:crypto, with and without padding', async () => {
    const salt = randomBytes(16);
    const key = scryptSync('s3cret', salt, 32, { N: 2 ** 10, r: 8, p: 2 });
    await expectVerifies('scrypt', `$scrypt$v=1$n=1024,r=8,p=2,kl=32$${phc64(salt)}$${phc64(key)}`, 's3cret');
    const padded = `$scrypt$v=1$n=1024,r=8,p=2,kl=32$${salt.toString('base64')}$${key.toString('base64')}`;
    await expectVerifies('scrypt', padded, 's3cret');
  });

  it('verifies RFC 7914 section 12 vectors encoded as PHC strings', async () => {
    await expectVerifies(
      'scrypt',
      `$scrypt$v=1$n=1024,r=8,p=16,kl=64$${phc64('NaCl')}$${hex64(
        'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
      )}`,
      'password',
    );
    await expectVerifies(
      'scrypt',
      `$scrypt$v=1$n=16384,r=8,p=1,kl=64$${phc64('SodiumChloride')}$${hex64(
        '7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887',
      )}`,
      'pleaseletmein',
    );
  });

  it("verifies passlib's documented scrypt example written in WorkOS's form (salt is the decoded bytes)", async () => {
    await expectVerifies(
      'scrypt',
      '$scrypt$v=1$n=256,r=8,p=1,kl=32$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ',
      'password',
    );
  });
});

describe("pbkdf2 (WorkOS's $pbkdf2$i=..,d=..)", () => {
  for (const [digest, iterations] of [
    ['sha256', 600_000],
    ['sha512', 210_000],
  ] as const) {
    it(`verifies ${digest} hashes built with node:crypto at WorkOS's minimum (${iterations})`, async () => {
      const salt = randomBytes(16);
      const key = pbkdf2Sync('pa55word', salt, iterations, 32, digest);
      await expectVerifies(
        'pbkdf2',
        `$pbkdf2$i=${iterations},d=${digest}$${phc64(salt)}$${phc64(key)}`,
        'pa55word',
      );
    });
  }

  it('verifies sha1 (outside the documented ranges) where an environment was widened', async () => {
    const salt = randomBytes(16);
    const key = pbkdf2Sync('pa55word', salt, 1000, 20, 'sha1');
    await expectVerifies('pbkdf2', `$pbkdf2$i=1000,d=sha1$${phc64(salt)}$${phc64(key)}`, 'pa55word', WIDE);
  });

  it('verifies RFC 6070 PBKDF2-HMAC-SHA1 vectors encoded as PHC strings', async () => {
    const salt = phc64('salt');
    await expectVerifies(
      'pbkdf2',
      `$pbkdf2$i=2,d=sha1$${salt}$${hex64('ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957')}`,
      'password',
      WIDE,
    );
    await expectVerifies(
      'pbkdf2',
      `$pbkdf2$i=4096,d=sha1$${salt}$${hex64('4b007901b765489abead49d926f721d065a429c1')}`,
      'password',
      WIDE,
    );
    await expectVerifies(
      'pbkdf2',
      `$pbkdf2$i=4096,d=sha1$${phc64('saltSALTsaltSALTsaltSALTsaltSALTsalt')}$${hex64(
        '3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038',
      )}`,
      'passwordPASSWORDpassword',
      WIDE,
    );
  });

  it('verifies the RFC 7914 section 11 PBKDF2-HMAC-SHA256 vector', async () => {
    await expectVerifies(
      'pbkdf2',
      `$pbkdf2$i=1,d=sha256$${phc64('salt')}$${hex64(
        '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
      )}`,
      'passwd',
      WIDE,
    );
  });

  it('verifies the widely published PBKDF2-HMAC-SHA512 ("password", "salt", 1) vector', async () => {
    await expectVerifies(
      'pbkdf2',
      `$pbkdf2$i=1,d=sha512$${phc64('salt')}$${hex64(
        '867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce',
      )}`,
      'password',
      WIDE,
    );
  });
});

describe('argon2 (PHC)', () => {
  const fns = { argon2i, argon2d, argon2id };
  for (const variant of ['argon2i', 'argon2d', 'argon2id'] as const) {
    it(`verifies ${variant} hashes made by hash-wasm`, async () => {
      const options = {
        password: 'tr0ub4dor',
        salt: randomBytes(16),
        iterations: 3,
        parallelism: 2,
        memorySize: 4096,
        hashLength: 32,
        outputType: 'encoded',
      } as const;
      const hash = await fns[variant](options);
      expect(hash.startsWith(`$${variant}$v=19$`)).toBe(true);
      await expectVerifies('argon2', hash, 'tr0ub4dor');
      // Padded base64 is tolerated too.
      const [head, salt, tag] = [hash.split('$').slice(0, 4).join('$'), ...hash.split('$').slice(4)];
      await expectVerifies('argon2', `${head}$${salt}==$${tag}=`, 'tr0ub4dor');
    });
  }

  it('verifies phc-winner-argon2 test.c vectors for version 0x13', async () => {
    await expectVerifies(
      'argon2',
      '$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA',
      'password',
      WIDE,
    );
    await expectVerifies(
      'argon2',
      '$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc',
      'password',
      WIDE,
    );
  });

  it('verifies version 0x10 hashes (no v= segment) from phc-winner-argon2 test.c', async () => {
    await expectVerifies(
      'argon2',
      '$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY',
      'password',
      WIDE,
    );
    await expectVerifies(
      'argon2',
      '$argon2i$m=256,t=2,p=2$c29tZXNhbHQ$tsEVYKap1h6scGt5ovl9aLRGOqOth+AMB+KwHpDFZPs',
      'password',
      WIDE,
    );
  });

  it('verifies an explicit v=16 argon2d hash (published in third-party test suites)', async () => {
    const hash = '$argon2d$v=16$m=8,t=1,p=1$ICAgICAgICA$X54KZYxUSfMUihzebb70sKbheabHilo8gsUldrVU4IU';
    expect(validateImportedHash('argon2', hash, WIDE)).toBeNull();
    expect(validateImportedHash('argon2', hash)).toMatch(/version must be v=19/);
    expect(await verifyPassword({ type: 'argon2', hash }, '')).toBe(true);
    expect(await verifyPassword({ type: 'argon2', hash }, 'password')).toBe(false);
  });
});

describe("WorkOS's documented example strings", () => {
  // From WorkOS's migration guide ("Importing passwords"; @workos/mcp-docs-server,
  // .docs/organized/docs/migrate/other-services.mdx). Their passwords are not published: they must be
  // accepted as imports, and a sign-in must be checked (and refused) without an error.
  const examples: [WorkosHashType, string][] = [
    [
      'scrypt',
      '$scrypt$v=1$n=16384,r=8,p=1,kl=64$Swhqd4iUYTtWfbCYIPeuMw$q7pfdBQMJujd5FX/qX+ozM2O6aNqP+mo1ZnHGH15XM2vlhroQfPA037UpbdfpH4H66OrSPjsUhfkAMuNoBiQvw',
    ],
    [
      'pbkdf2',
      '$pbkdf2$i=600000,d=sha256$T2ptRFh6MXhDQVh2SWZuUGdpQXBUTg$xXiyTisD7390NijyCv5ICMhFW4eDuMlzypRoLGLyIvA',
    ],
    ['argon2', '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG'],
  ];
  for (const [type, hash] of examples) {
    it(`accepts and checks the ${type} example`, async () => {
      expect(validateImportedHash(type, hash)).toBeNull();
      expect(await verifyPassword({ type, hash }, 'password')).toBe(false);
    });
  }
});

describe('native passwords', () => {
  it('hashes with a random salt and verifies', async () => {
    const a = await hashNativePassword('Plaintext-1');
    const b = await hashNativePassword('Plaintext-1');
    expect(a.type).toBe('native');
    expect(a.hash).toMatch(/^\$scrypt\$v=1\$n=\d+,r=\d+,p=\d+,kl=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(a.hash).not.toBe(b.hash);
    expect(await verifyPassword(a, 'Plaintext-1')).toBe(true);
    expect(await verifyPassword(b, 'Plaintext-1')).toBe(true);
    expect(await verifyPassword(a, 'plaintext-1')).toBe(false);
  });

  it('is not an importable type', () => {
    expect(
      validateImportedHash('native', '$scrypt$v=1$n=16,r=8,p=1,kl=16$c29tZXNhbHQ$c29tZXNhbHRzb21lc2FsdA'),
    ).not.toBeNull();
  });
});

describe('validateImportedHash rejections', () => {
  const salt = phc64('SaltyBytes16!abc');
  const tag32 = phc64(Buffer.alloc(32, 7));
  const goodBcrypt = '$2b$10$Ro0CUfOqk6cXEKf3dyaM7OhSCvnwM9s4wIX9JeLapehKK5YdLxKcm';
  const fb = (s: string) =>
    `$firebase-scrypt$${s}`
      .replace('HASH', phc64(Buffer.alloc(64, 1)))
      .replace('SALT', 'QmFkU2FsdFZhbHVl')
      .replace('SK', phc64(Buffer.alloc(64, 2)));

  const cases: [string, string, RegExp][] = [
    ['bcrypt', goodBcrypt.slice(0, -1), /53 characters/],
    ['bcrypt', goodBcrypt.replace('$10$', '$03$'), /invalid cost/],
    ['bcrypt', goodBcrypt.replace('$10$', '$32$'), /invalid cost/],
    ['bcrypt', goodBcrypt.replace('$10$', '$1$'), /invalid cost/],
    ['bcrypt', goodBcrypt.replace('$2b$', '$2x$'), /must start with/],
    ['bcrypt', goodBcrypt.replace('Ro0C', 'Ro!C'), /alphabet/],
    ['bcrypt', '', /empty/],
    ['ssha', 'FM6N1jTf/0PflNiYX1GDVd0V3b/acp0w', /must start with \{SSHA\}/],
    ['ssha', '{SSHA}FM6N1jTf/0PflNiYX1GDVd0V3b/acp0w!', /base64/],
    ['ssha', `{SSHA}${Buffer.alloc(20, 3).toString('base64')}`, /non-empty salt/],
    ['ssha', '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', /must start with/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$ss=Bw$r=8$m=14'), /missing the sk parameter/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$r=8$m=14'), /missing the ss parameter/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$ss=Bw$m=14'), /missing the r parameter/],
    ['firebase-scrypt', fb('hash=HASH$salt=SA!LT$sk=SK$ss=Bw$r=8$m=14'), /invalid base64 salt/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$ss=Bw$r=0$m=14'), /invalid r/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$ss=Bw$r=8$m=0'), /invalid m/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$ss=Bw$r=8$m=21'), /invalid m/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$sk=SK$ss=Bw$r=8$m=14$x=1'), /unknown parameter/],
    ['firebase-scrypt', fb('hash=HASH$salt=SALT$salt=SALT$sk=SK$ss=Bw$r=8$m=14'), /repeats/],
    ['firebase-scrypt', fb('hash=HASH$salt=$sk=SK$ss=Bw$r=8$m=14'), /empty salt/],
    ['firebase-scrypt', fb('hash=HASHAAAA$salt=SALT$sk=SK$ss=Bw$r=8$m=14'), /longer than its signer key/],
    ['firebase-scrypt', fb('HASH$SALT$SK$Bw$8$14'), /name=value/],
    ['firebase-scrypt', '$scrypt$hash=AAAA', /must start with/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,kl=32$${salt}$${tag32}`, /missing the p parameter/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1$${salt}$${tag32}`, /missing the kl parameter/],
    ['scrypt', `$scrypt$v=1$n=1,r=8,p=1,kl=32$${salt}$${tag32}`, /invalid n/],
    ['scrypt', `$scrypt$v=1$n=1000,r=8,p=1,kl=32$${salt}$${tag32}`, /invalid n.*power of two/],
    ['scrypt', `$scrypt$v=1$n=${2 ** 21},r=8,p=1,kl=32$${salt}$${tag32}`, /invalid n/],
    ['scrypt', `$scrypt$v=1$n=1024,r=0,p=1,kl=32$${salt}$${tag32}`, /invalid r/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,kl=16$${salt}$${tag32}`, /kl .*does not match/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,kl=32$${salt}.$${tag32}`, /salt that is not valid base64/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,kl=32$$${tag32}`, /empty salt/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,kl=11$${salt}$${phc64('ShortDigest')}`, /shorter than 16 bytes/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,kl=32$${salt}$${tag32}$extra`, /must look like/],
    ['scrypt', `$scrypt$v=1$n=1024,r=8,p=1,n=1024$${salt}$${tag32}`, /repeats/],
    ['scrypt', `$scrypt$v=2$n=1024,r=8,p=1,kl=32$${salt}$${tag32}`, /version segment v=1/],
    // passlib's PHC form (log2 N, no kl) is not WorkOS's.
    ['scrypt', `$scrypt$ln=10,r=8,p=1$${salt}$${tag32}`, /must look like/],
    ['pbkdf2', `$pbkdf2$i=600000,d=sha384$${salt}$${tag32}`, /unknown d \(digest\)/],
    ['pbkdf2', `$pbkdf2$600000$${salt}$${tag32}`, /malformed parameter list/],
    ['pbkdf2', `$pbkdf2$i=0,d=sha256$${salt}$${tag32}`, /invalid i/],
    ['pbkdf2', `$pbkdf2$i=600000,d=sha256,l=32$${salt}$${tag32}`, /unknown parameter/],
    ['pbkdf2', `$pbkdf2$i=600000$${salt}$${tag32}`, /missing the d parameter/],
    ['pbkdf2', `$pbkdf2$i=600000,d=sha256$${tag32}`, /must look like/],
    // The PHC form with the digest in the id (passlib's, ours before) is not WorkOS's.
    ['pbkdf2', `$pbkdf2-sha256$i=600000,l=32$${salt}$${tag32}`, /must start with \$pbkdf2\$/],
    // passlib's "ab64" uses '.' where standard base64 has '+'.
    [
      'pbkdf2',
      '$pbkdf2$i=600000,d=sha256$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk',
      /base64/,
    ],
    // Outside WorkOS's documented ranges: refused, naming the parameter and the range.
    [
      'pbkdf2',
      `$pbkdf2$i=599999,d=sha256$${salt}$${tag32}`,
      /iterations \(i\) for sha256 must be 600000 to 1000000/,
    ],
    [
      'pbkdf2',
      `$pbkdf2$i=1000001,d=sha256$${salt}$${tag32}`,
      /iterations \(i\) for sha256 must be 600000 to 1000000/,
    ],
    [
      'pbkdf2',
      `$pbkdf2$i=209999,d=sha512$${salt}$${tag32}`,
      /iterations \(i\) for sha512 must be 210000 to 1000000/,
    ],
    ['pbkdf2', `$pbkdf2$i=600000,d=sha1$${salt}$${tag32}`, /digest sha1 is not accepted/],
    ['argon2', `$argon2id$v=16$m=65536,t=3,p=4$${salt}$${tag32}`, /version must be v=19/],
    ['argon2', `$argon2id$m=65536,t=3,p=4$${salt}$${tag32}`, /version must be v=19/],
    ['argon2', `$argon2id$v=19$m=4095,t=3,p=4$${salt}$${tag32}`, /memory \(m\) must be 4096 to 262144 KiB/],
    ['argon2', `$argon2id$v=19$m=262145,t=3,p=4$${salt}$${tag32}`, /memory \(m\) must be 4096 to 262144 KiB/],
    [
      'argon2',
      `$argon2id$v=19$m=65536,t=6,p=4$${salt}$${tag32}`,
      /iterations \(t\) must be 1 to 5 for argon2id/,
    ],
    [
      'argon2',
      `$argon2i$v=19$m=65536,t=2,p=4$${salt}$${tag32}`,
      /iterations \(t\) must be 3 to 5 for argon2i/,
    ],
    ['argon2', `$argon2id$v=19$m=65536,t=3,p=9$${salt}$${tag32}`, /parallelism \(p\) must be 1 to 8/],
    ['argon2', `$argon2id$v=18$m=64,t=2,p=1$${salt}$${tag32}`, /unsupported version/],
    ['argon2', `$argon2id$v=19$m=4,t=2,p=1$${salt}$${tag32}`, /invalid m/],
    ['argon2', `$argon2id$v=19$m=16,t=2,p=4$${salt}$${tag32}`, /8 KiB per lane/],
    ['argon2', `$argon2id$v=19$m=64,t=0,p=1$${salt}$${tag32}`, /invalid t/],
    ['argon2', `$argon2id$v=19$m=64,p=1$${salt}$${tag32}`, /missing the t parameter/],
    ['argon2', `$argon2id$v=19$m=64,t=2,p=1$${phc64('Salt7b!')}$${tag32}`, /shorter than 8 bytes/],
    ['argon2', `$argon2id$v=19$m=64,t=2,p=1,keyid=Ab12$${salt}$${tag32}`, /unknown parameter/],
    ['argon2', `$argon2x$v=19$m=64,t=2,p=1$${salt}$${tag32}`, /must start with/],
    ['argon2', `$argon2id$v=19$m=64,t=2,p=1$${salt}`, /must look like/],
    ['argon2', `$argon2id$v=19$m=64,t=2,p=1$${salt}$${phc64('TooShortTag')}`, /shorter than 16 bytes/],
  ];

  for (const [type, hash, reason] of cases) {
    it(`${type}: ${reason.source}`, async () => {
      const message = validateImportedHash(type, hash);
      expect(message).toMatch(reason);
      expect(message).not.toContain(hash || '\u0000');
      // No salt, digest or key segment of the input may leak into the message.
      for (const token of hash.split(/[$,=]/)) {
        if (token.length >= 4 && !/^[a-z0-9-]+$/.test(token)) expect(message).not.toContain(token);
      }
      expect(await verifyPassword({ type: type as WorkosHashType, hash }, 'password')).toBe(false);
    });
  }

  it('rejects unknown types without echoing the hash', () => {
    const hash = '5f4dcc3b5aa765d61d8327deb882cf99';
    for (const type of ['md5', 'django-pbkdf2', '', 'BCRYPT']) {
      const message = validateImportedHash(type, hash);
      expect(message).toMatch(/unsupported password hash type/);
      expect(message).not.toContain(hash);
    }
  });

  it('rejects a hash that is absurdly long', () => {
    expect(validateImportedHash('ssha', `{SSHA}${'A'.repeat(8000)}`)).toMatch(/too long/);
  });
});

describe('verifyPassword never throws', () => {
  it('returns false for malformed or unknown stored values', async () => {
    const bad: unknown[] = [
      { type: 'md5', hash: '5f4dcc3b5aa765d61d8327deb882cf99' },
      { type: 'bcrypt', hash: 42 },
      { type: 'native', hash: 'not-a-hash' },
      { type: 'argon2', hash: '$argon2id$v=19$m=64,t=2,p=1$$' },
      { type: 'scrypt' },
      null,
    ];
    for (const stored of bad) expect(await verifyPassword(stored as StoredPassword, 'password')).toBe(false);
    expect(await verifyPassword({ type: 'bcrypt', hash: '$2a$04$abc' }, undefined as unknown as string)).toBe(
      false,
    );
  });
});
