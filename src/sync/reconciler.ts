import type { User, WorkOS } from '@workos-inc/node';
import { type SQL, sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { type DrizzleTransaction, query } from '../core/db.js';
import { normaliseEmail } from '../core/email.js';
import type { ReasonCode } from '../core/errors.js';
import { quoteIdent } from '../core/mapping.js';
import { toWorkOS } from '../hashes/index.js';
import { classifyWorkosError, WorkosCallError } from '../workos/client.js';
import { idEquals, type LocalUser, loadLocalUser, localIdOf, localUserSelect } from './local-user.js';
import {
  type ClaimedRow,
  deletesInWindow,
  finishRowSql,
  recordAppliedDelete,
  recordCreateIntent,
  verifyRowSql,
} from './outbox.js';

const EXTERNAL_ID_MAX = 64;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export type PasswordState = 'synced' | 'no_local_password' | 'login' | 'reset' | 'none';

export interface SyncStateRow {
  userId: string;
  workosUserId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  emailVerified: boolean;
  metadata: Record<string, string>;
  passwordState: PasswordState;
  passwordReason: string | null;
  resetSentAt: string | null;
}

/** What one pass over a row ended in; the worker turns it into SQL. */
export type Outcome =
  | { kind: 'done'; passwordSent: boolean; writes: number }
  | { kind: 'dead'; reason: ReasonCode; detail: string }
  | { kind: 'retry'; reason: string; detail: string; error?: WorkosCallError }
  | { kind: 'hold_deletes' };

/** The worker may not spend the rate budget now (lost the leader lease, stopping): give the row back. */
export class CallRefused extends Error {}

/** A permanent problem with one user: dead-lettered with its reason, never retried blindly. */
class Dead extends Error {
  constructor(
    readonly reason: ReasonCode,
    detail: string,
  ) {
    super(detail);
  }
}

/** A passing condition (another local user mid-change): retried, not dead. */
class Wait extends Error {
  constructor(
    readonly reason: string,
    detail: string,
  ) {
    super(detail);
  }
}

interface Conversion {
  hash?: { passwordHash: string; passwordHashType: string };
  state: PasswordState;
  reason: string | null;
}

export interface ReconcilerDeps {
  config: ResolvedConfig;
  workos: WorkOS;
  /** The pinned WorkOS environment, recorded in sync_state. */
  environment: string;
  /** Runs one WorkOS call through the rate limiter (and counts it). */
  call<T>(write: boolean, fn: () => Promise<T>): Promise<T>;
}

/**
 * Level-triggered sync of one user: reads the CURRENT local row and what was last sent, finds the
 * WorkOS user by stored id, then external_id, then email (with the identity guards), and sends only
 * what differs. Every step is safe to repeat, so a retry after any failure converges.
 */
export class Reconciler {
  private readonly select: string;
  private readonly externalIdPrefix: string;

  constructor(private readonly deps: ReconcilerDeps) {
    this.select = localUserSelect(deps.config.users);
    this.externalIdPrefix = deps.config.externalIdPrefix;
  }

  externalIdFor(userId: string): string {
    return `${this.externalIdPrefix}${userId}`;
  }

  async run(row: ClaimedRow): Promise<{
    outcome: Outcome;
    local: LocalUser | null;
    state: SyncStateRow | null;
    next?: SyncStateRow;
    remoteId?: string;
  }> {
    const db = this.deps.config.db;
    // Two independent reads: in parallel, one round trip of latency instead of two.
    const [local, state] = await Promise.all([
      loadLocalUser(db, this.deps.config.users, this.select, row.userId),
      loadSyncState(db, row.userId),
    ]);
    try {
      if (!local) return { ...(await this.remove(row, state)), local, state };
      const result = await this.upsert(row, local, state);
      return {
        outcome: { kind: 'done', passwordSent: result.passwordSent, writes: result.writes },
        local,
        state,
        next: result.next,
        remoteId: result.next.workosUserId,
      };
    } catch (error) {
      if (error instanceof CallRefused) throw error;
      if (error instanceof Dead)
        return { outcome: { kind: 'dead', reason: error.reason, detail: error.message }, local, state };
      if (error instanceof Wait)
        return { outcome: { kind: 'retry', reason: error.reason, detail: error.message }, local, state };
      // Every WorkOS call goes through deps.call, which throws WorkosCallError; anything else is a
      // bug or a database failure and goes up to the worker.
      if (!(error instanceof WorkosCallError)) throw error;
      const failure = error;
      if (failure.transient || failure.kind === 'auth') {
        return {
          outcome: { kind: 'retry', reason: failure.kind, detail: failure.message, error: failure },
          local,
          state,
        };
      }
      return {
        outcome: { kind: 'dead', reason: 'workos_rejected', detail: failure.message },
        local,
        state,
      };
    }
  }

  private async remove(row: ClaimedRow, state: SyncStateRow | null): Promise<{ outcome: Outcome }> {
    const db = this.deps.config.db;
    if (!row.deleteConfirmed) {
      if ((await deletesInWindow(db, this.deps.config.deleteWindowMs)) > this.deps.config.deleteThreshold)
        return { outcome: { kind: 'hold_deletes' } };
    }
    const externalId = this.externalIdFor(row.userId);
    let target: User | null = null;
    const knownId = state?.workosUserId ?? row.workosUserId;
    if (knownId) target = await this.getUser(knownId);
    if (!target) target = await this.getByExternalId(externalId);
    if (target) {
      // Only ever delete a WorkOS user that carries our external id.
      if (target.externalId !== externalId) {
        throw new Dead(
          'not_ours',
          `WorkOS user ${target.id} does not carry external_id ${externalId}; not deleted`,
        );
      }
      try {
        await this.deps.call(true, () => this.deps.workos.userManagement.deleteUser(target.id));
        if (!row.deleteConfirmed) await recordAppliedDelete(db, row.userId, this.deps.config.deleteWindowMs);
      } catch (error) {
        if (classifyWorkosError(error).kind !== 'not_found') throw error;
      }
    }
    await db.execute(
      sql`DELETE FROM workos_migrate.sync_state WHERE user_id = ${row.userId} AND ${leaseHeld(row)}`,
    );
    return { outcome: { kind: 'done', passwordSent: false, writes: target ? 1 : 0 } };
  }

  private validate(local: LocalUser): string {
    const email = local.email?.trim() ?? '';
    if (!email)
      throw new Dead('missing_email', `local user ${local.id} has no email; add one, then run retry`);
    if (!EMAIL_PATTERN.test(email)) {
      throw new Dead(
        'invalid_email',
        `local user ${local.id} has an email WorkOS will not accept; fix it, then run retry`,
      );
    }
    if (this.externalIdFor(local.id).length > EXTERNAL_ID_MAX) {
      throw new Dead(
        'external_id_too_long',
        `external_id for local user ${local.id} is longer than ${EXTERNAL_ID_MAX} characters; shorten externalIdPrefix`,
      );
    }
    return email;
  }

  private convert(local: LocalUser): Conversion {
    if (!local.passwordHash) return { state: 'no_local_password', reason: null };
    // A per-row type column can only sharpen how a bare hex digest is read; the string decides the rest.
    const type = local.passwordHashType?.toLowerCase();
    const bareHexFormat =
      type === 'md5' || type === 'sha1' || type === 'sha256' || type === 'sha512' ? type : undefined;
    const result = toWorkOS(local.passwordHash, {
      ...this.deps.config.users.hashOptions,
      ...(bareHexFormat ? { bareHexFormat } : {}),
    });
    if (result.ok) {
      return {
        hash: { passwordHash: result.passwordHash, passwordHashType: result.passwordHashType },
        state: 'synced',
        reason: null,
      };
    }
    // An empty value or a framework's "unusable password" marker: there is no password to move.
    if (result.code === 'empty' || result.code === 'unusable_password')
      return { state: 'no_local_password', reason: null };
    return { state: this.deps.config.passwordFallback, reason: `${result.code}: ${result.reason}` };
  }

  private async getUser(id: string): Promise<User | null> {
    try {
      return await this.deps.call(false, () => this.deps.workos.userManagement.getUser(id));
    } catch (error) {
      if (classifyWorkosError(error).kind === 'not_found') return null;
      throw error;
    }
  }

  private async getByExternalId(externalId: string): Promise<User | null> {
    try {
      return await this.deps.call(false, () =>
        this.deps.workos.userManagement.getUserByExternalId(externalId),
      );
    } catch (error) {
      if (classifyWorkosError(error).kind === 'not_found') return null;
      throw error;
    }
  }

  private async findByEmail(email: string): Promise<User | null> {
    const list = await this.deps.call(false, () =>
      this.deps.workos.userManagement.listUsers({ email, limit: 1 }),
    );
    return list.data[0] ?? null;
  }

  /** Another local user holds this email in WorkOS: mid-change (transient) or not ours (dead). */
  private async emailHolder(email: string, selfExternalId: string): Promise<never> {
    const holder = await this.findByEmail(email);
    const { db, users } = this.deps.config;
    const otherId =
      holder?.externalId && holder.externalId !== selfExternalId
        ? await localIdOf(db, users, this.externalIdPrefix, holder.externalId)
        : null;
    if (otherId !== null) {
      const other = await loadLocalUser(this.deps.config.db, this.deps.config.users, this.select, otherId);
      // The other local user still exists (and will move off this email) or was deleted (and its
      // delete is pending): either way the conflict passes once that user's own sync runs.
      if (!other || normaliseEmail(other.email ?? '') !== normaliseEmail(email)) {
        throw new Wait(
          'waiting_on_user',
          `email is still held in WorkOS by local user ${otherId}, whose change is pending`,
        );
      }
    }
    if (!holder) throw new Wait('waiting_on_user', 'WorkOS reported the email taken but no holder was found');
    throw new Dead(
      'email_owned_elsewhere',
      `WorkOS user ${holder.id} already has this email and is not this local user; link or remove it, then run retry`,
    );
  }

  /** Whether a local user other than `selfId` now has `email` (so waits for this user to release it). */
  private async wantedByAnother(email: string, selfId: string): Promise<boolean> {
    const { users, columns } = this.deps.config.users;
    const rows = await query<{ id: string }>(
      this.deps.config.db,
      sql`SELECT ${sql.raw(quoteIdent(columns.id))}::text AS id FROM ${sql.raw(users.qualified)}
          WHERE lower(trim(${sql.raw(quoteIdent(columns.email))})) = ${normaliseEmail(email)}
            AND ${sql.raw(quoteIdent(columns.id))}::text <> ${selfId}
          LIMIT 1`,
    );
    return rows.length > 0;
  }

  /**
   * Moves this user's WorkOS email to a unique, undeliverable placeholder (RFC 2606 `.invalid`) and
   * records that in sync_state, so the next pass sends the real email whatever it is by then.
   */
  private async stepAside(row: ClaimedRow, workosUserId: string): Promise<void> {
    const placeholder = `${workosUserId.toLowerCase()}@email-swap.workos-migrate.invalid`;
    await this.deps.call(true, () =>
      this.deps.workos.userManagement.updateUser({ userId: workosUserId, email: placeholder }),
    );
    await this.deps.config.db.execute(
      sql`UPDATE workos_migrate.sync_state SET email = ${placeholder}
          WHERE user_id = ${row.userId} AND ${leaseHeld(row)}`,
    );
  }

  private async upsert(
    row: ClaimedRow,
    local: LocalUser,
    state: SyncStateRow | null,
  ): Promise<{ next: SyncStateRow; passwordSent: boolean; writes: number }> {
    const email = this.validate(local);
    const externalId = this.externalIdFor(local.id);
    const { config } = this.deps;

    let remote: User | null = null;
    // What WorkOS is believed to hold: sync_state normally, the remote itself after a link or
    // when verifying after an attempt that had no answer.
    let baseline: SyncStateRow | null = state;
    if (state) {
      if (row.verifying || row.uncertain) {
        remote = await this.getUser(state.workosUserId);
        if (!remote)
          throw new Dead(
            'deleted_in_workos',
            `WorkOS user ${state.workosUserId} no longer exists; it is not re-created`,
          );
        baseline = fromRemote(local.id, remote, state);
      }
    } else if (row.attempts > 1 || row.uncertain || row.verifying) {
      // A first attempt creates optimistically: WorkOS keeps external_id and email unique, so a user
      // that already exists answers "taken" and the retry looks it up. Later attempts (an earlier one
      // may have created the user and died before recording it) look up first.
      remote = await this.getByExternalId(externalId);
      if (remote && normaliseEmail(remote.email) !== normaliseEmail(email) && !sentByThisRow(row, remote)) {
        throw new Dead(
          'external_id_conflict',
          `WorkOS user ${remote.id} carries external_id ${externalId} but a different email; check which is right`,
        );
      }
      if (!remote) {
        const byEmail = await this.findByEmail(email);
        // Carrying our own external id, it is ours: an earlier create that had no answer landed just
        // after the lookup by external id. The adoption guard below dead-lettered it as
        // email_owned_elsewhere (seen in the chaos test; test/engine-guards reproduces it).
        if (byEmail && byEmail.externalId === externalId) {
          remote = byEmail;
        } else if (byEmail) {
          if (byEmail.externalId && byEmail.externalId !== externalId)
            await this.emailHolder(email, externalId);
          const adopt =
            config.adoptExisting !== 'never' &&
            !byEmail.externalId &&
            local.emailVerified &&
            (config.adoptExisting === 'verified' || byEmail.lastSignInAt === null);
          if (!adopt) {
            throw new Dead(
              'email_owned_elsewhere',
              `WorkOS user ${byEmail.id} already has this email and cannot be adopted (${
                local.emailVerified ? 'it is in use or linked' : 'the local email is not verified'
              }); link or remove it, then run retry`,
            );
          }
          remote = byEmail;
        }
      }
      if (remote) baseline = fromRemote(local.id, remote, null);
    }

    const conversion = this.convert(local);
    const workosUserId = remote?.id ?? state?.workosUserId;
    if (!workosUserId) return this.create(row, local, email, externalId, conversion);

    // Update: only what differs from the baseline.
    const base = baseline as SyncStateRow;
    const changes: Record<string, unknown> = {};
    if (email !== base.email) changes.email = email;
    if (local.firstName !== base.firstName && local.firstName !== null) changes.firstName = local.firstName;
    if (local.lastName !== base.lastName && local.lastName !== null) changes.lastName = local.lastName;
    // Never from true to false: WorkOS may have verified the email itself.
    if (local.emailVerified && !base.emailVerified) changes.emailVerified = true;
    // After a link by email the WorkOS user does not carry our external id yet.
    if (remote && remote.externalId !== externalId) changes.externalId = externalId;
    const metadataPatch = diffMetadata(base.metadata, local.metadata);
    if (metadataPatch) changes.metadata = metadataPatch;
    const sendPassword = (row.passwordChanged || !state) && conversion.hash !== undefined;
    if (sendPassword && conversion.hash) {
      changes.passwordHash = conversion.hash.passwordHash;
      changes.passwordHashType = conversion.hash.passwordHashType;
    }
    let writes = 0;
    if (Object.keys(changes).length > 0) {
      try {
        await this.deps.call(true, () =>
          this.deps.workos.userManagement.updateUser({ userId: workosUserId, ...changes } as Parameters<
            WorkOS['userManagement']['updateUser']
          >[0]),
        );
        writes = 1;
      } catch (error) {
        // Refused before any request was made (stopping, lost leadership): classifying it turned it
        // into "no answer", so a clean stop() marked rows uncertain and spent an attempt.
        if (error instanceof CallRefused) throw error;
        const failure = classifyWorkosError(error);
        if (failure.kind === 'not_found') {
          throw new Dead(
            'deleted_in_workos',
            `WorkOS user ${workosUserId} no longer exists; it is not re-created`,
          );
        }
        if (failure.kind === 'email_taken') {
          try {
            await this.emailHolder(email, externalId);
          } catch (blocked) {
            // An email swap (A<->B, or a longer rotation) deadlocked here: WorkOS keeps emails unique
            // at every instant, so each side waited on the other until too_many_attempts. When another
            // local user now wants the email this user still holds in WorkOS, step aside to a
            // placeholder so that user can move; the retry then takes the new email.
            if (blocked instanceof Wait && (await this.wantedByAnother(base.email, local.id)))
              await this.stepAside(row, workosUserId);
            throw blocked;
          }
        }
        if (failure.kind === 'invalid_password_hash') {
          throw new Dead(
            'invalid_password_hash',
            'WorkOS refused the converted password hash; see the hash format table',
          );
        }
        throw failure;
      }
    }
    const passwordState: PasswordState = sendPassword
      ? 'synced'
      : row.passwordChanged || !state
        ? conversion.state
        : (state?.passwordState ?? conversion.state);
    const next: SyncStateRow = {
      userId: local.id,
      workosUserId,
      email,
      firstName: local.firstName ?? base.firstName,
      lastName: local.lastName ?? base.lastName,
      emailVerified: base.emailVerified || local.emailVerified,
      metadata: local.metadata,
      passwordState,
      passwordReason: unsyncedReason(passwordState, conversion.reason ?? state?.passwordReason ?? null),
      resetSentAt: state?.resetSentAt ?? null,
    };
    await this.sendResetIfDue(next);
    return { next, passwordSent: sendPassword, writes };
  }

  private async create(
    row: ClaimedRow,
    local: LocalUser,
    email: string,
    externalId: string,
    conversion: Conversion,
  ): Promise<{ next: SyncStateRow; passwordSent: boolean; writes: number }> {
    const body = {
      email,
      externalId,
      ...(local.firstName !== null ? { firstName: local.firstName } : {}),
      ...(local.lastName !== null ? { lastName: local.lastName } : {}),
      emailVerified: local.emailVerified,
      ...(Object.keys(local.metadata).length > 0 ? { metadata: local.metadata } : {}),
    };
    let created: User;
    const passwordSent = conversion.hash !== undefined;
    if (!(await recordCreateIntent(this.deps.config.db, row, { externalId, email: normaliseEmail(email) })))
      throw new CallRefused('the row lease was lost');
    try {
      created = await this.deps.call(true, () =>
        this.deps.workos.userManagement.createUser({
          ...body,
          ...(conversion.hash ?? {}),
        } as Parameters<WorkOS['userManagement']['createUser']>[0]),
      );
    } catch (error) {
      // Never sent (see the update above): give the row back untouched, not "no answer".
      if (error instanceof CallRefused) throw error;
      const failure = classifyWorkosError(error);
      // A signup racing the backfill, or our own earlier attempt that had no answer: the next pass
      // finds the user by external id or email.
      if (failure.kind === 'email_taken' || failure.kind === 'external_id_taken') {
        throw new Wait(
          'waiting_on_user',
          `WorkOS answered ${failure.kind} on create; looking the user up again`,
        );
      }
      if (failure.kind === 'invalid_password_hash') {
        throw new Dead(
          'invalid_password_hash',
          'WorkOS refused the converted password hash; see the hash format table',
        );
      }
      if (failure.kind === 'invalid_metadata') {
        throw new Dead('invalid_metadata', 'WorkOS refused the metadata; check the mapped metadata columns');
      }
      throw failure;
    }
    const next: SyncStateRow = {
      userId: local.id,
      workosUserId: created.id,
      email,
      firstName: local.firstName,
      lastName: local.lastName,
      emailVerified: local.emailVerified,
      metadata: local.metadata,
      passwordState: conversion.state,
      passwordReason: unsyncedReason(conversion.state, conversion.reason),
      resetSentAt: null,
    };
    await this.sendResetIfDue(next);
    return { next, passwordSent, writes: 1 };
  }

  /**
   * `passwordFallback: 'reset'`: ask WorkOS for a reset once and hand the link to the app. The
   * token goes to the callback only: never to a log, a table or an error.
   */
  private async sendResetIfDue(next: SyncStateRow): Promise<void> {
    if (next.passwordState !== 'reset' || next.resetSentAt !== null || !this.deps.config.onPasswordReset)
      return;
    const reset = await this.deps.call(true, () =>
      this.deps.workos.userManagement.createPasswordReset({ email: next.email }),
    );
    await this.deps.config.onPasswordReset({
      user: { id: next.userId, email: next.email, workosUserId: next.workosUserId },
      url: reset.passwordResetUrl,
      token: reset.passwordResetToken,
    });
    next.resetSentAt = new Date().toISOString();
  }
}

function unsyncedReason(state: PasswordState, reason: string | null): string | null {
  return state === 'synced' || state === 'no_local_password' ? null : reason;
}

function fromRemote(userId: string, remote: User, state: SyncStateRow | null): SyncStateRow {
  return {
    userId,
    workosUserId: remote.id,
    email: remote.email,
    firstName: remote.firstName,
    lastName: remote.lastName,
    emailVerified: remote.emailVerified,
    metadata: remote.metadata ?? {},
    passwordState: state?.passwordState ?? 'none',
    passwordReason: state?.passwordReason ?? null,
    resetSentAt: state?.resetSentAt ?? null,
  };
}

/** A metadata patch for WorkOS (a removed key is sent as null), or null when equal. */
function diffMetadata(
  before: Record<string, string>,
  after: Record<string, string>,
): Record<string, string | null> | null {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(after)) if (before[key] !== value) patch[key] = value;
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return Object.keys(patch).length > 0 ? patch : null;
}

/** True while `row`'s lease is still ours: every sync_state write is conditional on it. */
function leaseHeld(row: ClaimedRow): SQL {
  return sql`EXISTS (SELECT 1 FROM workos_migrate.outbox WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken})`;
}

export async function loadSyncState(db: DrizzleTransaction, userId: string): Promise<SyncStateRow | null> {
  const rows = await query<SyncStateRow>(
    db,
    sql`SELECT user_id AS "userId", workos_user_id AS "workosUserId", email, first_name AS "firstName",
          last_name AS "lastName", email_verified AS "emailVerified", metadata, password_state AS "passwordState",
          password_reason AS "passwordReason", reset_sent_at::text AS "resetSentAt"
        FROM workos_migrate.sync_state WHERE user_id = ${userId}`,
  );
  return rows[0] ?? null;
}

/**
 * A WorkOS user with our external id is our own create (whose answer or record was lost) only if its
 * email is one a create for this row was about to send: recorded before the call, so it survives any
 * crash. Anything else carrying our external id is not trusted, whenever it was made.
 */
function sentByThisRow(row: ClaimedRow, remote: User): boolean {
  const email = normaliseEmail(remote.email);
  return row.sentCreates.some((sent) => sent.externalId === remote.externalId && sent.email === email);
}

/**
 * The upsert of what WorkOS now holds for one user, written only if `held` (a CTE of the outbox row
 * under our lease) has a row: sync_state never moves under a lease another worker holds.
 */
function upsertSyncStateSql(next: SyncStateRow, environment: string): SQL {
  return sql`INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, first_name, last_name, email_verified,
          metadata, password_state, password_reason, reset_sent_at, environment, synced_at)
        SELECT ${next.userId}::text, ${next.workosUserId}::text, ${next.email}::text, ${next.firstName}::text,
          ${next.lastName}::text, ${next.emailVerified}::boolean, ${JSON.stringify(next.metadata)}::jsonb,
          ${next.passwordState}::text, ${next.passwordReason}::text, ${next.resetSentAt}::timestamptz,
          ${environment}::text, now()
        FROM held
        ON CONFLICT (user_id) DO UPDATE SET workos_user_id = EXCLUDED.workos_user_id, email = EXCLUDED.email,
          first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email_verified = EXCLUDED.email_verified,
          metadata = EXCLUDED.metadata, password_state = EXCLUDED.password_state,
          password_reason = EXCLUDED.password_reason, reset_sent_at = EXCLUDED.reset_sent_at,
          environment = EXCLUDED.environment, synced_at = now()`;
}

/** Writes the WorkOS id back to the app's row (under the lease, as above). Touches only workos_user_id, which the trigger ignores. */
async function linkLocalUserSql(
  db: DrizzleTransaction,
  config: ResolvedConfig,
  next: SyncStateRow,
): Promise<SQL> {
  const { users, columns } = config.users;
  const workosColumn = quoteIdent(columns.workosUserId);
  return sql`UPDATE ${sql.raw(users.qualified)} SET ${sql.raw(workosColumn)} = ${next.workosUserId}
        WHERE ${await idEquals(db, config.users, sql.raw(quoteIdent(columns.id)), next.userId)}
          AND ${sql.raw(workosColumn)} IS DISTINCT FROM ${next.workosUserId}
          AND EXISTS (SELECT 1 FROM held)`;
}

/** How a sync that reached WorkOS ends: `held` false when the lease was lost and nothing was recorded. */
export interface SaveResult {
  held: boolean;
  removed: boolean;
}

/**
 * The common end of a sync in one statement (atomic without BEGIN/COMMIT round trips), and only while
 * the lease is held (`held` locks the outbox row by its token): record the state, link the app's row,
 * and finish the outbox row as `complete()` does: delete it if its version is unchanged, else release
 * it for another pass. With `verifyAfterMs` (an earlier attempt had no answer and may still land) the
 * row stays, due for a pass that re-reads WorkOS after that delay.
 */
export async function saveAndComplete(
  db: DrizzleTransaction,
  config: ResolvedConfig,
  next: SyncStateRow,
  environment: string,
  row: ClaimedRow,
  verifyAfterMs?: number,
): Promise<SaveResult> {
  const finish = verifyAfterMs === undefined ? finishRowSql(row, false) : verifyRowSql(row, verifyAfterMs);
  // Data-modifying CTEs all run once, whether or not the final SELECT reads them.
  const rows = await query<{ held: number; removed: number }>(
    db,
    sql`WITH held AS (SELECT user_id FROM workos_migrate.outbox
            WHERE user_id = ${row.userId} AND lease_token = ${row.leaseToken} FOR UPDATE),
          saved AS (${upsertSyncStateSql(next, environment)} RETURNING 1),
          linked AS (${await linkLocalUserSql(db, config, next)} RETURNING 1),
          ${finish}
        SELECT (SELECT count(*) FROM held)::int AS held, (SELECT count(*) FROM removed)::int AS removed`,
  );
  return { held: (rows[0]?.held ?? 0) > 0, removed: (rows[0]?.removed ?? 0) > 0 };
}
