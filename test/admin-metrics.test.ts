// GET <prefix>/metrics through both adapters on a seeded migration: the Prometheus text parsed and
// compared with status() (users, synced, pending by priority, dead by reason, password states, freeze,
// rollout, shadow outcomes by format), the worker's writes and 429 counters, the mirror lag
// histogram, sign-ins by side and reason, and the app's own prom-client registry receiving the same
// metrics.
import bcrypt from 'bcryptjs';
import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { MigrationStatusWithFlags } from 'workos-migrate';
import { type Adapter, type AdminApp, adminTestbed } from './helpers/admin-apps.js';
import { waitFor } from './helpers/wait.js';

const bed = adminTestbed({ requireEmailVerification: false });
const TOKEN = 'metrics-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

type Sample = { name: string; labels: Record<string, string>; value: number };

/** The Prometheus text format, as a scraper reads it (HELP/TYPE comments skipped). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    ) as Record<string, string>;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

const series = (samples: Sample[], name: string, label?: string): Record<string, number> =>
  Object.fromEntries(
    samples.filter((s) => s.name === name).map((s) => [label ? (s.labels[label] ?? '') : '', s.value]),
  );
const one = (samples: Sample[], name: string) => series(samples, name)[''];

/** Five users synced by the app's worker, two waiting (not yet due), three dead for two reasons. */
async function seed(admin: AdminApp): Promise<void> {
  const hash = bcrypt.hashSync('password-1', 4);
  for (let i = 1; i <= 5; i++) {
    await bed.app.exec(`INSERT INTO users (email, password_hash, email_verified) VALUES ($1, $2, true)`, [
      `synced${i}@example.com`,
      i === 5 ? null : hash,
    ]);
  }
  await admin.migrate.worker.start();
  await waitFor(async () => (await admin.migrate.status()).synced === 5, 30_000);
  await waitFor(async () => (await admin.migrate.status()).pending.live === 0, 30_000);
  // Queued and not due for an hour: pending while the worker runs.
  await bed.app.db.transaction(async (tx) => {
    await tx.execute(sql`INSERT INTO users (email) VALUES ('later1@example.com'), ('later2@example.com')`);
    await tx.execute(sql`UPDATE workos_migrate.outbox SET next_attempt_at = now() + interval '1 hour'`);
  });
  await bed.app.db.transaction(async (tx) => {
    await tx.execute(
      sql`INSERT INTO users (email) VALUES ('dead1@example.com'), ('dead2@example.com'), ('dead3@example.com')`,
    );
    await tx.execute(sql`UPDATE workos_migrate.outbox SET dead = true,
      dead_reason = CASE WHEN user_id = (SELECT min(user_id) FROM workos_migrate.outbox WHERE NOT dead AND next_attempt_at < now() + interval '1 minute') THEN 'invalid_email' ELSE 'email_owned_elsewhere' END
      WHERE next_attempt_at < now() + interval '1 minute'`);
  });
  // Shadow evidence for two formats, as the shadow checks record it (any instance's).
  await bed.app.exec(`INSERT INTO workos_migrate.format_checks (format, matched, mismatched, other, healed)
    VALUES ('bcrypt', 3, 1, 2, 1), ('ssha', 0, 2, 0, 0)
    ON CONFLICT (format) DO UPDATE SET matched = EXCLUDED.matched, mismatched = EXCLUDED.mismatched,
      other = EXCLUDED.other, healed = EXCLUDED.healed`);
  await admin.migrate.flags.setFreeze(true);
  await admin.migrate.flags.setRollout(20);
  // One sign-in on each outcome of the legacy side.
  const verifyLegacy = async (user: { password: string; passwordHash: string | null }) =>
    user.passwordHash !== null && bcrypt.compare(user.password, user.passwordHash);
  await admin.migrate.login({ email: 'synced1@example.com', password: 'password-1', verifyLegacy });
  await admin.migrate.login({ email: 'synced1@example.com', password: 'wrong-password', verifyLegacy });
}

describe.each(['fastify', 'express'] as const)('GET /metrics through %s', (adapter: Adapter) => {
  it('answers the same numbers as status(), plus the counters, lag histogram and sign-ins', async () => {
    const admin = await bed.open(adapter, { token: TOKEN });
    await seed(admin);

    expect((await admin.call({ method: 'GET', url: '/workos-migrate/metrics' })).status).toBe(401);
    const res = await admin.call({ method: 'GET', url: '/workos-migrate/metrics', headers: auth });
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toContain('text/plain');
    const samples = parse(res.text);
    const status: MigrationStatusWithFlags = await admin.migrate.status();

    expect(status).toMatchObject({ users: 10, synced: 5, pending: { live: 2, backfill: 0 } });
    expect(status.dead).toEqual({ invalid_email: 1, email_owned_elsewhere: 2 });
    expect(one(samples, 'workos_migrate_users')).toBe(status.users);
    expect(one(samples, 'workos_migrate_synced_users')).toBe(status.synced);
    expect(series(samples, 'workos_migrate_pending', 'priority')).toEqual(status.pending);
    expect(series(samples, 'workos_migrate_dead', 'reason')).toEqual(status.dead);
    expect(series(samples, 'workos_migrate_password_state_users', 'state')).toEqual(status.passwordStates);
    expect(series(samples, 'workos_migrate_freeze', 'source')).toEqual({ stored: 1 });
    expect(series(samples, 'workos_migrate_rollout_percent', 'source')).toEqual({ stored: 20 });
    expect(one(samples, 'workos_migrate_leader')).toBe(status.leader ? 1 : 0);
    expect(one(samples, 'workos_migrate_deletes_held')).toBe(status.deletesAwaitingConfirmation);
    expect(one(samples, 'workos_migrate_oldest_pending_seconds')).toBeGreaterThan(0);

    // Shadow outcomes by format: the very rows of status().formats.
    expect(status.formats.map((f) => f.format)).toEqual(expect.arrayContaining(['bcrypt', 'ssha']));
    const byFormat = (name: string) =>
      Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [s.labels.format, s.value]));
    expect(byFormat('workos_migrate_format_users')).toEqual(
      Object.fromEntries(status.formats.map((f) => [f.format, f.users])),
    );
    expect(byFormat('workos_migrate_shadow_healed')).toEqual(
      Object.fromEntries(status.formats.map((f) => [f.format, f.healed])),
    );
    expect(byFormat('workos_migrate_format_ready')).toEqual(
      Object.fromEntries(status.formats.map((f) => [f.format, f.ready ? 1 : 0])),
    );
    const checks = samples
      .filter((s) => s.name === 'workos_migrate_shadow_checks')
      .map((s) => [s.labels.format, s.labels.outcome, s.value]);
    expect(checks.sort()).toEqual(
      status.formats
        .flatMap((f) => [
          [f.format, 'matched', f.matched],
          [f.format, 'mismatched', f.mismatched],
          [f.format, 'other', f.other],
        ])
        .sort(),
    );
    expect(status.formats.find((f) => f.format === 'bcrypt')).toMatchObject({
      shadowChecked: 6,
      matched: 3,
      mismatched: 1,
      healed: 1,
    });

    const { writes, rateLimited } = admin.migrate.worker.counters;
    expect(writes).toBeGreaterThanOrEqual(5);
    expect(one(samples, 'workos_migrate_workos_writes_total')).toBe(writes);
    expect(one(samples, 'workos_migrate_workos_rate_limited_total') ?? 0).toBe(rateLimited);
    expect(one(samples, 'workos_migrate_rate_ceiling')).toBe(admin.migrate.worker.currentRate);
    // Five live changes confirmed: five lag observations, each under the generous bound.
    expect(one(samples, 'workos_migrate_mirror_lag_seconds_count')).toBe(5);
    expect(series(samples, 'workos_migrate_mirror_lag_seconds_bucket', 'le')['+Inf']).toBe(5);
    expect(series(samples, 'workos_migrate_mirror_lag_seconds_bucket', 'le')['30']).toBe(5);
    const signIns = samples.filter((s) => s.name === 'workos_migrate_sign_ins_total');
    expect(signIns.map((s) => [s.labels.side, s.labels.reason, s.labels.outcome, s.value]).sort()).toEqual(
      admin.migrate
        .signInCounts()
        .map((c) => [c.side, c.reason, c.ok ? 'ok' : 'refused', c.count])
        .sort(),
    );
    expect(signIns.reduce((a, s) => a + s.value, 0)).toBe(2);
    // Nothing secret in the text: no hash, no token.
    expect(res.text).not.toContain('$2');
    expect(res.text).not.toContain(TOKEN);
  });

  it("registers on the app's own prom-client registry when given one", async () => {
    const registry = new Registry();
    const admin = await bed.open(adapter, { token: TOKEN, metrics: { registry } });
    await bed.app.exec(`INSERT INTO users (email) VALUES ('one@example.com')`);
    // The app's own scrape, without anyone calling our route first.
    const samples = parse(await registry.metrics());
    expect(one(samples, 'workos_migrate_users')).toBe(1);
    expect(series(samples, 'workos_migrate_pending', 'priority')).toEqual({ live: 1, backfill: 0 });
    const ours = await admin.call({ method: 'GET', url: '/workos-migrate/metrics', headers: auth });
    expect(one(parse(ours.text), 'workos_migrate_users')).toBe(1);
  });
});
