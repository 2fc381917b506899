// The app's legacy password code, as it was before WorkOS: it keeps checking the hashes it has
// always stored, and login() calls it for users still on the legacy side.
import { createHash, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

/** Demo work factors keep seeding fast; production values are far higher (bcrypt 12, argon2 m=19456). */
export const DEMO_BCRYPT_COST = 4;
// Argon2id is 2 in @node-rs/argon2's const enum, which isolated modules cannot read.
const DEMO_ARGON2 = { memoryCost: 1024, timeCost: 2, parallelism: 1, algorithm: 2 as Algorithm };

export type LegacyFormat = 'bcrypt' | 'argon2id' | 'django-pbkdf2' | 'md5';

export async function hashPassword(password: string, format: LegacyFormat = 'bcrypt'): Promise<string> {
  switch (format) {
    case 'bcrypt':
      return bcrypt.hash(password, DEMO_BCRYPT_COST);
    case 'argon2id':
      return argon2Hash(password, DEMO_ARGON2);
    case 'django-pbkdf2': {
      const salt = createHash('sha256')
        .update(`${password}${Math.random()}`)
        .digest('base64url')
        .slice(0, 22);
      const iterations = 1_000;
      const digest = pbkdf2Sync(password, salt, iterations, 32, 'sha256').toString('base64');
      return `pbkdf2_sha256$${iterations}$${salt}$${digest}`;
    }
    case 'md5':
      // What some very old apps stored. WorkOS cannot import it: these users move at their next login.
      return createHash('md5').update(password).digest('hex');
  }
}

function equalStrings(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  if (/^\$2[aby]\$/.test(stored)) return bcrypt.compare(password, stored);
  if (stored.startsWith('$argon2')) return argon2Verify(stored, password).catch(() => false);
  if (stored.startsWith('pbkdf2_sha256$')) {
    const [, iterations, salt, digest] = stored.split('$');
    const computed = pbkdf2Sync(password, salt ?? '', Number(iterations), 32, 'sha256').toString('base64');
    return equalStrings(computed, digest ?? '');
  }
  if (/^[0-9a-f]{32}$/.test(stored))
    return equalStrings(createHash('md5').update(password).digest('hex'), stored);
  return false;
}
