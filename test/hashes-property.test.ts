// Round-trip property: for random passwords (any Unicode code point) and random salts, a hash built the way
// the framework builds it, converted with toWorkOS and imported into the emulator, verifies the password and
// rejects the password with one more character. Small work factors and a few runs per format keep this
// file well under a minute; the PBKDF2 and Argon2 ones are below WorkOS's documented ranges, so both sides
// run with the ranges widened (what `hashOptions.workosRanges` and the emulator's `passwordHashRanges`
// are for): this file checks the mapping, hashes-login.test.ts and hashes-unit.test.ts the ranges.
import { GenericServerException, type WorkOS } from '@workos-inc/node';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toWorkOS } from 'workos-migrate/hashes';
import { startTestEmulator, type TestEmulator } from './helpers/emulator.js';
import * as fw from './helpers/framework-hashes.js';

type HashOptions = NonNullable<Parameters<typeof toWorkOS>[1]>;
type Stored = Parameters<typeof toWorkOS>[0];
type SdkHashType = NonNullable<Parameters<WorkOS['userManagement']['createUser']>[0]['passwordHashType']>;

const NUM_RUNS = 15;

const WIDE = fw.WIDE_HASH_RANGES;

let t: TestEmulator;
let emailCounter = 0;

beforeAll(async () => {
  t = await startTestEmulator({ rateLimits: false, passwordHashRanges: WIDE });
});

afterAll(async () => {
  await t?.close();
});

// At most 16 code points, so at most 64 UTF-8 bytes: bcrypt reads only the first 72, and `p + 'x'` must
// still differ from `p` inside that window.
const password = fc.string({ unit: 'binary', minLength: 1, maxLength: 16 });
const bytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => new Uint8Array(a));
const alnum = (length: number) =>
  fc.string({
    unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
    minLength: length,
    maxLength: length,
  });
const bcryptSalt = fc
  .string({
    unit: fc.constantFrom(...'./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'),
    minLength: 21,
    maxLength: 21,
  })
  // The 22nd character carries only 2 bits; bcrypt implementations canonicalise it to one of these four.
  .chain((head) => fc.constantFrom('.', 'O', 'e', 'u').map((last) => head + last));

interface Built {
  stored: Stored;
  options?: HashOptions;
}

interface PropertyCase<S> {
  name: string;
  format: string;
  salt: fc.Arbitrary<S>;
  build: (password: string, salt: S) => Built | Promise<Built>;
}

function propertyCase<S>(c: PropertyCase<S>): PropertyCase<unknown> {
  return c as PropertyCase<unknown>;
}

const cases: PropertyCase<unknown>[] = [
  propertyCase({
    name: 'bcrypt $2b$ cost 4',
    format: 'bcrypt',
    salt: bcryptSalt,
    build: (p, salt) => ({ stored: fw.bcryptHash(p, { prefix: '2b', cost: 4, salt }) }),
  }),
  propertyCase({
    name: 'Django pbkdf2_sha256, 1000 iterations',
    format: 'django-pbkdf2-sha256',
    salt: alnum(22),
    build: (p, salt) => ({
      stored: fw.djangoPbkdf2(p, { digest: 'sha256', iterations: 1000, salt }),
      options: { workosRanges: WIDE },
    }),
  }),
  propertyCase({
    name: 'Werkzeug scrypt N=1024',
    format: 'werkzeug-scrypt',
    salt: alnum(16),
    build: (p, salt) => ({ stored: fw.werkzeugScrypt(p, { N: 1024, r: 8, p: 1, salt }) }),
  }),
  propertyCase({
    name: 'argon2id m=1024 t=1',
    format: 'argon2',
    salt: bytes(8, 32),
    build: async (p, salt) => ({
      stored: await fw.argon2Phc(p, { variant: 'argon2id', m: 1024, t: 1, p: 1, salt }),
      options: { workosRanges: WIDE },
    }),
  }),
  propertyCase({
    name: 'ASP.NET Identity v3, 1000 iterations',
    format: 'aspnet-identity-v3',
    salt: fc.tuple(bytes(16, 16), fc.constantFrom('sha1', 'sha256', 'sha512') as fc.Arbitrary<fw.Digest>),
    build: (p, [salt, prf]) => ({
      stored: fw.aspnetIdentityV3(p, { prf, iterations: 1000, salt }),
      options: { workosRanges: WIDE },
    }),
  }),
  propertyCase({
    name: 'ssha',
    format: 'ssha',
    salt: bytes(1, 32),
    build: (p, salt) => ({ stored: fw.ssha(p, { salt }) }),
  }),
  propertyCase({
    name: 'Firebase scrypt, memCost 10',
    format: 'firebase-scrypt',
    salt: fc.tuple(bytes(8, 16), bytes(16, 64), bytes(1, 2), fc.integer({ min: 1, max: 8 })),
    build: (p, [salt, signerKey, separator, rounds]) => {
      const project: fw.FirebaseProject = {
        signerKey: fw.b64(signerKey),
        saltSeparator: fw.b64(separator),
        rounds,
        memCost: 10,
      };
      return { stored: fw.firebaseScrypt(p, project, { salt }), options: { firebase: project } };
    },
  }),
];

async function logsIn(email: string, password: string): Promise<boolean> {
  try {
    await t.workos.userManagement.authenticateWithPassword({
      email,
      password,
      clientId: t.emulator.clientId,
    });
    return true;
  } catch (error) {
    // WorkOS's wrong-password answer: 400 `invalid_credentials`.
    if (error instanceof GenericServerException && error.code === 'invalid_credentials') return false;
    throw error;
  }
}

describe('toWorkOS(frameworkHash(p)) verifies p and rejects p + "x"', () => {
  for (const c of cases) {
    it(c.name, async () => {
      await fc.assert(
        fc.asyncProperty(password, c.salt, async (p, salt) => {
          const { stored, options } = await c.build(p, salt);
          const result = toWorkOS(stored, options);
          expect(result).toMatchObject({ ok: true, format: c.format });
          if (!result.ok) return;
          emailCounter += 1;
          const email = `property-${emailCounter}@hashes-property.example.com`;
          await t.workos.userManagement.createUser({
            email,
            passwordHash: result.passwordHash,
            passwordHashType: result.passwordHashType as SdkHashType,
            emailVerified: true,
          });
          expect(await logsIn(email, p), 'the password logs in').toBe(true);
          expect(await logsIn(email, `${p}x`), 'password + "x" does not log in').toBe(false);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }
});
