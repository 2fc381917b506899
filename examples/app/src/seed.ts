// A realistic legacy user base: mixed hash formats (some WorkOS cannot import), social-login users
// without a password, disabled accounts, and a few dirty rows that a real table always has.
import { sql } from 'drizzle-orm';
import type { AppDatabase } from './app.js';
import { hashPassword, type LegacyFormat } from './passwords.js';
import { users } from './schema.js';

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Edsger',
  'Barbara',
  'Donald',
  'Frances',
  'Ken',
  'Radia',
  'Tim',
  'Zoë',
  'José',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Perlman',
  'Lee',
];
const PLANS = ['free', 'pro', 'team'];

/** The password of seeded user number `n` (1-based), so the rehearsal can log them in. */
export function seededPassword(n: number): string {
  return `legacy-password-${n}`;
}

export function seededEmail(n: number): string {
  return `user${n}@example.com`;
}

/** What kind of seeded user number `n` is. */
export function seededKind(n: number): LegacyFormat | 'social' {
  const slot = n % 20;
  if (slot < 10) return 'bcrypt';
  if (slot < 13) return 'argon2id';
  if (slot < 15) return 'django-pbkdf2';
  if (slot === 15) return 'md5';
  return 'social';
}

export async function seedUsers(
  db: AppDatabase,
  count: number,
): Promise<{ inserted: number; dirty: number }> {
  const rows: (typeof users.$inferInsert)[] = [];
  for (let n = 1; n <= count; n++) {
    const kind = seededKind(n);
    rows.push({
      email: seededEmail(n),
      firstName: FIRST[n % FIRST.length] ?? null,
      lastName: LAST[n % LAST.length] ?? null,
      emailVerified: n % 5 !== 0,
      passwordHash: kind === 'social' ? null : await hashPassword(seededPassword(n), kind),
      disabled: n % 97 === 0,
      plan: PLANS[n % PLANS.length] ?? null,
    });
  }
  // Dirty rows: the same person twice (case and whitespace), no email, an email that is not one.
  const dirty: (typeof users.$inferInsert)[] = [
    { email: ' USER1@Example.com ', firstName: 'Duplicate', passwordHash: null },
    { email: null, firstName: 'No email' },
    { email: 'not-an-email', firstName: 'Broken' },
  ];
  // Historical users predate the capture trigger: hold it off for this one transaction (the ALTER
  // locks the table, so a signup meanwhile waits and is captured), then the backfill queues them.
  await db.transaction(async (tx) => {
    await tx.execute(sql`ALTER TABLE users DISABLE TRIGGER workos_migrate_capture`);
    for (let i = 0; i < rows.length; i += 500) await tx.insert(users).values(rows.slice(i, i + 500));
    await tx.insert(users).values(dirty);
    await tx.execute(sql`ALTER TABLE users ENABLE TRIGGER workos_migrate_capture`);
  });
  return { inserted: rows.length + dirty.length, dirty: dirty.length };
}
