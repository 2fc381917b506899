// `verify`: the migration checklist as one command. Reads only, from WorkOS and the database.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { User, WorkOS } from '@workos-inc/node';
import { type SQL, sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { type DrizzleDatabase, query } from '../core/db.js';
import { normaliseEmail } from '../core/email.js';
import { quoteIdent } from '../core/mapping.js';
import { installedState } from '../drizzle/sql.js';
import { idColumnType, localIdOf } from '../sync/local-user.js';
import { classifyWorkosError } from '../workos/client.js';
import { schemaInstalled } from './engine.js';
import { byReason, count, listSome, maskKey, sum } from './format.js';

export interface VerifyCheck {
  name: 'api' | 'column' | 'trigger' | 'synced' | 'readback' | 'orphans' | 'login';
  ok: boolean;
  detail: string;
}

export interface FieldDiff {
  field: 'email' | 'firstName' | 'lastName' | 'emailVerified' | 'externalId';
  local: string | boolean | null;
  workos: string | boolean | null;
}

export interface DriftEntry {
  userId: string;
  workosUserId: string;
  problem: 'missing_in_workos' | 'field_drift' | 'external_id_mismatch';
  fields: FieldDiff[];
}

export interface Orphan {
  workosUserId: string;
  email: string;
  externalId: string | null;
  /** Set when a sync_state row still points at it but the local user is gone. */
  formerLocalUserId: string | null;
}

export interface VerifyReport {
  ok: boolean;
  mode: 'sample' | 'full';
  checks: VerifyCheck[];
  /** The first `DRIFT_KEPT` drift entries (all of them are in `driftFile` when one was asked for). */
  drift: DriftEntry[];
  /** How many drift entries there were in all. */
  driftTotal: number;
  /** The JSON-lines file every drift entry was written to (`--out`), or null. */
  driftFile: string | null;
  orphans: Orphan[];
  /** Things no command can check. */
  manual: string[];
}

interface LocalFields {
  id: string | null;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  emailVerified: boolean;
}

interface SyncedRow extends LocalFields {
  userId: string;
  workosUserId: string;
  /** The user has an outbox row (in flight or dead): its WorkOS copy may legitimately differ. */
  pending: boolean;
}

const MANUAL_STEPS = [
  'social login providers (Google, Microsoft, ...) are configured in the WorkOS dashboard, not by this tool: check them there',
];

/** WorkOS reads, retried on 429 (after Retry-After), 5xx and no answer; never the SDK's sleeping auto-pagination. */
async function read<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const failure = classifyWorkosError(error);
      if (!failure.transient || attempt >= 6) throw failure;
      await sleep(failure.retryAfterMs ?? 250 * 2 ** attempt);
    }
  }
}

async function getUser(workos: WorkOS, id: string): Promise<User | null> {
  try {
    return await read(() => workos.userManagement.getUser(id));
  } catch (error) {
    if (classifyWorkosError(error).kind === 'not_found') return null;
    throw error;
  }
}

function syncedSelect(config: ResolvedConfig): string {
  const { columns } = config.users;
  const col = (name: string | undefined, alias: string) =>
    name ? `u.${quoteIdent(name)}::text AS ${quoteIdent(alias)}` : `NULL AS ${quoteIdent(alias)}`;
  return [
    's.user_id AS "userId"',
    's.workos_user_id AS "workosUserId"',
    'EXISTS (SELECT 1 FROM workos_migrate.outbox o WHERE o.user_id = s.user_id) AS pending',
    col(columns.id, 'id'),
    col(columns.email, 'email'),
    col(columns.firstName, 'firstName'),
    col(columns.lastName, 'lastName'),
    columns.emailVerified
      ? `COALESCE(u.${quoteIdent(columns.emailVerified)}::boolean, false) AS "emailVerified"`
      : 'false AS "emailVerified"',
  ].join(', ');
}

/**
 * sync_state joined to the users table in the id column's own type, so each lookup uses the primary
 * key: `u.id::text = s.user_id` hashed the whole users table for every page (quadratic in users).
 */
function syncedFrom(config: ResolvedConfig, idType: string): string {
  const { users, columns } = config.users;
  return `workos_migrate.sync_state s LEFT JOIN ${users.qualified} u ON u.${quoteIdent(columns.id)} = s.user_id::${idType}`;
}

/** Drift entries kept in memory for the report; with `--out` every entry also goes to the file. */
const DRIFT_KEPT = 1_000;

/** Where drift goes: the first entries to the report, every entry to the JSON-lines file if any. */
class DriftSink {
  readonly kept: DriftEntry[] = [];
  total = 0;
  users = 0;
  readonly byProblem: Record<string, number> = {};
  private readonly file: WriteStream | null;

  constructor(readonly path: string | null) {
    this.file = path ? createWriteStream(path, { flags: 'w' }) : null;
  }

  /** One user's entries (none when it matches). */
  async add(entries: DriftEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.users++;
    for (const entry of entries) {
      this.total++;
      this.byProblem[entry.problem] = (this.byProblem[entry.problem] ?? 0) + 1;
      if (this.kept.length < DRIFT_KEPT) this.kept.push(entry);
      if (this.file && !this.file.write(`${JSON.stringify(entry)}\n`)) await once(this.file, 'drain');
    }
  }

  async close(): Promise<void> {
    if (!this.file) return;
    this.file.end();
    await once(this.file, 'finish');
  }
}

/** Differences between the local row and WorkOS that the engine would not explain. */
export function diffUser(local: SyncedRow, remote: User, externalIdPrefix: string): DriftEntry[] {
  const fields: FieldDiff[] = [];
  if (normaliseEmail(local.email ?? '') !== normaliseEmail(remote.email)) {
    fields.push({ field: 'email', local: local.email, workos: remote.email });
  }
  // Names cleared locally are not cleared in WorkOS (its update takes strings): only set names compare.
  if (local.firstName && local.firstName !== remote.firstName) {
    fields.push({ field: 'firstName', local: local.firstName, workos: remote.firstName });
  }
  if (local.lastName && local.lastName !== remote.lastName) {
    fields.push({ field: 'lastName', local: local.lastName, workos: remote.lastName });
  }
  // email_verified is never sent from true to false: only a verified local user can drift.
  if (local.emailVerified && !remote.emailVerified) {
    fields.push({ field: 'emailVerified', local: true, workos: false });
  }
  const entries: DriftEntry[] = [];
  if (fields.length > 0) {
    entries.push({ userId: local.userId, workosUserId: remote.id, problem: 'field_drift', fields });
  }
  const expected = `${externalIdPrefix}${local.userId}`;
  if ((remote.externalId ?? null) !== expected) {
    entries.push({
      userId: local.userId,
      workosUserId: remote.id,
      problem: 'external_id_mismatch',
      fields: [{ field: 'externalId', local: expected, workos: remote.externalId ?? null }],
    });
  }
  return entries;
}

/**
 * The WorkOS ids a `--full` scan met, kept in PostgreSQL (workos_migrate.verify_seen, one multi-row
 * insert per page), not in a Set: a Set grew ~150 bytes per user (318 MiB peak at 1,000,000), and
 * anything smaller in memory (a Bloom filter, truncated hashes) could count a user missing in WorkOS as
 * met. The second pass anti-joins it over bounded user_id ranges, so memory stays flat at any size.
 * A run deletes its rows at the end; rows older than a day (a crashed run) go when the next run starts.
 * Losing a row is safe: the user is only read again by a GET.
 */
class SeenIds {
  private constructor(
    private readonly db: DrizzleDatabase,
    private readonly runId: string,
  ) {}

  /** Null when the table is missing (installed by an older version). */
  static async open(db: DrizzleDatabase): Promise<SeenIds | null> {
    const [table] = await query<{ present: boolean }>(
      db,
      sql`SELECT to_regclass('workos_migrate.verify_seen') IS NOT NULL AS present`,
    );
    if (!table?.present) return null;
    await db.execute(sql`DELETE FROM workos_migrate.verify_seen WHERE created_at < now() - interval '1 day'`);
    return new SeenIds(db, randomUUID());
  }

  async add(workosUserIds: string[]): Promise<void> {
    if (workosUserIds.length === 0) return;
    const rows = workosUserIds.map((id) => sql`(${this.runId}, ${id})`);
    await this.db.execute(
      sql`INSERT INTO workos_migrate.verify_seen (run_id, workos_user_id) VALUES ${sql.join(rows, sql`, `)}
        ON CONFLICT DO NOTHING`,
    );
  }

  /** True for a sync_state row `s` whose WorkOS id this run did not meet. */
  unseen(): SQL {
    return sql`NOT EXISTS (SELECT 1 FROM workos_migrate.verify_seen v
      WHERE v.run_id = ${this.runId} AND v.workos_user_id = s.workos_user_id)`;
  }

  async close(): Promise<void> {
    await this.db.execute(sql`DELETE FROM workos_migrate.verify_seen WHERE run_id = ${this.runId}`);
  }
}

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(size, queue.length) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await work(next);
    }),
  );
}

export interface VerifyOptions {
  /** Users compared by a fresh GET each; ignored with `full`. */
  sample: number;
  full: boolean;
  /** Write every drift entry to this file as JSON lines (the report keeps the first ones). */
  out?: string;
  /** Runs the login test; resolves to the check's result. */
  loginTest?: (workos: WorkOS) => Promise<VerifyCheck>;
}

export async function verify(
  db: DrizzleDatabase,
  config: ResolvedConfig,
  workos: WorkOS,
  options: VerifyOptions,
): Promise<VerifyReport> {
  const mapping = config.users;
  const table = `${mapping.users.schema}.${mapping.users.name}`;
  const checks: VerifyCheck[] = [];
  const drift = new DriftSink(options.out ?? null);
  const orphans: Orphan[] = [];
  const report = (): VerifyReport => ({
    ok: checks.every((c) => c.ok),
    mode: options.full ? 'full' : 'sample',
    checks,
    drift: drift.kept,
    driftTotal: drift.total,
    driftFile: drift.path,
    orphans,
    manual: MANUAL_STEPS,
  });
  let seen = null as SeenIds | null;
  let failed = false;
  try {
    return await runChecks();
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await drift.close();
    // A cleanup failure never hides the error that ended the run (its rows go after a day).
    await seen?.close().catch((error: unknown) => {
      if (!failed) throw error;
    });
  }

  async function runChecks(): Promise<VerifyReport> {
    // 1. The API answers and the key is allowed.
    const apiUrl = config.workos.apiUrl ?? 'https://api.workos.com';
    let apiOk = false;
    try {
      await read(() => workos.userManagement.listUsers({ limit: 1 }));
      apiOk = true;
      checks.push({
        name: 'api',
        ok: true,
        detail: `${apiUrl} answers; key ${maskKey(config.workos.apiKey)} allowed`,
      });
    } catch (error) {
      const failure = classifyWorkosError(error);
      checks.push({
        name: 'api',
        ok: false,
        detail:
          failure.kind === 'auth'
            ? `${apiUrl} refused key ${maskKey(config.workos.apiKey)} (${failure.status}): check WORKOS_API_KEY`
            : `${apiUrl}: ${failure.message}`,
      });
    }

    // 2. The column and 3. the trigger.
    const columns = await query<{ n: number }>(
      db,
      sql`SELECT count(*)::int AS n FROM information_schema.columns
        WHERE table_schema = ${mapping.users.schema} AND table_name = ${mapping.users.name}
          AND column_name = ${mapping.columns.workosUserId}`,
    );
    const columnOk = (columns[0]?.n ?? 0) > 0;
    checks.push({
      name: 'column',
      ok: columnOk,
      detail: columnOk
        ? `${table}.${mapping.columns.workosUserId} present`
        : `${table}.${mapping.columns.workosUserId} missing: run \`workos-migrate install\``,
    });
    const installed = await schemaInstalled(db);
    const state = installed ? await installedState(db, mapping) : null;
    checks.push({
      name: 'trigger',
      ok: state?.state === 'current',
      detail: state
        ? state.state === 'current'
          ? `current (${state.detail})`
          : `${state.detail}: run \`workos-migrate install\``
        : 'schema workos_migrate missing: run `workos-migrate install`',
    });
    if (!installed) return report();

    // 4. Synced count.
    const [counts] = await query<{ users: number; synced: number; unsynced: number; pending: number }>(
      db,
      sql`SELECT (SELECT count(*)::int FROM ${sql.raw(mapping.users.qualified)}) AS users,
               (SELECT count(*)::int FROM workos_migrate.sync_state) AS synced,
               (SELECT count(*)::int FROM ${sql.raw(mapping.users.qualified)} u
                 WHERE NOT EXISTS (SELECT 1 FROM workos_migrate.sync_state s
                                   WHERE s.user_id = u.${sql.raw(quoteIdent(mapping.columns.id))}::text)) AS unsynced,
               (SELECT count(*)::int FROM workos_migrate.outbox WHERE NOT dead) AS pending`,
    );
    const deadRows = await query<{ reason: string; n: number }>(
      db,
      sql`SELECT coalesce(dead_reason, 'unknown') AS reason, count(*)::int AS n FROM workos_migrate.outbox WHERE dead GROUP BY 1`,
    );
    const dead = Object.fromEntries(deadRows.map((r) => [r.reason, r.n]));
    const users = counts?.users ?? 0;
    const unsynced = counts?.unsynced ?? 0;
    const syncedOk = unsynced === 0 && sum(dead) === 0;
    checks.push({
      name: 'synced',
      ok: syncedOk,
      detail:
        `${count(users - unsynced)} of ${count(users)} users synced` +
        (counts?.pending ? `, ${count(counts.pending)} changes pending` : '') +
        (sum(dead) ? `, ${count(sum(dead))} dead-lettered (${byReason(dead)})` : '') +
        (unsynced && !syncedOk ? ': run `workos-migrate import` (and `retry` once causes are fixed)' : ''),
    });
    if (!apiOk) return report();

    const prefix = config.externalIdPrefix;
    const idType = await idColumnType(db, mapping);
    const idColumn = quoteIdent(mapping.columns.id);
    // 5. Read-back of a sample: a fresh GET per user.
    let compared = 0;
    let skippedPending = 0;
    if (!options.full) {
      const rows = await query<SyncedRow>(
        db,
        sql`SELECT ${sql.raw(syncedSelect(config))} FROM ${sql.raw(syncedFrom(config, idType))}
          WHERE u.${sql.raw(quoteIdent(mapping.columns.id))} IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM workos_migrate.outbox o WHERE o.user_id = s.user_id)
          ORDER BY random() LIMIT ${options.sample}`,
      );
      await pool(rows, 8, async (row) => {
        const remote = await getUser(workos, row.workosUserId);
        compared++;
        if (!remote) {
          await drift.add([
            { userId: row.userId, workosUserId: row.workosUserId, problem: 'missing_in_workos', fields: [] },
          ]);
        } else {
          await drift.add(diffUser(row, remote, prefix));
        }
      });
    }

    // 6. Every WorkOS user, paged by hand (order=asc, after=...): those with no local user, and with
    // --full the read-back of every synced user from the same pages.
    if (options.full) {
      seen = await SeenIds.open(db);
      if (!seen) {
        checks.push({
          name: 'readback',
          ok: false,
          detail:
            'workos_migrate.verify_seen missing (installed by an older version): run `workos-migrate install`',
        });
        return report();
      }
    }
    let scanned = 0;
    let after: string | undefined;
    do {
      const cursor = after;
      const page = await read(() =>
        workos.userManagement.listUsers({ limit: 100, order: 'asc', ...(cursor ? { after: cursor } : {}) }),
      );
      const remote = page.data;
      scanned += remote.length;
      if (remote.length > 0) {
        const ids = remote.map((u) => u.id);
        const synced = await query<SyncedRow>(
          db,
          sql`SELECT ${sql.raw(syncedSelect(config))} FROM ${sql.raw(syncedFrom(config, idType))} WHERE s.workos_user_id IN ${ids}`,
        );
        const byWorkosId = new Map(synced.map((row) => [row.workosUserId, row]));
        const met: string[] = [];
        // Only external ids that parse as local ids of the column's type: a cast of anything else fails.
        const localIdByWorkosId = new Map<string, string>();
        for (const user of remote) {
          if (byWorkosId.has(user.id)) continue;
          const localId = await localIdOf(db, mapping, prefix, user.externalId);
          if (localId !== null) localIdByWorkosId.set(user.id, localId);
        }
        const localIds = [...localIdByWorkosId.values()];
        const existing = new Set(
          localIds.length === 0
            ? []
            : (
                await query<{ id: string }>(
                  db,
                  sql`SELECT ${sql.raw(idColumn)}::text AS id FROM ${sql.raw(mapping.users.qualified)}
                    WHERE ${sql.raw(idColumn)} IN ${localIds}`,
                )
              ).map((r) => r.id),
        );
        for (const user of remote) {
          const row = byWorkosId.get(user.id);
          if (!row) {
            const localId = localIdByWorkosId.get(user.id);
            // Our external_id on an existing local user not linked yet: the import has not reached it.
            if (localId && existing.has(localId)) continue;
            orphans.push({
              workosUserId: user.id,
              email: user.email,
              externalId: user.externalId ?? null,
              formerLocalUserId: null,
            });
            continue;
          }
          if (row.id === null) {
            // sync_state still points here but the local user is gone: fine while the delete is pending.
            if (!row.pending) {
              orphans.push({
                workosUserId: user.id,
                email: user.email,
                externalId: user.externalId ?? null,
                formerLocalUserId: row.userId,
              });
            }
            continue;
          }
          if (!seen) continue;
          met.push(user.id);
          if (row.pending) {
            skippedPending++;
            continue;
          }
          compared++;
          await drift.add(diffUser(row, user, prefix));
        }
        await seen?.add(met);
      }
      after = page.listMetadata.after ?? undefined;
    } while (after);

    if (seen) {
      // Synced users the scan did not meet: missing in WorkOS, unless they appeared meanwhile. Each
      // range of 5,000 sync_state keys is one bounded anti-join, however few users it yields.
      const unseenSql = seen.unseen();
      let cursor = '';
      for (;;) {
        const [range] = await query<{ last: string | null }>(
          db,
          sql`SELECT max(user_id) AS last FROM (SELECT user_id FROM workos_migrate.sync_state
            WHERE user_id > ${cursor} ORDER BY user_id LIMIT 5000) keys`,
        );
        const last = range?.last ?? null;
        if (last === null) break;
        const rows = await query<SyncedRow>(
          db,
          sql`SELECT ${sql.raw(syncedSelect(config))} FROM ${sql.raw(syncedFrom(config, idType))}
            WHERE s.user_id > ${cursor} AND s.user_id <= ${last}
              AND u.${sql.raw(quoteIdent(mapping.columns.id))} IS NOT NULL AND ${unseenSql}`,
        );
        cursor = last;
        const unseen = rows.filter((row) => !row.pending);
        await pool(unseen, 8, async (row) => {
          const remote = await getUser(workos, row.workosUserId);
          compared++;
          if (!remote) {
            await drift.add([
              {
                userId: row.userId,
                workosUserId: row.workosUserId,
                problem: 'missing_in_workos',
                fields: [],
              },
            ]);
          } else {
            await drift.add(diffUser(row, remote, prefix));
          }
        });
      }
    }

    checks.push({
      name: 'readback',
      ok: drift.total === 0,
      detail:
        (drift.total === 0
          ? `${count(compared)} ${options.full ? '' : 'sampled '}synced users match WorkOS`
          : `${count(drift.users)} of ${count(compared)} ${options.full ? '' : 'sampled '}synced users differ from WorkOS: ${byReason(
              drift.byProblem,
            )}`) +
        (skippedPending ? ` (${count(skippedPending)} with changes in flight skipped)` : '') +
        (drift.path ? `; every entry in ${drift.path}` : ''),
    });
    checks.push({
      name: 'orphans',
      ok: orphans.length === 0,
      detail:
        orphans.length === 0
          ? `every one of ${count(scanned)} WorkOS users has a local user`
          : `${count(orphans.length)} of ${count(scanned)} WorkOS users have no local user: ${listSome(
              orphans.map((o) => `${o.workosUserId} ${o.email}`),
              3,
            )}`,
    });
    if (options.loginTest) checks.push(await options.loginTest(workos));
    return report();
  }
}

function show(value: string | boolean | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

export function formatVerify(report: VerifyReport): string {
  const labels: Record<VerifyCheck['name'], string> = {
    api: 'WorkOS API',
    column: 'users column',
    trigger: 'capture trigger',
    synced: 'synced',
    readback: 'read-back',
    orphans: 'WorkOS-only',
    login: 'login test',
  };
  const width = Math.max(...Object.values(labels).map((l) => l.length));
  const lines = report.checks.map(
    (c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${labels[c.name].padEnd(width)}  ${c.detail}`,
  );
  const shown = report.drift.slice(0, 50);
  for (const entry of shown) {
    const what =
      entry.problem === 'missing_in_workos'
        ? 'missing in WorkOS'
        : entry.fields
            .map((f) => `${f.field} ${show(f.local)} locally, ${show(f.workos)} in WorkOS`)
            .join('; ');
    lines.push(`      user ${entry.userId} (${entry.workosUserId}): ${entry.problem}: ${what}`);
  }
  if (report.driftTotal > shown.length)
    lines.push(
      `      ... and ${count(report.driftTotal - shown.length)} more (${
        report.driftFile ? `all in ${report.driftFile}` : '--out FILE writes all, as JSON lines'
      })`,
    );
  for (const orphan of report.orphans.slice(0, 20)) {
    lines.push(
      `      ${orphan.workosUserId} ${orphan.email}${orphan.externalId ? ` external_id ${orphan.externalId}` : ''}${
        orphan.formerLocalUserId ? ` (local user ${orphan.formerLocalUserId} was deleted)` : ''
      }`,
    );
  }
  if (report.orphans.length > 20)
    lines.push(`      ... and ${count(report.orphans.length - 20)} more (--json lists all)`);
  for (const step of report.manual) lines.push(`manual  ${step}`);
  lines.push(
    report.ok
      ? 'Verified.'
      : `Verification failed: ${report.checks
          .filter((c) => !c.ok)
          .map((c) => labels[c.name])
          .join(', ')}.`,
  );
  return `${lines.join('\n')}\n`;
}
