import { randomBytes } from 'node:crypto';
import type { User, WorkOS } from '@workos-inc/node';
import { type SQL, sql } from 'drizzle-orm';
import type { ResolvedConfig } from '../core/config.js';
import { type DrizzleTransaction, query } from '../core/db.js';
import { emailLookupSql, normaliseEmail } from '../core/email.js';
import type { ReasonCode } from '../core/errors.js';
import { quoteIdent } from '../core/mapping.js';
import { checkLocalUser } from '../core/validate.js';
import { toWorkOS, UNVERIFIABLE_CODES } from '../hashes/index.js';
import { classifyWorkosError, WorkosCallError } from '../workos/client.js';
import {
  idEquals,
  type LocalUser,
  loadLocalUser,
  loadLocalUsers,
  localIdOf,
  localUserSelect,
} from './local-user.js';
import {
  type ClaimedRow,
  type CreateIntent,
  deletesInWindow,
  finishRowSql,
  hasSentCreate,
  recordAppliedDelete,
  recordCreateIntent,
  recordCreateIntents,
  verifyRowSql,
} from './outbox.js';

/**
 * `no_local_password`: no local password, and WorkOS holds none we sent (social-login users).
 * `revoked`: the local password was removed while WorkOS may have held one; WorkOS now holds a random
 * password nobody knows. `disabled`: the local user is disabled; the same, until re-enabled.
 */
export type PasswordState =
  | 'synced'
  | 'no_local_password'
  | 'login'
  | 'reset'
  | 'none'
  | 'revoked'
  | 'disabled';

/** States in which WorkOS may hold a password that came from us (imported or moved at sign-in, or set after a reset). */
const MAY_HOLD_PASSWORD = new Set<PasswordState>(['synced', 'reset']);

/** A password nobody knows, to replace one WorkOS must stop accepting (there is no "remove password" call). Never stored or logged. */
function unknowablePassword(): string {
  return `${randomBytes(32).toString('base64url')}-Aa1!`;
}

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
  /** The `updated_at` WorkOS answered at our last write (healing needs it unchanged). */
  workosUpdatedAt?: string | null;
  /** Source format id (workos-migrate/hashes) of the hash WorkOS holds as an import, else null. */
  hashFormat?: string | null;
  /** When this user's password was last seen to work at WorkOS; cleared when a new hash is sent. */
  passwordVerifiedAt?: string | null;
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
  /** The source format id of `hash`. */
  format?: string;
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

/** A sync's starting reads, done for its whole claimed batch at once (`Reconciler.preload`). */
export interface Preloaded {
  local: LocalUser | null;
  state: SyncStateRow | null;
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

  /**
   * The reads every sync starts with, for a whole claimed batch in two statements instead of two per
   * user. Read after the claim committed, so each row is at least as new as the version claimed.
   */
  async preload(rows: readonly ClaimedRow[]): Promise<Map<string, Preloaded>> {
    const db = this.deps.config.db;
    const ids = rows.map((row) => row.userId);
    const [locals, states] = await Promise.all([
      loadLocalUsers(db, this.deps.config.users, this.select, ids),
      loadSyncStates(db, ids),
    ]);
    // A first attempt with nothing synced creates optimistically (`upsert`): record those creates'
    // intents for the batch in one statement; `create` then finds its own already recorded.
    const creates: { row: ClaimedRow; intent: CreateIntent }[] = [];
    for (const row of rows) {
      const local = locals.get(row.userId);
      if (!local || states.has(row.userId) || row.attempts > 1 || row.uncertain || row.verifying) continue;
      const checked = checkLocalUser(local, this.externalIdPrefix);
      if (checked.ok)
        creates.push({
          row,
          intent: {
            externalId: this.externalIdFor(local.id),
            email: normaliseEmail(checked.email),
            password: !local.disabled && this.convert(local).hash !== undefined,
          },
        });
    }
    if (creates.length > 0) await recordCreateIntents(db, creates);
    return new Map(ids.map((id) => [id, { local: locals.get(id) ?? null, state: states.get(id) ?? null }]));
  }

  async run(
    row: ClaimedRow,
    preloaded?: Preloaded,
  ): Promise<{
    outcome: Outcome;
    local: LocalUser | null;
    state: SyncStateRow | null;
    next?: SyncStateRow;
    remoteId?: string;
  }> {
    const db = this.deps.config.db;
    // Two independent reads: in parallel, one round trip of latency instead of two.
    const [local, loadedState] = preloaded
      ? [preloaded.local, preloaded.state]
      : await Promise.all([
          loadLocalUser(db, this.deps.config.users, this.select, row.userId),
          loadSyncState(db, row.userId),
        ]);
    let state = loadedState;
    try {
      if (!local) return { ...(await this.remove(row, state)), local, state };
      if (state && local.workosUserId !== state.workosUserId) {
        if (row.replaced) {
          // The id came back after a delete that was still pending: a new person. The old WorkOS user
          // goes first (as a delete, under the mass-delete threshold), then the new row is created.
          if (
            !row.deleteConfirmed &&
            (await deletesInWindow(db, this.deps.config.deleteWindowMs)) > this.deps.config.deleteThreshold
          )
            return { outcome: { kind: 'hold_deletes' }, local, state };
          await this.deleteWorkosUser(row, state);
          state = null;
        } else if (
          local.workosUserId === null &&
          normaliseEmail(local.email ?? '') !== normaliseEmail(state.email)
        ) {
          // Lost its link and carries another email: nothing says it is the person synced before.
          throw new Dead(
            'identity_unclear',
            `local user ${local.id} has no workos_user_id and another email than WorkOS user ${state.workosUserId} was synced with; if it is the same person set workos_user_id to ${state.workosUserId}, if not delete its sync_state row, then run retry`,
          );
        }
      }
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
    const writes = await this.deleteWorkosUser(row, state);
    return { outcome: { kind: 'done', passwordSent: false, writes } };
  }

  /**
   * Deletes the WorkOS user of a deleted local user, and its sync_state. Only the stored WorkOS id (if
   * it still carries our external id), or a user found by our external id whose email is the one we
   * last synced: anything else may be someone else's account and is dead-lettered `not_ours`.
   */
  private async deleteWorkosUser(row: ClaimedRow, state: SyncStateRow | null): Promise<number> {
    const externalId = this.externalIdFor(row.userId);
    const knownId = state?.workosUserId ?? row.workosUserId;
    let target = knownId ? await this.getUser(knownId) : null;
    if (target && target.externalId !== externalId) {
      throw new Dead(
        'not_ours',
        `WorkOS user ${target.id} does not carry external_id ${externalId}; not deleted`,
      );
    }
    if (!target) {
      const byExternalId = await this.getByExternalId(externalId);
      if (byExternalId) {
        if (!state || normaliseEmail(byExternalId.email) !== normaliseEmail(state.email)) {
          throw new Dead(
            'not_ours',
            `WorkOS user ${byExternalId.id} carries external_id ${externalId} but is not the user last synced for it; not deleted`,
          );
        }
        target = byExternalId;
      }
    }
    if (target) {
      const id = target.id;
      try {
        await this.deps.call(true, () => this.deps.workos.userManagement.deleteUser(id));
        if (!row.deleteConfirmed)
          await recordAppliedDelete(this.deps.config.db, row.userId, this.deps.config.deleteWindowMs);
      } catch (error) {
        if (error instanceof CallRefused) throw error;
        if (classifyWorkosError(error).kind !== 'not_found') throw error;
      }
    }
    await this.deps.config.db.execute(
      sql`DELETE FROM workos_migrate.sync_state WHERE user_id = ${row.userId} AND ${leaseHeld(row)}`,
    );
    return target ? 1 : 0;
  }

  private validate(local: LocalUser): string {
    const checked = checkLocalUser(local, this.externalIdPrefix);
    if (!checked.ok) throw new Dead(checked.reason, checked.message);
    return checked.email;
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
        format: result.format,
        state: 'synced',
        reason: null,
      };
    }
    // An empty value or a framework's "unusable password" marker: there is no password to move.
    if (result.code === 'empty' || result.code === 'unusable_password')
      return { state: 'no_local_password', reason: null };
    // A damaged hash fails the legacy check too: a login-time migration would never come, so a reset is due.
    if (UNVERIFIABLE_CODES.has(result.code))
      return { state: 'reset', reason: `${result.code}: ${result.reason}` };
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
          WHERE ${sql.raw(emailLookupSql(quoteIdent(columns.email)))} = ${normaliseEmail(email)}
            AND ${sql.raw(quoteIdent(columns.id))}::text <> ${selfId}
          LIMIT 1`,
    );
    return rows.length > 0;
  }

  /**
   * Moves this user's WorkOS email to a unique, undeliverable placeholder (RFC 2606 `.invalid`) and
   * records what WorkOS answered in sync_state, so the next pass sends the real email whatever it is
   * by then (verified again for a verified local user). The cost, documented: WorkOS unverifies the
   * user for that moment and unlinks social identities that do not match the placeholder.
   */
  private async stepAside(row: ClaimedRow, workosUserId: string): Promise<void> {
    const placeholder = `${workosUserId.toLowerCase()}@email-swap.workos-migrate.invalid`;
    const returned = await this.deps.call(true, () =>
      this.deps.workos.userManagement.updateUser({ userId: workosUserId, email: placeholder }),
    );
    await this.deps.config.db.execute(
      sql`UPDATE workos_migrate.sync_state SET email = ${placeholder}, email_verified = ${returned.emailVerified}
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
    /** Linked by email to a WorkOS user we did not create: it may hold a password of its own. */
    let adopted = false;
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
          adopted = true;
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
    // WorkOS unverifies a user whose email changes: a verified local user's new email goes verified.
    if (changes.email !== undefined && local.emailVerified) changes.emailVerified = true;
    // After a link by email the WorkOS user does not carry our external id yet.
    if (remote && remote.externalId !== externalId) changes.externalId = externalId;
    const metadataPatch = diffMetadata(base.metadata, local.metadata);
    if (metadataPatch) changes.metadata = metadataPatch;
    // Found with nothing synced: adopted by email, or made by a create of this row's whose answer was
    // lost and that carried a hash. Either may hold a password the local row no longer has.
    const mayHoldPassword =
      adopted || (!state && remote !== null && createdWithPasswordByThisRow(row, remote));
    const password = passwordPlan(row, local, state, conversion, mayHoldPassword);
    if (password.hash) {
      changes.passwordHash = password.hash.passwordHash;
      changes.passwordHashType = password.hash.passwordHashType;
    }
    if (password.revoke) changes.password = unknowablePassword();
    let writes = 0;
    let returned: User | null = null;
    if (Object.keys(changes).length > 0) {
      try {
        returned = await this.confirmedUpdate(workosUserId, changes);
        writes = 1;
      } catch (error) {
        // Refused before any request was made (stopping, lost leadership): classifying it turned it
        // into "no answer", so a clean stop() marked rows uncertain and spent an attempt.
        if (error instanceof CallRefused || error instanceof Dead) throw error;
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
            // at every instant, so each side waited on the other until too_many_attempts. Only a real
            // cycle needs a placeholder (a chain resolves once its head moves), and one member of it
            // steps aside so the others can move; the retry then takes the new email.
            if (blocked instanceof Wait && (await this.leadsSwapCycle(local.id, email, base.email)))
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
    // What WorkOS answered is what it holds (names and the verified flag included).
    const next: SyncStateRow = {
      userId: local.id,
      workosUserId,
      email,
      firstName: returned ? returned.firstName : (local.firstName ?? base.firstName),
      lastName: returned ? returned.lastName : (local.lastName ?? base.lastName),
      emailVerified: returned ? returned.emailVerified : base.emailVerified || local.emailVerified,
      metadata: local.metadata,
      passwordState: password.state,
      passwordReason: unsyncedReason(password.state, password.reason),
      resetSentAt: state?.resetSentAt ?? null,
      workosUpdatedAt: returned ? returned.updatedAt : (state?.workosUpdatedAt ?? null),
      ...importedHashFacts(password, conversion, state),
    };
    await this.sendResetIfDue(next);
    return { next, passwordSent: password.hash !== undefined || password.revoke, writes };
  }

  /**
   * An update whose answer must show every field sent ("written means confirmed"): a field WorkOS
   * answered without is sent once more, then the user is dead-lettered `workos_ignored_change`.
   */
  private async confirmedUpdate(workosUserId: string, changes: Record<string, unknown>): Promise<User> {
    for (let attempt = 1; ; attempt++) {
      const returned = await this.deps.call(true, () =>
        this.deps.workos.userManagement.updateUser({ userId: workosUserId, ...changes } as Parameters<
          WorkOS['userManagement']['updateUser']
        >[0]),
      );
      const ignored = ignoredFields(changes, returned);
      if (ignored.length === 0) return returned;
      if (attempt >= 2) {
        throw new Dead(
          'workos_ignored_change',
          `WorkOS answered the update of user ${workosUserId} without the ${ignored.join(', ')} sent (twice); check that environment, then run retry`,
        );
      }
    }
  }

  /**
   * Whether this user is in an email cycle (it holds in WorkOS the email another member now wants,
   * round to the email it wants) and is the member that steps aside: the lowest local id, so one
   * placeholder breaks the cycle. A chain without a cycle resolves by waiting, with no placeholder.
   */
  private async leadsSwapCycle(selfId: string, wanted: string, held: string): Promise<boolean> {
    const members = [selfId];
    let target = wanted;
    for (let hop = 0; hop < SWAP_CYCLE_MAX_HOPS; hop++) {
      const holder = await this.findByEmail(target);
      if (!holder?.externalId?.startsWith(this.externalIdPrefix)) return false;
      const otherId = holder.externalId.slice(this.externalIdPrefix.length);
      if (members.includes(otherId)) return false;
      const other = await loadLocalUser(this.deps.config.db, this.deps.config.users, this.select, otherId);
      if (!other?.email) return false;
      members.push(otherId);
      if (normaliseEmail(other.email) === normaliseEmail(held))
        return members.every((id) => compareIds(selfId, id) <= 0);
      target = other.email;
    }
    // Longer than we follow: step aside as before rather than wait for too_many_attempts.
    return this.wantedByAnother(held, selfId);
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
    // A disabled user is created without a password: nothing for WorkOS to accept until re-enabled.
    const hash = local.disabled ? undefined : conversion.hash;
    let created: User;
    const intent = { externalId, email: normaliseEmail(email), password: hash !== undefined };
    // Usually recorded already, for the whole claimed batch (`preload`).
    if (!hasSentCreate(row, intent) && !(await recordCreateIntent(this.deps.config.db, row, intent)))
      throw new CallRefused('the row lease was lost');
    try {
      created = await this.deps.call(true, () =>
        this.deps.workos.userManagement.createUser({
          ...body,
          ...(hash ?? {}),
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
    let writes = 1;
    const ignored = ignoredFields(body, created);
    if (ignored.length > 0) {
      // Written means confirmed: what the create did not take is sent once more as an update.
      const patch = Object.fromEntries(ignored.map((field) => [field, body[field as keyof typeof body]]));
      created = await this.confirmedUpdate(created.id, patch).catch((error: unknown) => {
        if (error instanceof Dead || error instanceof CallRefused) throw error;
        throw classifyWorkosError(error);
      });
      writes += 1;
    }
    const passwordState: PasswordState = local.disabled ? 'disabled' : conversion.state;
    const next: SyncStateRow = {
      userId: local.id,
      workosUserId: created.id,
      email,
      firstName: created.firstName,
      lastName: created.lastName,
      emailVerified: created.emailVerified,
      metadata: local.metadata,
      passwordState,
      passwordReason: unsyncedReason(passwordState, local.disabled ? DISABLED_REASON : conversion.reason),
      resetSentAt: null,
      workosUpdatedAt: created.updatedAt,
      hashFormat: hash ? (conversion.format ?? null) : null,
      passwordVerifiedAt: null,
    };
    await this.sendResetIfDue(next);
    return { next, passwordSent: hash !== undefined, writes };
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

const DISABLED_REASON = 'disabled locally: WorkOS holds a random password until the user is re-enabled';
const REVOKED_REASON =
  'the local password was removed: WorkOS holds a random password in place of the old one';

/** How far `leadsSwapCycle` follows a chain of email holders. */
const SWAP_CYCLE_MAX_HOPS = 8;

/** A total order on local ids (numeric ids by value, others as text): picks one member of a cycle. */
function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

interface PasswordPlan {
  hash?: { passwordHash: string; passwordHashType: string };
  /** Replace WorkOS's password with one nobody knows. */
  revoke: boolean;
  state: PasswordState;
  reason: string | null;
}

/**
 * What the password part of an update sends. "No credential outlives its revocation": when the
 * local password is removed or made unusable, or changes to a hash WorkOS cannot import, while WorkOS
 * may hold an older one, or the user is disabled, WorkOS's password is replaced by a random one in
 * the same update. Re-enabling a user sends the current hash again.
 */
function passwordPlan(
  row: ClaimedRow,
  local: LocalUser,
  state: SyncStateRow | null,
  conversion: Conversion,
  /** Linked without a sync_state row to a WorkOS user that may hold a password (see `upsert`). */
  linkedMayHoldPassword: boolean,
): PasswordPlan {
  const previous = state?.passwordState ?? null;
  if (local.disabled) {
    return previous === 'disabled'
      ? { revoke: false, state: 'disabled', reason: DISABLED_REASON }
      : { revoke: true, state: 'disabled', reason: DISABLED_REASON };
  }
  const due = row.passwordChanged || !state || previous === 'disabled';
  if (!due) {
    return {
      revoke: false,
      state: previous ?? conversion.state,
      reason: conversion.reason ?? state?.passwordReason ?? null,
    };
  }
  if (conversion.hash) return { hash: conversion.hash, revoke: false, state: 'synced', reason: null };
  const unusable = conversion.state === 'no_local_password';
  // Already random in WorkOS: nothing to replace, and a revoked password stays revoked.
  if (previous === 'disabled' || previous === 'revoked') {
    return {
      revoke: false,
      state: unusable && previous === 'revoked' ? 'revoked' : conversion.state,
      reason: unusable && previous === 'revoked' ? REVOKED_REASON : conversion.reason,
    };
  }
  // `login` holds a password in WorkOS only when a sign-in moved one that may be older (row.passwordMoved).
  const mayHoldPassword = state
    ? (previous !== null && MAY_HOLD_PASSWORD.has(previous)) || row.passwordMoved
    : linkedMayHoldPassword || row.passwordMoved;
  if (!mayHoldPassword) return { revoke: false, state: conversion.state, reason: conversion.reason };
  return {
    revoke: true,
    state: unusable ? 'revoked' : conversion.state,
    reason: unusable ? REVOKED_REASON : conversion.reason,
  };
}

/**
 * Which imported hash WorkOS holds after this pass: the one sent now (not yet verified), the earlier
 * one while the password stays `synced` and unsent, else none.
 */
function importedHashFacts(
  password: PasswordPlan,
  conversion: Conversion,
  state: SyncStateRow | null,
): Pick<SyncStateRow, 'hashFormat' | 'passwordVerifiedAt'> {
  if (password.hash) return { hashFormat: conversion.format ?? null, passwordVerifiedAt: null };
  if (password.revoke || password.state !== 'synced') return { hashFormat: null, passwordVerifiedAt: null };
  return { hashFormat: state?.hashFormat ?? null, passwordVerifiedAt: state?.passwordVerifiedAt ?? null };
}

/** The fields of `sent` that `returned` does not show (emails compared normalised). */
function ignoredFields(sent: Record<string, unknown>, returned: User): string[] {
  const ignored: string[] = [];
  const check = (field: string, actual: unknown, same = (a: unknown, b: unknown) => a === b) => {
    if (field in sent && sent[field] !== undefined && !same(sent[field], actual)) ignored.push(field);
  };
  check('email', returned.email, (a, b) => normaliseEmail(String(a)) === normaliseEmail(String(b ?? '')));
  check('externalId', returned.externalId);
  check('firstName', returned.firstName);
  check('lastName', returned.lastName);
  check('emailVerified', returned.emailVerified);
  return ignored;
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

const SYNC_STATE_COLUMNS =
  sql.raw(`user_id AS "userId", workos_user_id AS "workosUserId", email, first_name AS "firstName",
          last_name AS "lastName", email_verified AS "emailVerified", metadata, password_state AS "passwordState",
          password_reason AS "passwordReason", reset_sent_at::text AS "resetSentAt",
          workos_updated_at AS "workosUpdatedAt", hash_format AS "hashFormat",
          password_verified_at::text AS "passwordVerifiedAt"`);

export async function loadSyncState(db: DrizzleTransaction, userId: string): Promise<SyncStateRow | null> {
  const rows = await query<SyncStateRow>(
    db,
    sql`SELECT ${SYNC_STATE_COLUMNS} FROM workos_migrate.sync_state WHERE user_id = ${userId}`,
  );
  return rows[0] ?? null;
}

/** What was last sent for several users, in one statement (absent: never synced). */
export async function loadSyncStates(
  db: DrizzleTransaction,
  userIds: readonly string[],
): Promise<Map<string, SyncStateRow>> {
  const rows = await query<SyncStateRow>(
    db,
    sql`SELECT ${SYNC_STATE_COLUMNS} FROM workos_migrate.sync_state
        WHERE user_id IN (SELECT jsonb_array_elements_text(${JSON.stringify(userIds)}::jsonb))`,
  );
  return new Map(rows.map((row) => [row.userId, row]));
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
 * Whether a create of this row that may have made `remote` carried a password hash (an intent from
 * before that was recorded counts as one). Matched on the external id alone: the email may have been
 * changed since, in WorkOS by our retry or locally.
 */
function createdWithPasswordByThisRow(row: ClaimedRow, remote: User): boolean {
  return row.sentCreates.some((sent) => sent.externalId === remote.externalId && sent.password !== false);
}

/**
 * The upsert of what WorkOS now holds for one user, written only if `held` (a CTE of the outbox row
 * under our lease) has a row: sync_state never moves under a lease another worker holds.
 */
function upsertSyncStateSql(next: SyncStateRow, environment: string): SQL {
  return sql`INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, first_name, last_name, email_verified,
          metadata, password_state, password_reason, reset_sent_at, environment, synced_at,
          workos_updated_at, hash_format, password_verified_at)
        SELECT ${next.userId}::text, ${next.workosUserId}::text, ${next.email}::text, ${next.firstName}::text,
          ${next.lastName}::text, ${next.emailVerified}::boolean, ${JSON.stringify(next.metadata)}::jsonb,
          ${next.passwordState}::text, ${next.passwordReason}::text, ${next.resetSentAt}::timestamptz,
          ${environment}::text, now(),
          ${next.workosUpdatedAt ?? null}::text, ${next.hashFormat ?? null}::text,
          ${next.passwordVerifiedAt ?? null}::timestamptz
        FROM held
        ON CONFLICT (user_id) DO UPDATE SET workos_user_id = EXCLUDED.workos_user_id, email = EXCLUDED.email,
          first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email_verified = EXCLUDED.email_verified,
          metadata = EXCLUDED.metadata, password_state = EXCLUDED.password_state,
          password_reason = EXCLUDED.password_reason, reset_sent_at = EXCLUDED.reset_sent_at,
          environment = EXCLUDED.environment, synced_at = now(),
          workos_updated_at = EXCLUDED.workos_updated_at, hash_format = EXCLUDED.hash_format,
          password_verified_at = EXCLUDED.password_verified_at`;
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
  recheck?: { afterMs: number; strayMs: number },
): Promise<SaveResult> {
  const finish =
    recheck === undefined ? finishRowSql(row, false) : verifyRowSql(row, recheck.afterMs, recheck.strayMs);
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
