import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthenticationResponse, User, WorkOS } from '@workos-inc/node';
import { sql } from 'drizzle-orm';
import { checkRedirectUri, type ResolvedConfig } from '../core/config.js';
import { type DrizzleDatabase, type DrizzleTransaction, query, withTransactionErrors } from '../core/db.js';
import { emailLookupSql, normaliseEmail } from '../core/email.js';
import { ConfigError } from '../core/errors.js';
import { quoteIdent } from '../core/mapping.js';
import type { Flags } from '../flags/flags.js';
import {
  findLocalUserByEmail,
  idEquals,
  type LocalUser,
  loadLocalUser,
  localIdOf,
  localUserSelect,
} from '../sync/local-user.js';
import { requeueForVerification } from '../sync/outbox.js';
import { environmentOf } from '../sync/worker.js';
import { classifyWorkosError } from '../workos/client.js';
import { decideCredentials, decideCutover, type LegacyReason } from './cutover.js';
import { type LoginReason, SIGN_IN_STEPS } from './login.js';
import { endSession } from './shadow.js';

/**
 * What the app stores for the browser that asked to sign in (its session, or an httpOnly cookie only
 * that browser sends) and hands back to `completeSignIn`: the callback counts only for that browser.
 */
export interface PendingSignIn {
  /** The OAuth `state` sent to AuthKit; the callback's `state` must equal it. */
  state: string;
  /** The PKCE (S256) verifier of the challenge sent to AuthKit. A secret: never log it. */
  codeVerifier: string;
  /** `signIn({ state })`, kept here (it never travels through AuthKit) and answered by `completeSignIn`. */
  appState?: string;
}

export interface SignInInput {
  email: string;
  /** Default `authkit.redirectUri`. */
  redirectUri?: string;
  /** App data to get back after the callback (e.g. the page to return to); kept in `pending`. */
  state?: string;
}

export type SignInRoute =
  | {
      /** Show the legacy password form (and sign in with `login()`). */
      side: 'legacy';
      reason: LegacyReason | 'unknown-user';
      localUserId: string | null;
    }
  | {
      /** Redirect the browser to `url` after storing `pending` for it. */
      side: 'workos';
      reason: 'in-rollout' | 'unknown-user';
      localUserId: string | null;
      url: string;
      pending: PendingSignIn;
    };

export interface CompleteSignInInput {
  /** The callback's `code` query parameter. */
  code: string;
  /** The callback's `state` query parameter. */
  state: string;
  /** What `signIn` answered as `pending`, as stored for this browser (undefined when none is stored). */
  pending: PendingSignIn | undefined | null;
  /** Passed on to WorkOS for its sign-in records. */
  ipAddress?: string;
  userAgent?: string;
}

export type CompleteSignInReason =
  | LoginReason
  /** The callback's state is not the one stored for this browser (login CSRF, or a stale tab). */
  | 'state-mismatch'
  /** WorkOS refused the code: used already, expired, or issued for another verifier or client. */
  | 'invalid-code'
  /** WorkOS signed in a user linked to no local user (and `onWorkosOnlyUser` did not create one). */
  | 'unknown-workos-user';

export interface CompleteSignInSuccess {
  ok: true;
  reason: 'authenticated';
  localUserId: string;
  workosUser: User;
  accessToken: string;
  refreshToken: string;
  /** How the user proved who they are at AuthKit (`Password`, `GoogleOAuth`, ...), as WorkOS says. */
  authenticationMethod: AuthenticationResponse['authenticationMethod'];
  organizationId?: string;
  /** The AuthKit session sealed with `authkit.cookiePassword` (only when one is configured). */
  sealedSession?: string;
  /** `onWorkosOnlyUser` created this local user in this sign-in. */
  created?: true;
  appState?: string;
}

export interface CompleteSignInFailure {
  ok: false;
  reason: CompleteSignInReason;
  /** The local user the WorkOS user maps to, when one does. */
  localUserId: string | null;
  /** For a sign-in step (`mfa-required`, ...): WorkOS's token to continue the flow with. */
  pendingAuthenticationToken?: string;
}

export type CompleteSignInResult = CompleteSignInSuccess | CompleteSignInFailure;

/** What signIn / completeSignIn run on: the raw app database too, for `onWorkosOnlyUser`'s transaction. */
export interface AuthkitDeps {
  config: ResolvedConfig;
  flags: Flags;
  workos: WorkOS;
  /** The app's own Drizzle database (not wrapped): the callback gets its real transaction. */
  appDb: DrizzleDatabase;
}

function clientIdOf(config: ResolvedConfig): string {
  if (!config.workos.clientId) {
    throw new ConfigError(
      'workos.clientId',
      'is required by signIn() and completeSignIn(): set it or the WORKOS_CLIENT_ID environment variable',
    );
  }
  return config.workos.clientId;
}

/**
 * Identifier-first routing: the cutover rule for the user with this email, and for the WorkOS side an
 * AuthKit URL (PKCE S256, a fresh random state, the email as login hint). An email no local user has is
 * routed by the rollout bucket of the email itself, so the route does not say whether an account exists.
 */
export async function signIn(deps: AuthkitDeps, input: SignInInput): Promise<SignInRoute> {
  const { config, flags, workos } = deps;
  if (!input || typeof input.email !== 'string' || input.email.trim() === '') {
    throw new TypeError('signIn({ email }): email must be a non-empty string');
  }
  const clientId = clientIdOf(config);
  const redirectUri = input.redirectUri ?? config.authkit.redirectUri;
  if (redirectUri === undefined) {
    throw new ConfigError('authkit.redirectUri', 'is missing: set it, or pass signIn({ redirectUri })');
  }
  checkRedirectUri(
    redirectUri,
    input.redirectUri === undefined ? 'authkit.redirectUri' : 'signIn({ redirectUri })',
  );
  const user = await findLocalUserByEmail(
    config.db,
    config.users,
    localUserSelect(config.users),
    input.email,
  );
  let reason: SignInRoute['reason'];
  if (user?.email) {
    if (user.disabled) return { side: 'legacy', reason: 'disabled', localUserId: user.id };
    const decision = await decideCutover(config, flags, { userId: user.id, email: user.email });
    if (decision.target === 'legacy')
      return { side: 'legacy', reason: decision.reason as LegacyReason, localUserId: user.id };
    reason = 'in-rollout';
  } else {
    const email = normaliseEmail(input.email);
    const rollout = flags.rolloutFor({ userId: email, email });
    if (rollout !== 'in-rollout') return { side: 'legacy', reason: 'unknown-user', localUserId: null };
    reason = 'unknown-user';
  }
  const pkce = await workos.pkce.generate();
  const state = randomBytes(32).toString('base64url');
  const url = workos.userManagement.getAuthorizationUrl({
    provider: 'authkit',
    clientId,
    redirectUri,
    loginHint: input.email.trim(),
    state,
    codeChallenge: pkce.codeChallenge,
    codeChallengeMethod: 'S256',
  });
  return {
    side: 'workos',
    reason,
    localUserId: user?.id ?? null,
    url,
    pending: {
      state,
      codeVerifier: pkce.codeVerifier,
      ...(input.state !== undefined ? { appState: input.state } : {}),
    },
  };
}

function sameState(pending: PendingSignIn | null | undefined, state: unknown): boolean {
  if (!pending || typeof pending.state !== 'string' || pending.state === '' || typeof state !== 'string')
    return false;
  const a = Buffer.from(pending.state);
  const b = Buffer.from(state);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who a WorkOS user is here: the local user linked to it (both links agree), or why not. */
type Mapping =
  | { kind: 'linked'; local: LocalUser }
  | {
      kind: 'refused';
      reason: 'identity-mismatch' | 'not-synced' | 'pending-sync' | 'unknown-workos-user';
      localUserId: string | null;
    }
  /** Linked to nobody and carrying no external id: a user who signed up on AuthKit. */
  | { kind: 'workos-only' };

/**
 * The stored link first (sync_state, the app's workos_user_id column), then our external_id; they must
 * all name the same local user. A WorkOS user claimed by a local user it is not linked to (a sync not
 * done yet, or someone else's account) is never signed in as that user.
 */
async function mapWorkosUser(
  config: ResolvedConfig,
  tx: DrizzleTransaction,
  workosUser: User,
): Promise<Mapping> {
  const { users, externalIdPrefix } = config;
  const [linkedRow] = await query<{ user_id: string }>(
    tx,
    sql`SELECT user_id FROM workos_migrate.sync_state WHERE workos_user_id = ${workosUser.id}`,
  );
  const [columnRow] = await query<{ id: string }>(
    tx,
    sql`SELECT ${sql.raw(quoteIdent(users.columns.id))}::text AS id FROM ${sql.raw(users.users.qualified)}
        WHERE ${sql.raw(quoteIdent(users.columns.workosUserId))} = ${workosUser.id} LIMIT 1`,
  );
  const claimed = await localIdOf(tx, users, externalIdPrefix, workosUser.externalId);
  const linkedId = linkedRow?.user_id ?? null;
  if (linkedId !== null) {
    const local = await loadLocalUser(tx, users, localUserSelect(users), linkedId);
    // The local user was deleted (its WorkOS delete pending or held): nobody to sign in, nobody to create.
    if (!local) return { kind: 'refused', reason: 'unknown-workos-user', localUserId: null };
    const linkAgrees =
      (columnRow === undefined || columnRow.id === linkedId) &&
      (local.workosUserId === null || local.workosUserId === workosUser.id);
    if (linkAgrees && workosUser.externalId === `${externalIdPrefix}${linkedId}`)
      return { kind: 'linked', local };
    // Linked here but no external_id yet (onWorkosOnlyUser's call after its commit failed, or is in
    // flight): refused until the worker's verifying sync sets it, as any queued change is.
    const unset = linkAgrees && !workosUser.externalId;
    return { kind: 'refused', reason: unset ? 'pending-sync' : 'identity-mismatch', localUserId: linkedId };
  }
  const claimant = columnRow?.id ?? claimed;
  if (claimant !== null) {
    const local = await loadLocalUser(tx, users, localUserSelect(users), claimant);
    return local
      ? { kind: 'refused', reason: 'not-synced', localUserId: local.id }
      : { kind: 'refused', reason: 'unknown-workos-user', localUserId: null };
  }
  // Someone else's external id (another system's, or a deleted user's): not a signup to adopt.
  if (workosUser.externalId) return { kind: 'refused', reason: 'unknown-workos-user', localUserId: null };
  return { kind: 'workos-only' };
}

/** A local user already has this email: the reconciler links (or dead-letters) them; no second account. */
async function emailTaken(config: ResolvedConfig, tx: DrizzleTransaction, email: string): Promise<boolean> {
  const column = `u.${quoteIdent(config.users.columns.email)}`;
  const rows = await query<{ one: number }>(
    tx,
    sql`SELECT 1 AS one FROM ${sql.raw(config.users.users.qualified)} u
        WHERE ${sql.raw(emailLookupSql(column))} = ${normaliseEmail(email)} LIMIT 1`,
  );
  return rows.length > 0;
}

class Refusal {
  constructor(readonly mapping: Mapping) {}
}

/**
 * A WorkOS-only user: the app's callback creates the local row and, in the same transaction, the row
 * is linked (the app's workos_user_id column and a sync_state row holding what WorkOS holds) and queued
 * for a verifying sync, which sets our external_id if the call below does not. A transaction-scoped
 * advisory lock on the WorkOS id serialises two callbacks for one WorkOS user: the second finds the
 * first one's link. A crash before the commit leaves nothing; after it, the worker finishes the link.
 */
async function createLinkedUser(
  deps: AuthkitDeps,
  workosUser: User,
): Promise<{ kind: 'created'; local: LocalUser } | Mapping> {
  const { config, appDb } = deps;
  const onWorkosOnlyUser = config.authkit.onWorkosOnlyUser;
  const refused: Mapping = { kind: 'refused', reason: 'unknown-workos-user', localUserId: null };
  if (!onWorkosOnlyUser) return refused;
  const { users } = config;
  let outcome: { kind: 'created'; local: LocalUser } | Mapping;
  try {
    outcome = await appDb.transaction(async (appTx) => {
      const tx = withTransactionErrors(appTx);
      await tx.execute(
        sql`SELECT pg_advisory_xact_lock(hashtextextended(${`workos-migrate:workos-only:${workosUser.id}`}, 0))`,
      );
      const mapping = await mapWorkosUser(config, tx, workosUser);
      if (mapping.kind !== 'workos-only') return mapping;
      if (await emailTaken(config, tx, workosUser.email))
        return { kind: 'refused', reason: 'not-synced', localUserId: null } as Mapping;
      const answered = await onWorkosOnlyUser({ workosUser, tx: appTx });
      if (answered === null || answered === undefined) throw new Refusal(refused);
      const localUserId = String(answered);
      const local = await loadLocalUser(tx, users, localUserSelect(users), localUserId);
      if (!local) {
        throw new ConfigError(
          'authkit.onWorkosOnlyUser',
          `answered local user ${localUserId}, which is not in the users table inside the transaction it was given; insert the row with that tx`,
        );
      }
      // Its first sync would send that hash to WorkOS in place of the password the user chose there.
      if (local.passwordHash) {
        throw new ConfigError(
          'authkit.onWorkosOnlyUser',
          `created local user ${localUserId} with a password hash; create it without one (WorkOS holds this user's credentials)`,
        );
      }
      const [stateRow] = await query<{ workos_user_id: string }>(
        tx,
        sql`SELECT workos_user_id FROM workos_migrate.sync_state WHERE user_id = ${localUserId}`,
      );
      if (stateRow || (local.workosUserId !== null && local.workosUserId !== workosUser.id)) {
        throw new Refusal({ kind: 'refused', reason: 'identity-mismatch', localUserId });
      }
      await tx.execute(
        sql`UPDATE ${sql.raw(users.users.qualified)} SET ${sql.raw(quoteIdent(users.columns.workosUserId))} = ${workosUser.id}
            WHERE ${await idEquals(tx, users, sql.raw(quoteIdent(users.columns.id)), localUserId)}`,
      );
      // What WorkOS holds now is the baseline: the worker sends only what the local row adds. No
      // password of ours is in WorkOS (`no_local_password`), so its sync never replaces the user's own.
      await tx.execute(
        sql`INSERT INTO workos_migrate.sync_state (user_id, workos_user_id, email, first_name, last_name,
              email_verified, password_state, environment, workos_updated_at, workos_signed_in_at)
            VALUES (${localUserId}, ${workosUser.id}, ${workosUser.email}, ${workosUser.firstName},
              ${workosUser.lastName}, ${workosUser.emailVerified}, 'no_local_password', ${environmentOf(config)},
              ${workosUser.updatedAt}, now())`,
      );
      // Verifying: the worker re-reads the WorkOS user, so a missing external_id is set (level-triggered).
      await requeueForVerification(tx, localUserId, false);
      return { kind: 'created', local: { ...local, workosUserId: workosUser.id } } as const;
    });
  } catch (error) {
    if (error instanceof Refusal) return error.mapping;
    throw error;
  }
  return outcome;
}

/**
 * The AuthKit callback: the state must be the one stored for this browser, the code is exchanged (with
 * the PKCE verifier), and the WorkOS user must map to a local user through the stored link and our
 * external_id. The cutover rule's credential part is applied again to that user: a password sign-in
 * counts only while WorkOS holds the user's current password (not while a change is queued, revoked,
 * dead-lettered or of an unproven format); any sign-in of a disabled user, or during the kill switch,
 * is refused. Never logs the code, verifier or tokens.
 */
export async function completeSignIn(
  deps: AuthkitDeps,
  input: CompleteSignInInput,
): Promise<CompleteSignInResult> {
  const { config, flags, workos } = deps;
  const { db, logger } = config;
  const refuse = (
    reason: CompleteSignInReason,
    localUserId: string | null,
    pendingAuthenticationToken?: string | null,
  ): CompleteSignInFailure => ({
    ok: false,
    reason,
    localUserId,
    ...(pendingAuthenticationToken ? { pendingAuthenticationToken } : {}),
  });
  const clientId = clientIdOf(config);
  if (!sameState(input?.pending, input?.state)) return refuse('state-mismatch', null);
  const pending = input.pending as PendingSignIn;
  if (typeof input.code !== 'string' || input.code === '') return refuse('invalid-code', null);
  if (typeof pending.codeVerifier !== 'string' || pending.codeVerifier === '')
    return refuse('state-mismatch', null);
  const { cookiePassword } = config.authkit;
  let answer: AuthenticationResponse;
  try {
    answer = await workos.userManagement.authenticateWithCode({
      clientId,
      code: input.code,
      codeVerifier: pending.codeVerifier,
      ...(cookiePassword ? { session: { sealSession: true, cookiePassword } } : {}),
      ...(input.ipAddress ? { ipAddress: input.ipAddress } : {}),
      ...(input.userAgent ? { userAgent: input.userAgent } : {}),
    });
  } catch (error) {
    const failure = classifyWorkosError(error);
    if (failure.kind === 'sign_in_step') {
      return refuse(
        SIGN_IN_STEPS[failure.code ?? ''] ?? 'challenge-required',
        null,
        failure.pendingAuthenticationToken,
      );
    }
    if (failure.kind === 'quota_exceeded') return refuse('quota-exceeded', null);
    if (failure.kind === 'rate_limited') return refuse('rate-limited', null);
    if (failure.kind === 'no_answer' || failure.kind === 'server_error')
      return refuse('workos-unreachable', null);
    const oauthError = (error as { error?: unknown } | null)?.error;
    if (oauthError === 'invalid_client' || oauthError === 'unauthorized_client' || failure.kind === 'auth') {
      logger.error(
        { status: failure.status, code: failure.code },
        'workos-migrate: WorkOS refused the API key or client id at the AuthKit callback',
      );
      return refuse('workos-misconfigured', null);
    }
    // invalid_grant and the rest: WorkOS's answer about this code.
    return refuse('invalid-code', null);
  }
  const workosUser = answer.user;
  /** Refused after WorkOS opened a session: it is ended, so nothing that signed in stays signed in. */
  const refuseSession = async (reason: CompleteSignInReason, localUserId: string | null) => {
    await endSession(workos, logger, answer.accessToken, 'a refused AuthKit sign-in');
    return refuse(reason, localUserId);
  };
  let mapping: { kind: 'created'; local: LocalUser } | Mapping = await mapWorkosUser(config, db, workosUser);
  if (mapping.kind === 'workos-only') mapping = await createLinkedUser(deps, workosUser);
  if (mapping.kind === 'refused') {
    logger.warn(
      { workosUserId: workosUser.id, localUserId: mapping.localUserId, reason: mapping.reason },
      'workos-migrate: an AuthKit sign-in maps to no local user it is linked to; refused',
    );
    // The links disagree, or external_id is missing: re-read the WorkOS user rather than trust the
    // last-synced values (the verifying sync also sets a missing external_id).
    if (
      (mapping.reason === 'identity-mismatch' || mapping.reason === 'pending-sync') &&
      mapping.localUserId !== null
    )
      await requeueForVerification(db, mapping.localUserId, false);
    return refuseSession(mapping.reason, mapping.localUserId);
  }
  if (mapping.kind === 'workos-only') return refuseSession('unknown-workos-user', null);
  let sessionFor = workosUser;
  const local = mapping.local;
  if (local.disabled) return refuseSession('disabled', local.id);
  if (mapping.kind === 'created') {
    // The row did not exist before this sign-in, so no legacy credential can be newer than WorkOS's.
    try {
      sessionFor = await workos.userManagement.updateUser({
        userId: workosUser.id,
        externalId: `${config.externalIdPrefix}${local.id}`,
      });
    } catch (error) {
      const failure = classifyWorkosError(error);
      logger.warn(
        { userId: local.id, kind: failure.kind, code: failure.code },
        'workos-migrate: setting external_id on a new WorkOS-only user failed; the worker sets it',
      );
    }
  } else {
    const user = { userId: local.id, email: local.email ?? workosUser.email };
    // The kill switch stops every sign-in through WorkOS. The rollout itself only routes: a user
    // outside it who signs in at WorkOS with current credentials is who they say (and a user created
    // by onWorkosOnlyUser has no legacy credential to be sent back to).
    const stopped = flags.rolloutFor(user) === 'kill-switch';
    // WorkOS does not always say how the user signed in: unknown counts as a password.
    const byPassword =
      answer.authenticationMethod === undefined || answer.authenticationMethod === 'Password';
    const decision = stopped
      ? { target: 'legacy' as const, reason: 'kill-switch' as const }
      : byPassword
        ? await decideCredentials(config, user)
        : null;
    // A social sign-in does not use the password, but the provider reached this WorkOS user by the
    // email WorkOS holds: while that is not the local email (a change not mirrored yet, or one made in
    // WorkOS), whoever controls the old address is not known to be this user.
    const emailDiffers =
      decision === null && normaliseEmail(local.email ?? '') !== normaliseEmail(workosUser.email);
    if (emailDiffers) {
      logger.warn(
        { userId: local.id, method: answer.authenticationMethod ?? null },
        'workos-migrate: an AuthKit social sign-in for a user whose email WorkOS does not hold yet; refused',
      );
      await requeueForVerification(db, local.id, false);
      return refuseSession('pending-sync', local.id);
    }
    if (decision?.target === 'legacy') {
      logger.warn(
        { userId: local.id, reason: decision.reason, method: answer.authenticationMethod ?? null },
        'workos-migrate: an AuthKit sign-in whose credentials WorkOS may hold stale, or during the kill switch; refused',
      );
      return refuseSession(decision.reason as LegacyReason, local.id);
    }
    await db.execute(
      sql`UPDATE workos_migrate.sync_state SET workos_signed_in_at = now()
          WHERE user_id = ${local.id} AND workos_signed_in_at IS NULL`,
    );
  }
  return {
    ok: true,
    reason: 'authenticated',
    localUserId: local.id,
    workosUser: sessionFor,
    accessToken: answer.accessToken,
    refreshToken: answer.refreshToken,
    authenticationMethod: answer.authenticationMethod,
    ...(answer.organizationId ? { organizationId: answer.organizationId } : {}),
    ...(answer.sealedSession ? { sealedSession: answer.sealedSession } : {}),
    ...(mapping.kind === 'created' ? { created: true as const } : {}),
    ...(pending.appState !== undefined ? { appState: pending.appState } : {}),
  };
}
