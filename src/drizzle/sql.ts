import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { type DrizzleDatabase, type DrizzleTransaction, query } from '../core/db.js';
import { emailLookupSql } from '../core/email.js';
import { databaseMessage, WorkosMigrateError } from '../core/errors.js';
import { quoteIdent, quoteLiteral, type UsersMapping } from '../core/mapping.js';

/** Bumped when the shape of the capture SQL changes; installed objects carry it in a comment. */
export const CAPTURE_VERSION = 3;
const LOCK_KEY = 'workos_migrate.install';

/**
 * Splits one of our generated scripts into statements: PGlite (and drizzle's `execute`) take one
 * statement at a time. Only for SQL this module writes: statements end with `;` at the end of a
 * line, and function bodies are quoted with `$fn$`.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current: string[] = [];
  let inBody = false;
  for (const line of script.split('\n')) {
    if (current.length === 0 && (line.trim() === '' || line.trim().startsWith('--'))) continue;
    current.push(line);
    if ((line.match(/\$fn\$/g)?.length ?? 0) % 2 === 1) inBody = !inBody;
    if (!inBody && line.trimEnd().endsWith(';')) {
      statements.push(current.join('\n').trim().replace(/;$/, ''));
      current = [];
    }
  }
  if (current.join('').trim()) statements.push(current.join('\n').trim());
  return statements;
}

async function run(db: DrizzleTransaction, script: string): Promise<void> {
  for (const statement of splitStatements(script)) await db.execute(sql.raw(statement));
}

/** The library's tables. Idempotent. */
function tablesSql(): string {
  return `CREATE SCHEMA IF NOT EXISTS workos_migrate;

CREATE TABLE IF NOT EXISTS workos_migrate.outbox (
  user_id text PRIMARY KEY,
  version bigint NOT NULL DEFAULT 1,
  priority smallint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  lease_token text,
  lease_expires_at timestamptz,
  dead boolean NOT NULL DEFAULT false,
  dead_reason text,
  last_error text,
  password_changed boolean NOT NULL DEFAULT false,
  deleted boolean NOT NULL DEFAULT false,
  workos_user_id text,
  held boolean NOT NULL DEFAULT false,
  delete_confirmed boolean NOT NULL DEFAULT false,
  uncertain boolean NOT NULL DEFAULT false,
  verifying boolean NOT NULL DEFAULT false,
  enqueued_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Set when a change follows a pending delete of the same id: the row is a new person (DESIGN, "Same person only").
ALTER TABLE workos_migrate.outbox ADD COLUMN IF NOT EXISTS replaced boolean NOT NULL DEFAULT false;
-- Set by login() when a password it moved to WorkOS may be older than the local one: the worker replaces it.
ALTER TABLE workos_migrate.outbox ADD COLUMN IF NOT EXISTS password_moved boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS outbox_claim_idx ON workos_migrate.outbox (priority, next_attempt_at) WHERE NOT dead AND NOT held;
-- What a create for this row was about to send ({ externalId, email } pairs, never a hash), recorded
-- before the call: after a crash, a WorkOS user with our external_id and one of these emails is ours.
ALTER TABLE workos_migrate.outbox ADD COLUMN IF NOT EXISTS sent_creates jsonb NOT NULL DEFAULT '[]'::jsonb;
-- A write of ours that got no answer may still land in WorkOS: until when (a last re-check is due then,
-- background work an import does not wait for), and the oldest row version such a write was sent for.
ALTER TABLE workos_migrate.outbox ADD COLUMN IF NOT EXISTS stray_until timestamptz;
ALTER TABLE workos_migrate.outbox ADD COLUMN IF NOT EXISTS stray_version bigint;

CREATE TABLE IF NOT EXISTS workos_migrate.sync_state (
  user_id text PRIMARY KEY,
  workos_user_id text NOT NULL UNIQUE,
  email text NOT NULL,
  first_name text,
  last_name text,
  email_verified boolean NOT NULL DEFAULT false,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  password_state text NOT NULL,
  password_reason text,
  reset_sent_at timestamptz,
  environment text NOT NULL,
  synced_at timestamptz NOT NULL DEFAULT now()
);
-- Set by login(): a user who signed in through WorkOS never falls back to the legacy password.
ALTER TABLE workos_migrate.sync_state ADD COLUMN IF NOT EXISTS workos_signed_in_at timestamptz;
-- Shadow verification and healing (signin/shadow.ts): the updated_at WorkOS answered at our last
-- write (a different one now means someone else changed the WorkOS user), the source format of the
-- imported hash (a workos-migrate/hashes format id; NULL when WorkOS got no imported hash), and when
-- this user's own password was last seen to work at WorkOS.
ALTER TABLE workos_migrate.sync_state ADD COLUMN IF NOT EXISTS workos_updated_at text;
ALTER TABLE workos_migrate.sync_state ADD COLUMN IF NOT EXISTS hash_format text;
ALTER TABLE workos_migrate.sync_state ADD COLUMN IF NOT EXISTS password_verified_at timestamptz;
-- Per source hash format: what shadow checks and healing saw. Counts only, no user data.
CREATE TABLE IF NOT EXISTS workos_migrate.format_checks (
  format text PRIMARY KEY,
  matched bigint NOT NULL DEFAULT 0,
  mismatched bigint NOT NULL DEFAULT 0,
  other bigint NOT NULL DEFAULT 0,
  healed bigint NOT NULL DEFAULT 0,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

-- Deletes applied in WorkOS without an operator's confirmation: the mass-delete guard counts those of
-- its window (plus the pending ones), so deletes done in slow batches still reach deleteThreshold.
CREATE TABLE IF NOT EXISTS workos_migrate.applied_deletes (
  user_id text NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS applied_deletes_at_idx ON workos_migrate.applied_deletes (deleted_at);

-- The WorkOS ids one \`verify --full\` run met while paging WorkOS (cli/verify.ts), so its second pass
-- finds the synced users the scan did not meet with an anti-join instead of a set in memory. Scratch
-- rows only (UNLOGGED: a crash loses nothing that matters); each run deletes its own at the end.
CREATE UNLOGGED TABLE IF NOT EXISTS workos_migrate.verify_seen (
  run_id text NOT NULL,
  workos_user_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, workos_user_id)
);

CREATE TABLE IF NOT EXISTS workos_migrate.leader (
  name text PRIMARY KEY,
  holder text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- status()'s counts, kept as they change (a count(*) of a million rows cost ~300 ms): triggers append
-- signed deltas (on users one per counter per INSERT/DELETE statement; on the library's tables one
-- per row inserted, deleted or moved between counters), appended, never updated, so concurrent writers
-- never wait on one counter row; a counter's value is the sum of its rows; fold_counts() compacts them.
CREATE TABLE IF NOT EXISTS workos_migrate.counts (
  counter text NOT NULL,
  delta bigint NOT NULL
);
-- Every fold leaves dead rows that status()'s scan reads until a vacuum: vacuum it by count, not by share.
ALTER TABLE workos_migrate.counts SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
-- The oldest pending change, without reading every outbox row.
CREATE INDEX IF NOT EXISTS outbox_pending_age_idx ON workos_migrate.outbox (enqueued_at) WHERE NOT dead;

CREATE TABLE IF NOT EXISTS workos_migrate.settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One coalescing upsert for every capture path (trigger, enqueueUserSync). A new change bumps the
-- version (so an in-flight sync of the old state does not complete the row), raises a backfill row to
-- live priority, revives a dead row, and keeps the password bit sticky.
CREATE OR REPLACE FUNCTION workos_migrate.enqueue(p_user_id text, p_password_changed boolean, p_deleted boolean, p_workos_user_id text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  INSERT INTO workos_migrate.outbox AS o (user_id, password_changed, deleted, workos_user_id)
  VALUES (p_user_id, p_password_changed, p_deleted, p_workos_user_id)
  ON CONFLICT (user_id) DO UPDATE SET
    version = o.version + 1,
    priority = 0,
    password_changed = o.password_changed OR EXCLUDED.password_changed,
    deleted = EXCLUDED.deleted,
    -- A delete still pending when a row with the same id comes back: the old WorkOS user goes, a new one is made.
    replaced = o.replaced OR (o.deleted AND NOT EXCLUDED.deleted),
    workos_user_id = COALESCE(EXCLUDED.workos_user_id, o.workos_user_id),
    held = o.held AND (EXCLUDED.deleted OR o.deleted OR o.replaced),
    attempts = CASE WHEN o.dead THEN 0 ELSE o.attempts END,
    -- A row kept only for the last re-check after an unanswered write is due now for a new change
    -- (stray_until stays, so the last re-check still comes); a retry's backoff is kept.
    next_attempt_at = CASE WHEN o.dead OR o.priority > 0
        OR (o.stray_until IS NOT NULL AND o.next_attempt_at >= o.stray_until AND NOT o.uncertain)
      THEN now() ELSE o.next_attempt_at END,
    dead = false,
    dead_reason = NULL,
    updated_at = now();
$fn$;
REVOKE ALL ON FUNCTION workos_migrate.enqueue(text, boolean, boolean, text) FROM PUBLIC;

-- login()'s legacy attempt limit, one count shared by every app instance: per email key (an HMAC of the
-- normalised email, never the email itself), the times of the attempts inside the window.
CREATE TABLE IF NOT EXISTS workos_migrate.login_attempts (
  email_key text PRIMARY KEY,
  attempted_at timestamptz[] NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_expires_idx ON workos_migrate.login_attempts (expires_at);

-- Counts one attempt unless p_limit of them already fall in the last p_window_ms, and answers whether it
-- counted. A sliding window (as WorkOS's per-minute limit and the old in-process one): a fixed window
-- would let 2 x p_limit through across a window boundary. A refused attempt is not recorded (a guesser
-- gets p_limit tries per window, never more; the user gets in once it passes). The row lock serialises
-- the instances' attempts on one email. Each call also removes up to two rows whose window is over, so
-- the table holds about the emails tried in the last window, with or without a worker running.
CREATE OR REPLACE FUNCTION workos_migrate.take_login_attempt(p_email_key text, p_limit integer, p_window_ms bigint)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_now timestamptz := clock_timestamp();
  v_since timestamptz := v_now - p_window_ms * interval '1 millisecond';
  v_counted boolean;
BEGIN
  DELETE FROM workos_migrate.login_attempts WHERE email_key IN (
    SELECT email_key FROM workos_migrate.login_attempts WHERE expires_at < v_now
    ORDER BY expires_at LIMIT 2 FOR UPDATE SKIP LOCKED);
  INSERT INTO workos_migrate.login_attempts AS a (email_key, attempted_at, expires_at)
    VALUES (p_email_key, ARRAY[v_now], v_now + p_window_ms * interval '1 millisecond')
  ON CONFLICT (email_key) DO UPDATE SET
    attempted_at = ARRAY(SELECT t FROM unnest(a.attempted_at) t WHERE t > v_since) || v_now,
    expires_at = GREATEST(a.expires_at, EXCLUDED.expires_at)
  WHERE cardinality(ARRAY(SELECT t FROM unnest(a.attempted_at) t WHERE t > v_since)) < p_limit
  RETURNING true INTO v_counted;
  RETURN coalesce(v_counted, false);
END
$fn$;
REVOKE ALL ON FUNCTION workos_migrate.take_login_attempt(text, integer, bigint) FROM PUBLIC;`;
}

/** Every mirrored column of the users table, as `OLD."x"` / `NEW."x"` lists for a row comparison. */
function mirroredColumns(mapping: UsersMapping): string[] {
  const { columns } = mapping;
  return [
    columns.email,
    columns.firstName,
    columns.lastName,
    columns.emailVerified,
    columns.passwordHash,
    columns.passwordHashType,
    columns.disabled,
    ...Object.values(mapping.metadataColumns),
  ].filter((name): name is string => typeof name === 'string');
}

function row(prefix: 'OLD' | 'NEW', names: string[]): string {
  return `ROW(${names.map((name) => `${prefix}.${quoteIdent(name)}`).join(', ')})`;
}

/**
 * Capture functions run as the installing role (the table owner), not as the writer: an app role
 * allowed to write the users table needs no grant on workos_migrate. A fixed search_path (every
 * reference in the bodies is schema-qualified) keeps a writer's own schemas out of them.
 */
const DEFINER = 'SECURITY DEFINER SET search_path = pg_catalog, pg_temp';

/** Nobody calls a trigger function directly; EXECUTE is checked only when a trigger is created. */
function revokeSql(name: string): string {
  return `REVOKE ALL ON FUNCTION workos_migrate.${name}() FROM PUBLIC;`;
}

/** The capture functions and triggers for one mapping (no tables). */
export function captureSql(mapping: UsersMapping): string {
  const { columns, users } = mapping;
  const id = quoteIdent(columns.id);
  const workosId = quoteIdent(columns.workosUserId);
  const mirrored = mirroredColumns(mapping);
  const hashColumns = [columns.passwordHash, columns.passwordHashType].filter(
    (name): name is string => !!name,
  );
  const passwordChanged =
    hashColumns.length > 0
      ? `${row('OLD', hashColumns)} IS DISTINCT FROM ${row('NEW', hashColumns)}`
      : 'false';
  let body = `CREATE OR REPLACE FUNCTION workos_migrate.capture_user_change() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM workos_migrate.enqueue(OLD.${id}::text, false, true, OLD.${workosId});
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.${id} IS DISTINCT FROM NEW.${id} THEN
      PERFORM workos_migrate.enqueue(OLD.${id}::text, false, true, OLD.${workosId});
      PERFORM workos_migrate.enqueue(NEW.${id}::text, true, false, NULL);
      RETURN NEW;
    END IF;
    -- Writing back workos_user_id (or any unmirrored column) is not a change to mirror.
    IF ${row('OLD', mirrored)} IS NOT DISTINCT FROM ${row('NEW', mirrored)} THEN
      RETURN NEW;
    END IF;
    PERFORM workos_migrate.enqueue(NEW.${id}::text, ${passwordChanged}, false, NULL);
    RETURN NEW;
  END IF;
  PERFORM workos_migrate.enqueue(NEW.${id}::text, true, false, NULL);
  RETURN NEW;
END
$fn$;
${revokeSql('capture_user_change')}

-- TRUNCATE fires no row triggers: record it, and turn every synced user into a pending delete, which
-- the mass-delete threshold then holds for an operator.
CREATE OR REPLACE FUNCTION workos_migrate.capture_users_truncate() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  INSERT INTO workos_migrate.settings (key, value) VALUES ('last_truncate_at', to_jsonb(now()))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
  PERFORM workos_migrate.enqueue(s.user_id, false, true, s.workos_user_id) FROM workos_migrate.sync_state s;
  RETURN NULL;
END
$fn$;
${revokeSql('capture_users_truncate')}

DROP TRIGGER IF EXISTS workos_migrate_capture ON ${users.qualified};
CREATE TRIGGER workos_migrate_capture AFTER INSERT OR UPDATE OR DELETE ON ${users.qualified}
  FOR EACH ROW EXECUTE FUNCTION workos_migrate.capture_user_change();
DROP TRIGGER IF EXISTS workos_migrate_capture_truncate ON ${users.qualified};
CREATE TRIGGER workos_migrate_capture_truncate AFTER TRUNCATE ON ${users.qualified}
  FOR EACH STATEMENT EXECUTE FUNCTION workos_migrate.capture_users_truncate();`;
  if (mapping.credentials) {
    const c = mapping.credentials;
    const userId = quoteIdent(c.userId);
    const hash = quoteIdent(c.passwordHash);
    body += `

CREATE OR REPLACE FUNCTION workos_migrate.capture_credential_change() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM workos_migrate.enqueue(OLD.${userId}::text, true, false, NULL)
      WHERE EXISTS (SELECT 1 FROM ${users.qualified} u WHERE u.${id}::text = OLD.${userId}::text);
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.${hash} IS NOT DISTINCT FROM NEW.${hash} AND OLD.${userId} IS NOT DISTINCT FROM NEW.${userId} THEN
    RETURN NEW;
  END IF;
  PERFORM workos_migrate.enqueue(NEW.${userId}::text, true, false, NULL);
  RETURN NEW;
END
$fn$;
${revokeSql('capture_credential_change')}

DROP TRIGGER IF EXISTS workos_migrate_capture_credentials ON ${c.table.qualified};
CREATE TRIGGER workos_migrate_capture_credentials AFTER INSERT OR UPDATE OR DELETE ON ${c.table.qualified}
  FOR EACH ROW EXECUTE FUNCTION workos_migrate.capture_credential_change();`;
  }
  body += countsSql(mapping);
  return `${body}

COMMENT ON FUNCTION workos_migrate.capture_user_change() IS '${captureFingerprint(mapping, body)}';`;
}

/**
 * The library tables whose rows status() counts, each with the call that says what one row counts
 * towards (columns, not the whole row: a transition table's row is a plain record).
 */
const COUNTED_TABLES = {
  outbox: (r: string) =>
    `workos_migrate.outbox_counters(${r}.dead, ${r}.held, ${r}.priority, ${r}.dead_reason)`,
  sync_state: (r: string) => `workos_migrate.sync_state_counters(${r}.password_state, ${r}.hash_format)`,
} as const;

/**
 * Row triggers: the library's own writes are one row per statement (a capture's enqueue, a claim, a
 * completion), and for those a statement trigger's transition table cost as much as the whole capture
 * (0.05 ms of a 0.3 ms app write); a row trigger without one costs next to nothing. An UPDATE's WHEN
 * compares the row's counters before and after, so the updates that leave them alone (a claim, a retry,
 * a lease, most syncs, a capture of a change to a pending row) call nothing.
 */
function countTriggerSql(table: keyof typeof COUNTED_TABLES): string {
  const counters = COUNTED_TABLES[table];
  return `CREATE OR REPLACE FUNCTION workos_migrate.count_${table}() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO workos_migrate.counts (counter, delta) SELECT c, 1 FROM unnest(${counters('NEW')}) c;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO workos_migrate.counts (counter, delta) SELECT c, -1 FROM unnest(${counters('OLD')}) c;
  ELSE
    INSERT INTO workos_migrate.counts (counter, delta)
      SELECT c, sum(d) FROM (
        SELECT c, 1 AS d FROM unnest(${counters('NEW')}) c
        UNION ALL SELECT c, -1 FROM unnest(${counters('OLD')}) c) x
      GROUP BY c HAVING sum(d) <> 0;
  END IF;
  RETURN NULL;
END
$fn$;
${revokeSql(`count_${table}`)}
DROP TRIGGER IF EXISTS workos_migrate_count_insert ON workos_migrate.${table};
CREATE TRIGGER workos_migrate_count_insert AFTER INSERT ON workos_migrate.${table}
  FOR EACH ROW EXECUTE FUNCTION workos_migrate.count_${table}();
DROP TRIGGER IF EXISTS workos_migrate_count_update ON workos_migrate.${table};
CREATE TRIGGER workos_migrate_count_update AFTER UPDATE ON workos_migrate.${table} FOR EACH ROW
  WHEN (${counters('OLD')} IS DISTINCT FROM ${counters('NEW')})
  EXECUTE FUNCTION workos_migrate.count_${table}();
DROP TRIGGER IF EXISTS workos_migrate_count_delete ON workos_migrate.${table};
CREATE TRIGGER workos_migrate_count_delete AFTER DELETE ON workos_migrate.${table}
  FOR EACH ROW EXECUTE FUNCTION workos_migrate.count_${table}();
DROP TRIGGER IF EXISTS workos_migrate_count_truncate ON workos_migrate.${table};
CREATE TRIGGER workos_migrate_count_truncate AFTER TRUNCATE ON workos_migrate.${table}
  FOR EACH STATEMENT EXECUTE FUNCTION workos_migrate.zero_counts('${table}');`;
}

/**
 * status()'s counts, kept transactionally (see the counts table): triggers on the users table and on
 * the counted library tables, and a reseed from exact count(*)s. The
 * reseed runs after every trigger here is (re)created: CREATE TRIGGER holds a lock that blocks every
 * writer of its table until the install commits, so no write lands between the count and the triggers.
 */
function countsSql(mapping: UsersMapping): string {
  const { users } = mapping;
  return `

-- What one library row counts towards in status(): the one definition the count triggers and the reseed use.
-- Pure (no table read), and callable by every writer: the update triggers' WHEN runs as the writer.
CREATE OR REPLACE FUNCTION workos_migrate.sync_state_counters(password_state text, hash_format text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT ARRAY['sync_state', 'sync_state.password.' || password_state]
    || CASE WHEN hash_format IS NULL THEN '{}'::text[] ELSE ARRAY['sync_state.format.' || hash_format] END;
$fn$;
CREATE OR REPLACE FUNCTION workos_migrate.outbox_counters(dead boolean, held boolean, priority smallint, dead_reason text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT ARRAY[CASE WHEN dead THEN 'outbox.dead.' || coalesce(dead_reason, 'unknown')
    WHEN held THEN 'outbox.held' WHEN priority = 0 THEN 'outbox.live' ELSE 'outbox.backfill' END];
$fn$;

CREATE OR REPLACE FUNCTION workos_migrate.count_users() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO workos_migrate.counts (counter, delta) SELECT 'users', count(*) FROM new_rows HAVING count(*) > 0;
  ELSE
    INSERT INTO workos_migrate.counts (counter, delta) SELECT 'users', -count(*) FROM old_rows HAVING count(*) > 0;
  END IF;
  RETURN NULL;
END
$fn$;
${revokeSql('count_users')}

-- A TRUNCATE (which fires no row or statement DELETE trigger) sets its table's counters back to zero.
-- It holds an ACCESS EXCLUSIVE lock, so no writer of that table adds a delta meanwhile.
CREATE OR REPLACE FUNCTION workos_migrate.zero_counts() RETURNS trigger
LANGUAGE plpgsql ${DEFINER} AS $fn$
BEGIN
  INSERT INTO workos_migrate.counts (counter, delta)
    SELECT counter, -sum(delta) FROM workos_migrate.counts
    WHERE counter = TG_ARGV[0] OR starts_with(counter, TG_ARGV[0] || '.')
    GROUP BY counter HAVING sum(delta) <> 0;
  RETURN NULL;
END
$fn$;
${revokeSql('zero_counts')}

-- Compacts the deltas into one row per counter; the leader calls it, and status() when rows pile up.
-- One folder at a time, and never during an install's reseed (the install's lock key). Concurrent
-- writers' deltas committed after the DELETE's snapshot stay as they are.
CREATE OR REPLACE FUNCTION workos_migrate.fold_counts() RETURNS bigint
LANGUAGE plpgsql ${DEFINER} AS $fn$
DECLARE folded bigint := 0;
BEGIN
  -- Nothing to fold (one row per counter): a read, so an idle leader writes no WAL here.
  IF NOT EXISTS (SELECT 1 FROM workos_migrate.counts GROUP BY counter HAVING count(*) > 1) THEN
    RETURN 0;
  END IF;
  IF pg_try_advisory_xact_lock(hashtext('${LOCK_KEY}')) THEN
    WITH gone AS (DELETE FROM workos_migrate.counts RETURNING counter, delta),
      kept AS (INSERT INTO workos_migrate.counts (counter, delta)
        SELECT counter, sum(delta) FROM gone GROUP BY counter HAVING sum(delta) <> 0)
    SELECT count(*) INTO folded FROM gone;
  END IF;
  RETURN folded;
END
$fn$;
${revokeSql('fold_counts')}

DROP TRIGGER IF EXISTS workos_migrate_capture_count_insert ON ${users.qualified};
CREATE TRIGGER workos_migrate_capture_count_insert AFTER INSERT ON ${users.qualified}
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION workos_migrate.count_users();
DROP TRIGGER IF EXISTS workos_migrate_capture_count_delete ON ${users.qualified};
CREATE TRIGGER workos_migrate_capture_count_delete AFTER DELETE ON ${users.qualified}
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION workos_migrate.count_users();
DROP TRIGGER IF EXISTS workos_migrate_capture_count_truncate ON ${users.qualified};
CREATE TRIGGER workos_migrate_capture_count_truncate AFTER TRUNCATE ON ${users.qualified}
  FOR EACH STATEMENT EXECUTE FUNCTION workos_migrate.zero_counts('users');
${countTriggerSql('outbox')}
${countTriggerSql('sync_state')}

DELETE FROM workos_migrate.counts;
INSERT INTO workos_migrate.counts (counter, delta)
  SELECT 'users', count(*) FROM ${users.qualified}
  UNION ALL SELECT c, count(*) FROM workos_migrate.sync_state r, unnest(${COUNTED_TABLES.sync_state('r')}) c GROUP BY c
  UNION ALL SELECT c, count(*) FROM workos_migrate.outbox r, unnest(${COUNTED_TABLES.outbox('r')}) c GROUP BY c;`;
}

/** `workos-migrate capture v<version> <digest of the generated SQL>`: what `checkInstalled` compares. */
function captureFingerprint(mapping: UsersMapping, body?: string): string {
  const text = body ?? captureSql(mapping).replace(/\n\nCOMMENT ON FUNCTION[\s\S]*$/, '');
  // The library's tables and functions too: an install that lacks one this version calls is stale.
  const digest = createHash('sha256').update(tablesSql()).update(text).digest('hex');
  return `workos-migrate capture v${CAPTURE_VERSION} ${digest.slice(0, 16)}`;
}

export function expectedFingerprint(mapping: UsersMapping): string {
  return captureFingerprint(mapping);
}

/** The triggers a mapping installs, as (trigger name, schema, table). */
function captureTriggers(mapping: UsersMapping): [string, string, string][] {
  const { users } = mapping;
  const triggers: [string, string, string][] = [
    ['workos_migrate_capture', users.schema, users.name],
    ['workos_migrate_capture_truncate', users.schema, users.name],
    ['workos_migrate_capture_count_insert', users.schema, users.name],
    ['workos_migrate_capture_count_delete', users.schema, users.name],
    ['workos_migrate_capture_count_truncate', users.schema, users.name],
  ];
  if (mapping.credentials) {
    const table = mapping.credentials.table;
    triggers.push(['workos_migrate_capture_credentials', table.schema, table.name]);
  }
  return triggers;
}

/** SQLSTATE of the refusal below (object_not_in_prerequisite_state). */
const OTHER_MAPPING_STATE = '55000';

/**
 * One mapping per database: the outbox and sync_state are keyed by user id alone, so a second users
 * table would share ids with the first, and its capture functions would replace the first table's.
 * Installing over a capture trigger this mapping would not place is refused, in the printed migration
 * too, before anything changes.
 */
function oneMappingSql(mapping: UsersMapping): string {
  const expected = captureTriggers(mapping)
    .map((trigger) => `(${trigger.map(quoteLiteral).join(', ')})`)
    .join(', ');
  return `DO $fn$
DECLARE other text;
BEGIN
  SELECT string_agg(DISTINCT format('%I.%I', n.nspname, c.relname), ', ') INTO other
    FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE t.tgname LIKE 'workos_migrate_capture%' AND NOT t.tgisinternal
      AND (t.tgname::text, n.nspname::text, c.relname::text) NOT IN (VALUES ${expected});
  IF other IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '${OTHER_MAPPING_STATE}',
      MESSAGE = format('workos-migrate: this database already mirrors another mapping (capture trigger on %s); one users mapping per database: run workos-migrate uninstall with that mapping''s config first (it keeps workos_user_id and your data), then install this one', other);
  END IF;
END
$fn$;`;
}

/** The users table's new column, without its unique index (built separately, concurrently). */
function columnSql(mapping: UsersMapping): string {
  return `ALTER TABLE ${mapping.users.qualified} ADD COLUMN IF NOT EXISTS ${quoteIdent(mapping.columns.workosUserId)} text;`;
}

/**
 * The unique constraint on workos_user_id carries drizzle-kit's name for `workosUserId()` (a `.unique()`
 * column: `<table>_<column>_unique`), so a drizzle-kit migration and `install` make the same object and
 * `drizzle-kit push` sees nothing to change.
 */
function indexName(mapping: UsersMapping): string {
  return `${mapping.users.name}_${mapping.columns.workosUserId}_unique`.slice(0, 63);
}

function indexSql(mapping: UsersMapping): string {
  return `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(indexName(mapping))} ON ${mapping.users.qualified} (${quoteIdent(mapping.columns.workosUserId)});`;
}

/** Whether any valid unique index (a drizzle-kit constraint, an older install's) covers exactly workos_user_id. */
function uniqueOnColumnSql(mapping: UsersMapping): string {
  return `EXISTS (SELECT 1 FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = ${quoteLiteral(mapping.users.qualified)}::regclass AND i.indisunique AND i.indisvalid
        AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL
        AND a.attname = ${quoteLiteral(mapping.columns.workosUserId)})`;
}

/**
 * The unique constraint, unless the column already has a unique index (adopted as it is). `usingIndex`:
 * made from the index `install` just built concurrently; otherwise built here, in the migration's
 * transaction.
 */
function uniqueConstraintSql(mapping: UsersMapping, usingIndex: boolean): string {
  const name = quoteIdent(indexName(mapping));
  const definition = usingIndex
    ? `UNIQUE USING INDEX ${name}`
    : `UNIQUE (${quoteIdent(mapping.columns.workosUserId)})`;
  const adopted = usingIndex
    ? `EXISTS (SELECT 1 FROM pg_catalog.pg_constraint WHERE conname = ${quoteLiteral(indexName(mapping))} AND conrelid = ${quoteLiteral(mapping.users.qualified)}::regclass)`
    : uniqueOnColumnSql(mapping);
  return `DO $fn$
BEGIN
  IF NOT ${adopted} THEN
    ALTER TABLE ${mapping.users.qualified} ADD CONSTRAINT ${name} ${definition};
  END IF;
END
$fn$;`;
}

/** The same name `workosMigrateEmailIndex(table, email)` declares for drizzle-kit. */
function emailIndexName(mapping: UsersMapping): string {
  return `${mapping.users.name}_workos_migrate_email_idx`.slice(0, 63);
}

/** The index that serves login()'s lookup by normalised email (an unauthenticated route). */
function emailIndexSql(mapping: UsersMapping, concurrently: boolean): string {
  return `CREATE INDEX ${concurrently ? 'CONCURRENTLY ' : ''}IF NOT EXISTS ${quoteIdent(emailIndexName(mapping))} ON ${mapping.users.qualified} (${emailLookupSql(quoteIdent(mapping.columns.email))});`;
}

/**
 * Everything `install` applies, as one script for a drizzle-kit custom migration (which runs in a
 * transaction, so the unique index is built non-concurrently here).
 */
export function installSql(mapping: UsersMapping): string {
  const statements = [
    `SET LOCAL lock_timeout = '5s'`,
    `SELECT pg_advisory_xact_lock(hashtext('${LOCK_KEY}'))`,
    ...splitStatements(oneMappingSql(mapping)),
    ...splitStatements(columnSql(mapping)),
    ...splitStatements(uniqueConstraintSql(mapping, false)),
    ...splitStatements(emailIndexSql(mapping, false)),
    ...splitStatements(tablesSql()),
    ...splitStatements(captureSql(mapping)),
  ];
  // drizzle-kit custom migrations separate statements with this marker; psql reads it as a comment.
  return `-- workos-migrate install (capture v${CAPTURE_VERSION})\n${statements.map((statement) => `${statement};`).join('\n--> statement-breakpoint\n')}\n`;
}

export function uninstallSql(mapping?: UsersMapping): string {
  const triggers = mapping
    ? `DROP INDEX IF EXISTS ${quoteIdent(mapping.users.schema)}.${quoteIdent(emailIndexName(mapping))};
${captureTriggers(mapping)
  .map(
    ([name, schema, table]) =>
      `DROP TRIGGER IF EXISTS ${name} ON ${quoteIdent(schema)}.${quoteIdent(table)};\n`,
  )
  .join('')}`
    : '';
  // CASCADE drops the triggers that call the schema's functions; workos_user_id stays on the users table.
  return `${triggers}DROP SCHEMA IF EXISTS workos_migrate CASCADE;
`;
}

async function indexValidity(
  db: DrizzleTransaction,
  mapping: UsersMapping,
  name: string,
): Promise<boolean | null> {
  const rows = await query<{ valid: boolean }>(
    db,
    sql`SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relname = ${name} AND n.nspname = ${mapping.users.schema}`,
  );
  return rows[0] ? rows[0].valid : null;
}

/**
 * Builds an index (the unique one on workos_user_id, the email lookup one) concurrently (writes go on meanwhile). It cannot run in a transaction, so
 * the advisory lock does not cover it: two processes installing at once can deadlock, and a failed
 * build leaves an invalid index behind. Retry until a valid index exists; an invalid one is dropped
 * only after it stayed invalid across several looks (nobody is still building it).
 */
async function buildIndexConcurrently(
  db: DrizzleDatabase,
  mapping: UsersMapping,
  name: string,
  createSql: string,
): Promise<void> {
  let invalidLooks = 0;
  for (let attempt = 0; attempt < 20; attempt++) {
    const validity = await indexValidity(db, mapping, name);
    if (validity === true) return;
    if (validity === false) {
      invalidLooks += 1;
      if (invalidLooks >= 3) {
        await db.execute(
          sql.raw(`DROP INDEX IF EXISTS ${quoteIdent(mapping.users.schema)}.${quoteIdent(name)}`),
        );
        invalidLooks = 0;
      }
    } else {
      try {
        await run(db, createSql);
        continue;
      } catch (error) {
        const code = sqlState(error);
        // 40P01 deadlock with another installer; 42P07 it created the index first.
        if (code !== '40P01' && code !== '42P07') throw error;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 200 * (attempt + 1)));
  }
  throw new WorkosMigrateError('install_failed', `workos-migrate: could not build the index ${name}`);
}

/**
 * Applies the install: the column, the unique index built concurrently (so writes continue), the
 * library schema and the triggers, under `lock_timeout` and an advisory lock (concurrent installs
 * otherwise fail with "tuple concurrently updated"). Needs ownership of the users table.
 */
export async function install(db: DrizzleDatabase, mapping: UsersMapping): Promise<void> {
  const locked = async (work: (tx: DrizzleTransaction) => Promise<void>) =>
    db.transaction(async (tx) => {
      await tx.execute(sql.raw(`SET LOCAL lock_timeout = '5s'`));
      await tx.execute(sql.raw(`SELECT pg_advisory_xact_lock(hashtext('${LOCK_KEY}'))`));
      await work(tx);
    });
  // Every step is idempotent. A concurrent index build waits for every open transaction, including
  // another installer's, so installs racing each other can deadlock: PostgreSQL aborts one of them
  // and that one starts over.
  for (let attempt = 1; ; attempt++) {
    try {
      await locked(async (tx) => {
        await run(tx, oneMappingSql(mapping));
        await run(tx, columnSql(mapping));
        // Before any index or trigger names a mapped column: a casing mismatch is said as such.
        await checkColumns(tx, mapping);
      });
      const [unique] = await query<{ present: boolean }>(
        db,
        sql.raw(`SELECT ${uniqueOnColumnSql(mapping)} AS present`),
      );
      if (!unique?.present) {
        await buildIndexConcurrently(db, mapping, indexName(mapping), indexSql(mapping));
        await locked((tx) => run(tx, uniqueConstraintSql(mapping, true)));
      }
      await buildIndexConcurrently(db, mapping, emailIndexName(mapping), emailIndexSql(mapping, true));
      await locked(async (tx) => {
        await run(tx, oneMappingSql(mapping));
        await run(tx, tablesSql());
        await run(tx, captureSql(mapping));
      });
      break;
    } catch (error) {
      const code = sqlState(error);
      if (code === OTHER_MAPPING_STATE) {
        throw new WorkosMigrateError('other_mapping_installed', databaseMessage(error));
      }
      // 40P01 deadlock, 55P03 lock_timeout, XX000 "tuple concurrently updated" on catalog rows.
      if (attempt >= 8 || (code !== '40P01' && code !== '55P03' && code !== 'XX000')) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 300 * attempt));
    }
  }
}

function sqlState(error: unknown): string | undefined {
  const shaped = error as { code?: string; sqlState?: string; cause?: { code?: string } };
  return shaped.sqlState ?? shaped.cause?.code ?? shaped.code;
}

/** The mapped column names must exist: catches a Drizzle `casing` mismatch at install time. */
export async function checkColumns(db: DrizzleTransaction, mapping: UsersMapping): Promise<void> {
  const check = async (table: { schema: string; name: string }, names: string[], option: string) => {
    const rows = await query<{ column_name: string }>(
      db,
      sql`SELECT column_name FROM information_schema.columns WHERE table_schema = ${table.schema} AND table_name = ${table.name}`,
    );
    const present = new Set(rows.map((r) => r.column_name));
    const missing = names.filter((name) => !present.has(name));
    if (missing.length > 0) {
      throw new WorkosMigrateError(
        'column_missing',
        `workos-migrate: ${option} maps column(s) ${missing.join(', ')} that ${table.schema}.${table.name} does not have; if your drizzle() call sets casing, set the same casing in defineUsersMapping`,
      );
    }
  };
  const { columns } = mapping;
  await check(mapping.users, [...mirroredColumns(mapping), columns.id, columns.workosUserId], 'users');
  if (mapping.credentials) {
    const c = mapping.credentials;
    await check(c.table, [c.userId, c.passwordHash], 'users.credentials');
  }
}

/** What is installed: missing, stale (another mapping or version), or current. */
export async function installedState(
  db: DrizzleTransaction,
  mapping: UsersMapping,
): Promise<{ state: 'missing' | 'stale' | 'current'; detail: string }> {
  const rows = await query<{ comment: string | null; triggers: number }>(
    db,
    sql`SELECT obj_description(p.oid, 'pg_proc') AS comment,
          (SELECT count(*)::int FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE t.tgname = 'workos_migrate_capture' AND c.relname = ${mapping.users.name} AND n.nspname = ${mapping.users.schema}) AS triggers
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'workos_migrate' AND p.proname = 'capture_user_change'`,
  );
  const found = rows[0];
  if (!found) return { state: 'missing', detail: 'the workos_migrate capture trigger is not installed' };
  if (found.triggers === 0) {
    return {
      state: 'missing',
      detail: `no capture trigger on ${mapping.users.schema}.${mapping.users.name}`,
    };
  }
  const expected = expectedFingerprint(mapping);
  if (found.comment !== expected) {
    return {
      state: 'stale',
      detail: `the installed capture trigger (${found.comment ?? 'unlabelled'}) does not match this mapping (${expected})`,
    };
  }
  return { state: 'current', detail: expected };
}

/**
 * For apps whose database role cannot own a trigger: call inside the same transaction as the user
 * write, so the outbox row commits or rolls back with it.
 */
export async function enqueueUserSync(
  tx: DrizzleTransaction,
  userId: string | number,
  options: { passwordChanged?: boolean; deleted?: boolean; workosUserId?: string | null } = {},
): Promise<void> {
  await tx.execute(
    sql`SELECT workos_migrate.enqueue(${String(userId)}, ${options.passwordChanged ?? false}, ${options.deleted ?? false}, ${options.workosUserId ?? null})`,
  );
}
