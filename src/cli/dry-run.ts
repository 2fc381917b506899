// `import --dry-run`: what the import would meet, read from the users table through the mapping,
// with no WorkOS write (and, with --check-workos N, N users looked up in WorkOS: reads only).
import type { User, WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { type DrizzleDatabase, query } from '../core/db.js';
import { emailLookupSql, normaliseEmail } from '../core/email.js';
import { quoteIdent, type UsersMapping } from '../core/mapping.js';
import { checkLocalUser, EXTERNAL_ID_MAX_LENGTH } from '../core/validate.js';
import { analyze } from '../hashes/analyze.js';
import {
  type HashAnalysis,
  type HashOptions,
  UNVERIFIABLE_CODES,
  type UnsupportedCode,
} from '../hashes/types.js';
import { classifyWorkosError } from '../workos/client.js';
import { UsageError } from './conventions.js';
import { schemaInstalled } from './engine.js';
import { about, byReason, count, listSome, percent, table } from './format.js';

const EXAMPLES = 20;
const BATCH = 5_000;

export interface WorkosSample {
  sampled: number;
  /** Found by `external_id` = prefix + id: already imported (a rerun links them). */
  byExternalId: number;
  /** Found by email with no external_id: adopted or not depending on `adoptExisting`. */
  byEmailUnclaimed: number;
  /** Found by email with another external_id: would be dead-lettered as email_owned_elsewhere. */
  byEmailClaimed: number;
  notFound: number;
  errors: number;
  firstError: string | null;
}

export interface DryRunReport {
  dryRun: true;
  users: number;
  /** Users without a sync_state row (all of them before `install`). */
  toImport: number;
  installed: boolean;
  emails: {
    missing: { count: number; ids: string[] };
    invalid: { count: number; examples: { id: string; email: string }[] };
    /** After normalisation (trim, lower case): each group is one address several users share. */
    duplicates: { groups: number; users: number; examples: { email: string; ids: string[] }[] };
  };
  ids: {
    duplicates: { count: number; examples: string[] };
    externalIdTooLong: { count: number; examples: string[] };
  };
  /** `null` when the mapping has no password hash column. */
  hashes: HashAnalysis | null;
  passwordFallback: string;
  estimate: { writes: number; ratePerSecond: number; seconds: number };
  workos: WorkosSample | null;
  /** Users the import would dead-letter: missing/invalid emails, the extra users of a duplicate, long ids. */
  wouldFail: number;
}

function mergeAnalysis(into: HashAnalysis, add: HashAnalysis): void {
  into.total += add.total;
  into.convertible += add.convertible;
  into.unsupported += add.unsupported;
  into.noPassword += add.noPassword;
  const bump = <K extends string>(target: Partial<Record<K, number>>, source: Partial<Record<K, number>>) => {
    for (const [key, n] of Object.entries(source) as [K, number][]) target[key] = (target[key] ?? 0) + n;
  };
  bump(into.formats, add.formats);
  bump(into.types, add.types);
  for (const [code, entry] of Object.entries(add.reasons) as [
    keyof HashAnalysis['reasons'],
    { count: number; example: string },
  ][]) {
    const existing = into.reasons[code];
    if (existing) existing.count += entry.count;
    else into.reasons[code] = { ...entry };
  }
}

function emptyAnalysis(): HashAnalysis {
  return { total: 0, convertible: 0, unsupported: 0, noPassword: 0, formats: {}, types: {}, reasons: {} };
}

interface ScannedUser {
  id: string;
  email: string | null;
  hash: string | null;
  hashType: string | null;
}

/** Every user, in keyset-paginated batches (constant memory), in the id column's own order. */
async function scanUsers(
  db: DrizzleDatabase,
  mapping: UsersMapping,
  onBatch: (rows: ScannedUser[]) => void,
): Promise<void> {
  const { users, columns } = mapping;
  const id = quoteIdent(columns.id);
  const typeRows = await query<{ type: string }>(
    db,
    sql`SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
        WHERE a.attrelid = ${users.qualified}::regclass AND a.attname = ${columns.id}`,
  );
  const idType = typeRows[0]?.type ?? 'text';
  const hash = mapping.credentials
    ? `(SELECT c.${quoteIdent(mapping.credentials.passwordHash)}::text FROM ${mapping.credentials.table.qualified} c
        WHERE c.${quoteIdent(mapping.credentials.userId)}::text = u.${id}::text LIMIT 1)`
    : columns.passwordHash
      ? `u.${quoteIdent(columns.passwordHash)}::text`
      : 'NULL::text';
  const hashType = columns.passwordHashType
    ? `u.${quoteIdent(columns.passwordHashType)}::text`
    : 'NULL::text';
  const select = `u.${id}::text AS id, u.${quoteIdent(columns.email)}::text AS email, ${hash} AS hash, ${hashType} AS "hashType"`;
  let cursor: string | null = null;
  for (;;) {
    const after = cursor === null ? sql`true` : sql`u.${sql.raw(id)} > ${cursor}::${sql.raw(idType)}`;
    const rows: ScannedUser[] = await query<ScannedUser>(
      db,
      sql`SELECT ${sql.raw(select)} FROM ${sql.raw(users.qualified)} u WHERE ${after} ORDER BY u.${sql.raw(id)} LIMIT ${BATCH}`,
    );
    if (rows.length === 0) return;
    onBatch(rows);
    cursor = rows.at(-1)?.id ?? null;
    if (rows.length < BATCH) return;
  }
}

function hashOptionsFor(base: HashOptions, hashType: string | null): HashOptions {
  // As the reconciler does: a per-row type column only sharpens how a bare hex digest is read.
  const type = hashType?.toLowerCase();
  return type === 'md5' || type === 'sha1' || type === 'sha256' || type === 'sha512'
    ? { ...base, bareHexFormat: type }
    : base;
}

export async function dryRun(
  db: DrizzleDatabase,
  config: ResolvedConfig,
  options: { checkWorkos?: number; workos?: () => WorkOS },
): Promise<DryRunReport> {
  const { users: mapping, externalIdPrefix } = config;
  const { users, columns } = mapping;
  const id = quoteIdent(columns.id);
  const email = quoteIdent(columns.email);
  const installed = await schemaInstalled(db);

  const hasHash = Boolean(mapping.credentials || columns.passwordHash);
  const analysis = emptyAnalysis();
  const missing: string[] = [];
  const invalid: { id: string; email: string }[] = [];
  const tooLong: string[] = [];
  let missingCount = 0;
  let invalidCount = 0;
  let tooLongCount = 0;
  let total = 0;
  await scanUsers(db, mapping, (rows) => {
    total += rows.length;
    const byType = new Map<string | null, (string | null)[]>();
    for (const row of rows) {
      // The import's own check: each user counts once, under the reason it would be dead-lettered with.
      const checked = checkLocalUser(row, externalIdPrefix);
      if (!checked.ok && checked.reason === 'missing_email') {
        missingCount++;
        if (missing.length < EXAMPLES) missing.push(row.id);
      } else if (!checked.ok && checked.reason === 'invalid_email') {
        invalidCount++;
        if (invalid.length < EXAMPLES) invalid.push({ id: row.id, email: row.email ?? '' });
      } else if (!checked.ok) {
        tooLongCount++;
        if (tooLong.length < EXAMPLES) tooLong.push(row.id);
      }
      if (hasHash) {
        const key = row.hashType?.toLowerCase() ?? null;
        const list = byType.get(key) ?? [];
        list.push(row.hash);
        byType.set(key, list);
      }
    }
    for (const [type, hashes] of byType) {
      mergeAnalysis(analysis, analyze(hashes, hashOptionsFor(mapping.hashOptions, type)));
    }
  });

  // Duplicates in SQL, normalised exactly as the import's own lookups and duplicate check are.
  const duplicateRows = await query<{ email: string; ids: string; n: number }>(
    db,
    sql`SELECT ${sql.raw(emailLookupSql(email))} AS email, string_agg(${sql.raw(id)}::text, ',' ORDER BY ${sql.raw(id)}) AS ids,
               count(*)::int AS n
        FROM ${sql.raw(users.qualified)}
        WHERE ${sql.raw(emailLookupSql(email))} <> ''
        GROUP BY 1 HAVING count(*) > 1 ORDER BY 3 DESC, 1`,
  );
  const duplicateUsers = duplicateRows.reduce((a, row) => a + row.n, 0);
  const duplicateIds = await query<{ id: string }>(
    db,
    sql`SELECT ${sql.raw(id)}::text AS id FROM ${sql.raw(users.qualified)} GROUP BY 1 HAVING count(*) > 1 ORDER BY 1`,
  );
  const toImport = installed
    ? Number(
        (
          await query<{ n: number }>(
            db,
            sql`SELECT count(*)::int AS n FROM ${sql.raw(users.qualified)} u
                WHERE NOT EXISTS (SELECT 1 FROM workos_migrate.sync_state s WHERE s.user_id = u.${sql.raw(id)}::text)`,
          )
        )[0]?.n ?? 0,
      )
    : total;

  const rate = config.worker.ratePerSecond;
  const report: DryRunReport = {
    dryRun: true,
    users: total,
    toImport,
    installed,
    emails: {
      missing: { count: missingCount, ids: missing },
      invalid: { count: invalidCount, examples: invalid },
      duplicates: {
        groups: duplicateRows.length,
        users: duplicateUsers,
        examples: duplicateRows
          .slice(0, EXAMPLES)
          .map((row) => ({ email: row.email, ids: row.ids.split(',') })),
      },
    },
    ids: {
      duplicates: { count: duplicateIds.length, examples: duplicateIds.slice(0, EXAMPLES).map((r) => r.id) },
      externalIdTooLong: { count: tooLongCount, examples: tooLong },
    },
    hashes: hasHash ? analysis : null,
    passwordFallback: config.passwordFallback,
    estimate: { writes: toImport, ratePerSecond: rate, seconds: toImport / rate },
    workos: null,
    wouldFail: missingCount + invalidCount + (duplicateUsers - duplicateRows.length) + tooLongCount,
  };
  if (options.checkWorkos && options.workos) {
    report.workos = await sampleWorkos(db, config, options.workos(), options.checkWorkos);
  }
  return report;
}

/** Looks N random users up in WorkOS by external_id, then by email. Reads only. */
async function sampleWorkos(
  db: DrizzleDatabase,
  config: ResolvedConfig,
  workos: WorkOS,
  size: number,
): Promise<WorkosSample> {
  const { users, columns } = config.users;
  const sample = await query<{ id: string; email: string | null }>(
    db,
    sql`SELECT ${sql.raw(quoteIdent(columns.id))}::text AS id, ${sql.raw(quoteIdent(columns.email))}::text AS email
        FROM ${sql.raw(users.qualified)} ORDER BY random() LIMIT ${size}`,
  );
  const result: WorkosSample = {
    sampled: sample.length,
    byExternalId: 0,
    byEmailUnclaimed: 0,
    byEmailClaimed: 0,
    notFound: 0,
    errors: 0,
    firstError: null,
  };
  const lookup = async (user: { id: string; email: string | null }): Promise<void> => {
    try {
      let found: User | null = null;
      try {
        found = await workos.userManagement.getUserByExternalId(`${config.externalIdPrefix}${user.id}`);
      } catch (error) {
        if (classifyWorkosError(error).kind !== 'not_found') throw error;
      }
      if (found) {
        result.byExternalId++;
        return;
      }
      const checked = checkLocalUser(user, config.externalIdPrefix);
      if (checked.ok) {
        const list = await workos.userManagement.listUsers({
          email: normaliseEmail(checked.email),
          limit: 1,
        });
        const holder = list.data[0];
        if (holder) {
          if (holder.externalId) result.byEmailClaimed++;
          else result.byEmailUnclaimed++;
          return;
        }
      }
      result.notFound++;
    } catch (error) {
      const failure = classifyWorkosError(error);
      if (failure.kind === 'auth') {
        throw new UsageError(`WorkOS refused the API key (${failure.status}): check WORKOS_API_KEY`);
      }
      result.errors++;
      result.firstError ??= failure.message;
    }
  };
  // A few at a time: well under WorkOS's read limit, and no sleeping.
  const queue = [...sample];
  await Promise.all(
    Array.from({ length: Math.min(4, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await lookup(next);
    }),
  );
  return result;
}

export function formatDryRun(report: DryRunReport): string {
  const { emails, ids, hashes, estimate, workos } = report;
  const rows: [string, string][] = [
    [
      'users',
      `${count(report.users)}${report.installed ? ` (${count(report.toImport)} not yet synced)` : ' (workos-migrate not installed yet)'}`,
    ],
    [
      'missing email',
      emails.missing.count === 0
        ? 'none'
        : `${count(emails.missing.count)}: ids ${listSome(emails.missing.ids)}`,
    ],
    [
      'invalid email',
      emails.invalid.count === 0
        ? 'none'
        : `${count(emails.invalid.count)}: ${listSome(
            emails.invalid.examples.map((e) => `id ${e.id} ${JSON.stringify(e.email)}`),
            3,
          )}`,
    ],
    [
      'duplicate email',
      emails.duplicates.groups === 0
        ? 'none (after trim and lower case)'
        : `${count(emails.duplicates.groups)} address${emails.duplicates.groups === 1 ? '' : 'es'} shared by ${count(emails.duplicates.users)} users: ${listSome(
            emails.duplicates.examples.map((d) => `${JSON.stringify(d.email)} (ids ${listSome(d.ids, 4)})`),
            3,
          )}`,
    ],
    [
      'duplicate id',
      ids.duplicates.count === 0
        ? 'none'
        : `${count(ids.duplicates.count)}: ${listSome(ids.duplicates.examples)}`,
    ],
    [
      'external_id',
      ids.externalIdTooLong.count === 0
        ? `fits in ${EXTERNAL_ID_MAX_LENGTH} characters`
        : `${count(ids.externalIdTooLong.count)} over ${EXTERNAL_ID_MAX_LENGTH} characters: ids ${listSome(ids.externalIdTooLong.examples)}`,
    ],
  ];
  if (hashes) {
    const unverifiable = Object.entries(hashes.reasons)
      .filter(([code]) => UNVERIFIABLE_CODES.has(code as UnsupportedCode))
      .reduce((sum, [, entry]) => sum + (entry?.count ?? 0), 0);
    rows.push(
      ['password hashes', `${count(hashes.total)} read`],
      [
        '  convertible',
        `${count(hashes.convertible)}${hashes.convertible ? ` (${byReason(hashes.types as Record<string, number>)})` : ''}`,
      ],
      [
        '  not convertible',
        hashes.unsupported - unverifiable === 0
          ? '0'
          : `${count(hashes.unsupported - unverifiable)}: these users ${
              report.passwordFallback === 'login'
                ? 'migrate their password at their next login'
                : report.passwordFallback === 'reset'
                  ? 'get a password reset'
                  : 'keep no password in WorkOS'
            } (passwordFallback ${report.passwordFallback})`,
      ],
      [
        '  unverifiable',
        unverifiable === 0
          ? '0'
          : `${count(unverifiable)}: damaged hashes no login can verify; these users get a password reset`,
      ],
      ['  no password', count(hashes.noPassword)],
      ['  formats', byReason(hashes.formats as Record<string, number>)],
    );
    for (const [code, entry] of Object.entries(hashes.reasons)) {
      if (code === 'no_password' || !entry) continue;
      rows.push([`  ${code}`, `${count(entry.count)}: ${entry.example}`]);
    }
  } else {
    rows.push(['password hashes', 'none mapped (users sign in another way or reset)']);
  }
  rows.push([
    'estimate',
    `${count(estimate.writes)} WorkOS writes at ${estimate.ratePerSecond}/s: ${about(estimate.seconds)} (WorkOS allows about 50 writes/s)`,
  ]);
  if (workos) {
    rows.push([
      'WorkOS sample',
      `${count(workos.sampled)} looked up: ${count(workos.byExternalId)} already imported (our external_id), ` +
        `${count(workos.byEmailUnclaimed)} by email without external_id (adopted per adoptExisting), ` +
        `${count(workos.byEmailClaimed)} by email with another external_id (would fail: email_owned_elsewhere), ` +
        `${count(workos.notFound)} not found${workos.errors ? `, ${count(workos.errors)} errors (${workos.firstError})` : ''}`,
    ]);
  }
  rows.push([
    'would fail',
    report.wouldFail === 0
      ? 'none'
      : `${count(report.wouldFail)} users (${percent(report.wouldFail, report.users)}) would be dead-lettered: fix them first`,
  ]);
  return `Dry run: nothing was written to WorkOS.\n${table(rows)}`;
}
