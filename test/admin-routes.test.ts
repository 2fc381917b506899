// The admin surface (src/admin) as both adapters mount it, on real PostgreSQL and the emulator: the
// bearer scheme matched case-insensitively, the same routes and answers from Fastify and Express,
// dead letters listed per user (emails masked) and retried per user or reason.
import { describe, expect, it } from 'vitest';
import { bucketOf } from 'workos-migrate/flags';
import { type Adapter, type AdminApp, adminTestbed } from './helpers/admin-apps.js';

const bed = adminTestbed();
const TOKEN = 'admin-token-0123456789abcdef-XYZ';

const open = (adapter: Adapter, prefix?: string): Promise<AdminApp> =>
  bed.open(adapter, { token: TOKEN, ...(prefix ? { prefix } : {}) });

/** Users left dead-lettered (the capture trigger queued them; no worker runs in these apps). */
async function seedDead(rows: { email: string; reason: string }[]): Promise<string[]> {
  const ids: string[] = [];
  for (const { email, reason } of rows) {
    const [row] = await bed.app.exec(`INSERT INTO users (email) VALUES ($1) RETURNING id`, [email]);
    const id = String(row?.id);
    await bed.app.exec(
      `UPDATE workos_migrate.outbox SET dead = true, dead_reason = $2, attempts = 5, last_error = $3 WHERE user_id = $1`,
      [id, reason, `refused: ${reason}`],
    );
    ids.push(id);
  }
  return ids;
}

describe.each(['fastify', 'express'] as const)('admin routes through %s', (adapter) => {
  it('match the Bearer scheme case-insensitively and still refuse a wrong or missing token', async () => {
    const admin = await open(adapter);
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await admin.call({
        method: 'GET',
        url: '/workos-migrate/status',
        headers: { authorization: `${scheme} ${TOKEN}` },
      });
      expect(res.status, scheme).toBe(200);
      expect(res.json()).toMatchObject({ users: 0, freeze: { on: false }, rollout: { percent: 0 } });
    }
    for (const authorization of [
      `bearer ${TOKEN}x`,
      `bearer ${TOKEN.slice(0, -1)}`,
      `Basic ${TOKEN}`,
      TOKEN,
      'bearer ',
    ]) {
      const res = await admin.call({
        method: 'GET',
        url: '/workos-migrate/status',
        headers: { authorization },
      });
      expect(res.status, authorization).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect((await admin.call({ method: 'GET', url: '/workos-migrate/status' })).status).toBe(401);
  });

  it('set the freeze (a guarded route answers 503) and the rollout, with the same 400s and 409s', async () => {
    const admin = await open(adapter, '/ops/migrate');
    const auth = { authorization: `bearer ${TOKEN}` };
    const bad = await admin.call({
      method: 'POST',
      url: '/ops/migrate/rollout',
      headers: auth,
      body: { percent: 101 },
    });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'invalid_request' });
    const mismatch = await admin.call({
      method: 'POST',
      url: '/ops/migrate/freeze',
      headers: auth,
      body: { on: true, source: 'unleash' },
    });
    expect(mismatch.status).toBe(409);
    expect(mismatch.json()).toMatchObject({ error: 'flag_source_mismatch' });

    const freeze = await admin.call({
      method: 'POST',
      url: '/ops/migrate/freeze',
      headers: auth,
      body: { on: true },
    });
    expect(freeze.status).toBe(200);
    expect(freeze.json()).toMatchObject({ on: true, source: 'stored' });
    expect((await admin.call({ method: 'POST', url: '/signup' })).status).toBe(503);
    const rollout = await admin.call({
      method: 'POST',
      url: '/ops/migrate/rollout',
      headers: auth,
      body: { percent: 30 },
    });
    expect(rollout.json()).toMatchObject({ percent: 30 });
    expect(admin.migrate.flags.rollout().percent).toBe(30);
    // The default prefix is not served when another is configured.
    expect((await admin.call({ method: 'GET', url: '/workos-migrate/status', headers: auth })).status).toBe(
      404,
    );
  });

  it('list dead letters per user with masked emails, paginated, and retry one user or one reason', async () => {
    const admin = await open(adapter);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const ids = await seedDead([
      { email: 'alice@example.com', reason: 'invalid_email' },
      { email: 'bob@example.com', reason: 'email_owned_elsewhere' },
      { email: 'carol@example.com', reason: 'invalid_email' },
    ]);
    const first = await admin.call({ method: 'GET', url: '/workos-migrate/dead?limit=2', headers: auth });
    expect(first.status).toBe(200);
    const page = first.json() as { deadLetters: Record<string, unknown>[]; next: string | null };
    expect(page.deadLetters).toHaveLength(2);
    expect(page.deadLetters[0]).toMatchObject({
      userId: ids[0],
      reason: 'invalid_email',
      message: 'refused: invalid_email',
      attempts: 5,
      email: 'a***@example.com',
    });
    expect(first.text).not.toContain('alice@');
    expect(page.next).toBe(ids[1]);
    const second = await admin.call({
      method: 'GET',
      url: `/workos-migrate/dead?limit=2&after=${page.next}`,
      headers: auth,
    });
    expect((second.json() as typeof page).deadLetters.map((d) => d.userId)).toEqual([ids[2]]);
    const filtered = await admin.call({
      method: 'GET',
      url: '/workos-migrate/dead?reason=invalid_email',
      headers: auth,
    });
    expect((filtered.json() as typeof page).deadLetters.map((d) => d.userId)).toEqual([ids[0], ids[2]]);

    const one = await admin.call({
      method: 'POST',
      url: '/workos-migrate/retry',
      headers: auth,
      body: { userId: ids[1] },
    });
    expect(one.json()).toEqual({ requeued: 1 });
    expect((await admin.migrate.status()).dead).toEqual({ invalid_email: 2 });
    const byReason = await admin.call({
      method: 'POST',
      url: '/workos-migrate/retry',
      headers: auth,
      body: { reason: 'invalid_email' },
    });
    expect(byReason.json()).toEqual({ requeued: 2 });
    expect((await admin.migrate.status()).dead).toEqual({});
  });

  it('preview how many users a rollout would move (Unleash bucketing), before anything is set', async () => {
    const admin = await open(adapter);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const rows = await bed.app.exec(
      `INSERT INTO users (email) SELECT 'p' || g || '@example.com' FROM generate_series(1, 300) g RETURNING id::text AS id`,
    );
    const buckets = rows.map((row) => bucketOf('workos-migrate-cutover', String(row.id)));
    const between = (low: number, high: number) => buckets.filter((b) => b > low && b <= high).length;
    const preview = await admin.call({
      method: 'GET',
      url: '/workos-migrate/rollout/preview?percent=30',
      headers: auth,
    });
    expect(preview.json()).toEqual({ from: 0, to: 30, wouldMove: between(0, 30) });
    expect(between(0, 30)).toBeGreaterThan(0);
    expect(admin.migrate.flags.rollout().percent).toBe(0);
    await admin.call({
      method: 'POST',
      url: '/workos-migrate/rollout',
      headers: auth,
      body: { percent: 30 },
    });
    // Down from 30 to 10 moves the users in buckets 11..30 back to legacy.
    const down = await admin.call({
      method: 'GET',
      url: '/workos-migrate/rollout/preview?percent=10',
      headers: auth,
    });
    expect(down.json()).toEqual({ from: 30, to: 10, wouldMove: between(10, 30) });
    const bad = await admin.call({
      method: 'GET',
      url: '/workos-migrate/rollout/preview?percent=101',
      headers: auth,
    });
    expect(bad.status).toBe(400);
  });
});
